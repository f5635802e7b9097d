"""Reads of the ACD configuration: the snapshot the controller loads (ACD-1..8, IVR-9).

The controller never reads the database: ``acd.services.publish_config`` writes this
snapshot to Redis after every configuration change, and the controller reloads it when
a notice arrives on ``acd:config:changes``.

Snapshot schema (``SCHEMA_VERSION`` 1), plain JSON; ids are database ids, times whole
seconds, numbers E.164 (``+8613800138000``)::

    {
      "schema": 1,
      "version": 7,                 # added by publish_config: INCR of acd:config:version
      "generated_at": 1795000000.0, # epoch seconds
      "queues": [{
        "id": 1, "name": "售前咨询", "department_id": 1, "enabled": true,
        "strategy": "longest_idle",   # one of acd.choices.Strategy
        "priority": 0,                # 0-100, higher first (ACD-2)
        "ring_timeout": 20, "wrap_up_time": 30, "max_wait": 300,
        "ring_all_limit": null,       # ring-all: at most this many at once (null: all)
        "sticky": {"owner_wait": 30, "last_agent_wait": 0},   # ACD-3, 0 = off
        "announce": {"position": true, "estimated_wait": true, "every": 60},
        "moh_class": "default",
        "callback": {"enabled": false, "key": "1"},
        "skills": {"普通话": 3},        # skill name -> minimum level
        "members": [{"agent_id": 1, "tier": 1, "position": 0, "self_sign_in": true}],
        "overflow": [{"condition": "no_answer",       # acd.overflow.OverflowCondition
                      "action": "next_agent",         # acd.overflow.OverflowAction
                      "after_failures": 1,            # failed offers before it applies
                      "target_queue_id": null,        # set for action "queue"
                      "external_number": ""}]         # set for action "external"
      }],
      "agents": [{"id": 1, "job_number": "1001", "extension": "1001", "name": "张伟",
                  "team_id": 1, "department_id": 1, "skills": {"普通话": 5}}],  # name -> level
      "skills": [{"id": 1, "name": "普通话"}],
      "access_numbers": [{"number": "4008001234", "enabled": true, "queue_id": 1,
                          "strategy": null,       # null: the queue's own
                          "priority": 0}],
      "vip_numbers": ["+8613800138000"],           # enabled ones only
      "owners": {"+8613800138000": 1},             # customer number -> owner agent id
      "named_numbers": {"+8613900139000": 2},      # number -> agent id (ACD-4)
      "region_rules": [{"queue_id": null,                   # null: every queue
                        "province": "广东省", "city": "深圳市",   # city "" = whole province
                        "team_id": null, "agent_id": 3,          # exactly one is set
                        "wait_seconds": 30}],                    # null: wait for them only
      "not_ready_reasons": [{"code": "break", "name": "小休", "name_en": "Break"}]
    }

The field names follow the pure engine's snapshots (``acd.engine.snapshots``: strategies,
overflow triggers and actions are the same strings). A queue without an overflow rule
for a condition gets the runtime's default (the final one, on maximum wait: voicemail).
Access numbers without a route are listed with ``queue_id: null``: the router decides
what to do with them.
"""

from __future__ import annotations

import time
from typing import Any

from django.db.models import Prefetch

from provisioning.models import AccessNumber

from .models import (
    AccessNumberRoute,
    AgentProfile,
    AgentSkill,
    CustomerOwner,
    NamedNumberRule,
    NotReadyReason,
    Queue,
    QueueMember,
    QueueSkill,
    RegionRule,
    Skill,
    VipNumber,
)

SCHEMA_VERSION = 1


def config_snapshot() -> dict[str, Any]:
    """The whole ACD configuration as plain JSON-able data (schema in the module doc)."""
    return {
        "schema": SCHEMA_VERSION,
        "generated_at": time.time(),
        "queues": [_queue(q) for q in _queues()],
        "agents": _agents(),
        "skills": [{"id": s.pk, "name": s.name} for s in Skill.objects.all()],
        "access_numbers": _access_numbers(),
        "vip_numbers": list(
            VipNumber.objects.filter(enabled=True).values_list("number", flat=True)
        ),
        "owners": dict(CustomerOwner.objects.values_list("number", "owner_id")),
        "named_numbers": dict(NamedNumberRule.objects.values_list("number", "agent_id")),
        "region_rules": list(
            RegionRule.objects.values(
                "queue_id", "province", "city", "team_id", "agent_id", "wait_seconds"
            )
        ),
        "not_ready_reasons": list(
            NotReadyReason.objects.filter(enabled=True).values("code", "name", "name_en")
        ),
    }


def _queues():  # type: ignore[no-untyped-def]
    return Queue.objects.prefetch_related(
        Prefetch("members", QueueMember.objects.order_by("tier", "position", "agent_id")),
        Prefetch("skills", QueueSkill.objects.select_related("skill")),
        "overflow_rules",
    )


def _queue(q: Queue) -> dict[str, Any]:
    return {
        "id": q.pk,
        "name": q.name,
        "department_id": q.department_id,
        "enabled": q.enabled,
        "strategy": q.strategy,
        "priority": q.priority,
        "ring_timeout": q.ring_timeout,
        "wrap_up_time": q.wrap_up_time,
        "max_wait": q.max_wait,
        "ring_all_limit": q.ring_all_limit,
        "sticky": {"owner_wait": q.owner_wait, "last_agent_wait": q.last_agent_wait},
        "announce": {
            "position": q.announce_position,
            "estimated_wait": q.announce_wait_time,
            "every": q.announce_every,
        },
        "moh_class": q.moh_class,
        "callback": {"enabled": q.callback_enabled, "key": q.callback_key},
        "skills": {s.skill.name: s.min_level for s in q.skills.all()},
        "members": [
            {
                "agent_id": m.agent_id,
                "tier": m.tier,
                "position": m.position,
                "self_sign_in": m.self_sign_in,
            }
            for m in q.members.all()
        ],
        "overflow": [
            {
                "condition": r.condition,
                "action": r.action,
                "after_failures": r.after_failures,
                "target_queue_id": r.target_queue_id,
                "external_number": r.external_number,
            }
            for r in q.overflow_rules.all()
        ],
    }


def _agents() -> list[dict[str, Any]]:
    levels: dict[int, dict[str, int]] = {}
    for agent_id, skill, level in AgentSkill.objects.values_list(
        "agent_id", "skill__name", "level"
    ):
        levels.setdefault(agent_id, {})[skill] = level
    return [
        {
            "id": a.pk,
            "job_number": a.job_number,
            "extension": a.extension,
            "name": a.display_name or a.user.get_username(),
            "team_id": a.team_id,
            "department_id": a.team.department_id if a.team else None,
            "skills": levels.get(a.pk, {}),
        }
        for a in AgentProfile.objects.select_related("user", "team")
    ]


def _access_numbers() -> list[dict[str, Any]]:
    routes = {r.access_number_id: r for r in AccessNumberRoute.objects.all()}
    out = []
    for n in AccessNumber.objects.all():
        route = routes.get(n.pk)
        out.append(
            {
                "number": n.number,
                "enabled": n.enabled,
                "queue_id": route.queue_id if route else None,
                "strategy": (route.strategy or None) if route else None,
                "priority": route.priority if route else 0,
            }
        )
    return out


def queues_without_members() -> list[Queue]:
    """Enabled queues nobody may serve: their callers can only overflow (shown as a warning)."""
    return list(Queue.objects.filter(enabled=True, members__isnull=True))
