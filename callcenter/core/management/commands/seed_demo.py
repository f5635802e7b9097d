"""``manage.py seed_demo``: roles, a department, a team, demo agents and an admin.

Passwords come from the environment (``DEMO_ADMIN_PASSWORD``, ``DEMO_AGENT_PASSWORD``)
or are generated and printed once; nothing secret is hard-coded.
"""

from __future__ import annotations

import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from acd.models import AgentProfile, Team
from callcenter.core.models import Department
from callcenter.core.roles import Role
from callcenter.core.services import ensure_roles

DEMO_AGENTS = [
    ("1001", "1001", "张伟", Role.AGENT),
    ("1002", "1002", "王芳", Role.AGENT),
    ("1003", "1003", "李娜", Role.AGENT),
    ("2001", "2001", "刘洋 (组长)", Role.TEAM_LEADER),
    ("9001", "9001", "陈静 (班长)", Role.SUPERVISOR),
]


class Command(BaseCommand):
    help = "Create roles and demo data (idempotent). Prints the credentials it set."

    def handle(self, *args, **opts):  # type: ignore[no-untyped-def]
        User = get_user_model()
        admin_pw = os.environ.get("DEMO_ADMIN_PASSWORD") or secrets.token_urlsafe(10)
        agent_pw = os.environ.get("DEMO_AGENT_PASSWORD") or secrets.token_urlsafe(10)
        with transaction.atomic():
            groups = ensure_roles()
            dept, _ = Department.objects.get_or_create(code="CS", defaults={"name": "客服中心"})
            team, _ = Team.objects.get_or_create(department=dept, name="一组")
            admin, _ = User.objects.get_or_create(username="admin")
            admin.is_staff = admin.is_superuser = True
            admin.set_password(admin_pw)
            admin.save()
            admin.groups.add(groups[Role.ADMIN])
            for job, ext, name, role in DEMO_AGENTS:
                user, _ = User.objects.get_or_create(username=f"agent{job}")
                user.first_name = name
                user.is_staff = role in (Role.SUPERVISOR, Role.TEAM_LEADER)
                user.set_password(agent_pw)
                user.save()
                user.groups.set([groups[role]])
                AgentProfile.objects.update_or_create(
                    job_number=job,
                    defaults={"user": user, "extension": ext, "display_name": name, "team": team},
                )
                if role is Role.TEAM_LEADER:
                    team.leader = user
                    team.save()
        self.stdout.write(f"admin login:  admin / {admin_pw}")
        self.stdout.write(
            f"agents:       job numbers {', '.join(a[0] for a in DEMO_AGENTS)} / {agent_pw}"
        )
