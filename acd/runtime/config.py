"""The ACD configuration as the runtime uses it: the snapshot ``acd.selectors`` publishes to
Redis (``acd:config``, schema in that module's docstring) mapped to the engine's frozen
views (ACD-1, ACD-2, ACD-6), and the access-number router built from it.

Django-free: it reads the JSON the web wrote, never the database. A snapshot entry that
cannot be mapped (an unknown strategy, a bad timeout) is logged and left out, so one bad
queue does not keep the rest of the configuration from loading.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import orjson
import redis.asyncio as aioredis

from acd.engine import (
    OverflowAction,
    OverflowRule,
    OverflowTrigger,
    QueueMember,
    QueueView,
    StickyPolicy,
    Strategy,
)
from switch_control.engine.router import AccessNumberRouter, Route

logger = logging.getLogger(__name__)

CONFIG_KEY = "acd:config"  # acd.services.CONFIG_KEY (the runtime may not import Django)
CHANGES_STREAM = "acd:config:changes"  # acd.services.CHANGES_STREAM
SUPPORTED_SCHEMA = 1

_TRIGGERS = {t.value: t for t in OverflowTrigger}
_ACTIONS = {a.value: a for a in OverflowAction}


@dataclass(frozen=True, slots=True)
class QueueConfig:
    """One queue: the engine's view plus what only the runtime uses."""

    view: QueueView
    name: str = ""
    priority: int = 0  # ACD-2: added to the access number's priority
    wrap_up_s: float = 30.0  # ACD-7 default
    moh_class: str = "default"

    @property
    def queue_id(self) -> str:
        return self.view.queue_id


@dataclass(frozen=True, slots=True)
class AgentConfig:
    agent_id: str
    extension: str
    name: str = ""
    skills: Mapping[str, int] = field(default_factory=dict)
    teams: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class AcdConfig:
    version: int = 0
    queues: Mapping[str, QueueConfig] = field(default_factory=dict)
    agents: Mapping[str, AgentConfig] = field(default_factory=dict)
    routes: Mapping[str, Route] = field(default_factory=dict)  # access number -> queue route
    vip_numbers: frozenset[str] = frozenset()
    not_ready_reasons: frozenset[str] = frozenset()

    def router(self) -> AccessNumberRouter:
        return AccessNumberRouter(self.routes)

    def queues_of(self, agent_id: str) -> tuple[str, ...]:
        """Queues listing ``agent_id`` as a member (what he may sign into, ACD-8)."""
        return tuple(
            sorted(
                q
                for q, conf in self.queues.items()
                if any(m.agent_id == agent_id for m in conf.view.members)
            )
        )


def _seconds(value: Any, default: float) -> float:
    return default if value is None else float(value)


def parse_queue(raw: Mapping[str, Any]) -> QueueConfig:
    queue_id = str(raw["id"])
    overflow = []
    for rule in raw.get("overflow") or ():
        target = rule.get("target_queue_id")
        overflow.append(
            OverflowRule(
                trigger=_TRIGGERS[str(rule["condition"])],
                action=_ACTIONS[str(rule["action"])],
                target=str(target) if target is not None else str(rule.get("external_number", "")),
                after_failures=int(rule.get("after_failures") or 1),
            )
        )
    sticky = raw.get("sticky") or {}
    max_wait = raw.get("max_wait")
    view = QueueView(
        queue_id=queue_id,
        strategy=Strategy(str(raw.get("strategy", Strategy.LONGEST_IDLE))),
        members=tuple(
            QueueMember(str(m["agent_id"]), int(m.get("tier", 0)), int(m.get("position", 0)))
            for m in raw.get("members") or ()
        ),
        skills_wanted=MappingProxyType(dict(raw.get("skills") or {})),
        ring_timeout=_seconds(raw.get("ring_timeout"), 20.0),
        max_wait=float(max_wait) if max_wait else None,
        overflow=tuple(overflow),
        sticky=StickyPolicy(
            float(sticky.get("owner_wait") or 0), float(sticky.get("last_agent_wait") or 0)
        ),
        ring_all_limit=raw.get("ring_all_limit"),
    )
    return QueueConfig(
        view=view,
        name=str(raw.get("name", "")),
        priority=int(raw.get("priority") or 0),
        wrap_up_s=_seconds(raw.get("wrap_up_time"), 30.0),
        moh_class=str(raw.get("moh_class") or "default"),
    )


def parse_config(raw: Mapping[str, Any]) -> AcdConfig:
    """The runtime's configuration from a published snapshot (ValueError if the schema
    is not one this runtime reads)."""
    schema = raw.get("schema")
    if schema != SUPPORTED_SCHEMA:
        raise ValueError(f"ACD configuration schema {schema!r} (this runtime reads 1)")
    queues: dict[str, QueueConfig] = {}
    for q in raw.get("queues") or ():
        if not q.get("enabled", True):
            continue
        try:
            conf = parse_queue(q)
        except (KeyError, ValueError, TypeError) as exc:
            logger.error("ACD queue %s left out of the configuration: %s", q.get("id"), exc)
            continue
        queues[conf.queue_id] = conf
    agents: dict[str, AgentConfig] = {}
    for a in raw.get("agents") or ():
        agent_id = str(a["id"])
        team = a.get("team_id")
        agents[agent_id] = AgentConfig(
            agent_id=agent_id,
            extension=str(a.get("extension") or ""),
            name=str(a.get("name") or ""),
            skills=MappingProxyType(dict(a.get("skills") or {})),
            teams=frozenset({str(team)}) if team is not None else frozenset(),
        )
    routes: dict[str, Route] = {}
    for n in raw.get("access_numbers") or ():
        queue_id = n.get("queue_id")
        if not n.get("enabled", True) or queue_id is None:
            continue  # the router's default decides for it
        if str(queue_id) not in queues:
            logger.error("access number %s routes to unknown queue %s", n["number"], queue_id)
            continue
        routes[str(n["number"])] = Route.queue(str(queue_id), int(n.get("priority") or 0))
    return AcdConfig(
        version=int(raw.get("version") or 0),
        queues=MappingProxyType(queues),
        agents=MappingProxyType(agents),
        routes=MappingProxyType(routes),
        vip_numbers=frozenset(str(x) for x in raw.get("vip_numbers") or ()),
        not_ready_reasons=frozenset(str(r["code"]) for r in raw.get("not_ready_reasons") or ()),
    )


async def load_config(redis: aioredis.Redis) -> AcdConfig | None:
    """The configuration published last, None when none has been published yet."""
    raw = await redis.get(CONFIG_KEY)
    if not raw:
        return None
    return parse_config(orjson.loads(raw))
