"""Roles are Django groups (ADM-1). Permissions are checked server-side per role."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"  # 班长
    TEAM_LEADER = "team_leader"  # 组长
    AGENT = "agent"  # 坐席
    QUALITY_INSPECTOR = "quality_inspector"  # 质检


ROLE_LABELS = {
    Role.ADMIN: "管理员 / Admin",
    Role.SUPERVISOR: "班长 / Supervisor",
    Role.TEAM_LEADER: "组长 / Team leader",
    Role.AGENT: "坐席 / Agent",
    Role.QUALITY_INSPECTOR: "质检员 / Quality inspector",
}

# model permissions (app_label.codename) each role gets on top of its group membership
ROLE_PERMISSIONS: dict[Role, tuple[str, ...]] = {
    Role.ADMIN: ("*",),
    Role.SUPERVISOR: (
        "reports.view_call",
        "reports.view_callleg",
        "acd.view_agentprofile",
        "acd.view_agentstatelog",
        "acd.view_team",
        "core.view_status",
    ),
    Role.TEAM_LEADER: (
        "reports.view_call",
        "reports.view_callleg",
        "acd.view_agentprofile",
        "acd.view_agentstatelog",
        "acd.view_team",
    ),
    Role.QUALITY_INSPECTOR: ("reports.view_call", "reports.view_callleg"),
    Role.AGENT: (),
}


def has_role(user: object, *roles: Role) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    if getattr(user, "is_superuser", False):
        return True
    names = {g.name for g in user.groups.all()}  # type: ignore[attr-defined]
    return any(r.value in names for r in roles)
