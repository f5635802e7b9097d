"""``manage.py seed_demo``: roles, a department, a team, demo agents and an admin; two
queues with members and overflow, a VIP number and the not-ready reasons (ACD-1..7).

Passwords come from the environment (``DEMO_ADMIN_PASSWORD``, ``DEMO_AGENT_PASSWORD``)
or are generated and printed once; nothing secret is hard-coded.
"""

from __future__ import annotations

import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from acd import services as acd_services
from acd.choices import DEFAULT_NOT_READY_REASONS, Strategy
from acd.models import (
    AgentProfile,
    NotReadyReason,
    OverflowRule,
    Queue,
    QueueMember,
    Team,
    VipNumber,
)
from acd.overflow import OverflowAction, OverflowCondition
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
            seed_acd(dept)
        self.stdout.write(f"admin login:  admin / {admin_pw}")
        self.stdout.write(
            f"agents:       job numbers {', '.join(a[0] for a in DEMO_AGENTS)} / {agent_pw}"
        )


# (queue, strategy, members' job numbers in tier order)
DEMO_QUEUES = [
    ("售前咨询", Strategy.LONGEST_IDLE, ("1001", "1002")),
    ("售后服务", Strategy.ROUND_ROBIN, ("1002", "1003")),
]
DEMO_VIP = ("+8613900139000", "王总")


def seed_acd(dept: Department) -> None:
    """Demo queues, members, overflow, a VIP and the not-ready reasons; idempotent."""
    queues = {}
    for name, strategy, members in DEMO_QUEUES:
        queue, _ = Queue.objects.get_or_create(
            name=name, defaults={"department": dept, "strategy": strategy}
        )
        queues[name] = queue
        for tier, job in enumerate(members, start=1):
            member = QueueMember.objects.filter(queue=queue, agent__job_number=job).first()
            if member is None:
                member = QueueMember(queue=queue, agent=AgentProfile.objects.get(job_number=job))
                member.tier = tier
                member.full_clean()  # the department rule holds for demo data too
                member.save()
    presales, aftersales = queues["售前咨询"], queues["售后服务"]
    rules = [
        (presales, OverflowCondition.NO_ANSWER, OverflowAction.NEXT_AGENT, None),
        (presales, OverflowCondition.MAX_WAIT, OverflowAction.QUEUE, aftersales),
        (aftersales, OverflowCondition.NO_ANSWER, OverflowAction.NEXT_AGENT, None),
        (aftersales, OverflowCondition.MAX_WAIT, OverflowAction.VOICEMAIL, None),
    ]
    for queue, condition, action, target in rules:
        if not OverflowRule.objects.filter(queue=queue, condition=condition).exists():
            rule = OverflowRule(queue=queue, condition=condition, action=action)
            rule.target_queue = target
            rule.full_clean()
            rule.save()
    VipNumber.objects.get_or_create(number=DEMO_VIP[0], defaults={"name": DEMO_VIP[1]})
    for order, (code, name, name_en) in enumerate(DEFAULT_NOT_READY_REASONS):
        NotReadyReason.objects.get_or_create(
            code=code, defaults={"name": name, "name_en": name_en, "order": order}
        )
    acd_services.config_changed("seed_demo")
