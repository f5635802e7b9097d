"""The script host every part of the store shares, and the parsing of script replies."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript

from . import keys, queue_scripts, scripts
from .types import (
    AgentNotAvailable,
    AgentSnapshot,
    AgentState,
    CallAlreadyWaiting,
    InvalidTransition,
    LiveStateError,
    Transition,
    UnknownAgent,
    UnknownCall,
    WaitingCall,
    WrongCall,
)

_SOURCES = {
    name: getattr(module, name)
    for module, names in (
        (
            scripts,
            (
                "LOGIN",
                "LOGOUT",
                "SET_STATE",
                "SIGN",
                "RESERVE",
                "RESERVE_FIRST",
                "RELEASE",
                "CONFIRM",
                "END_CALL",
                "EXPIRE",
                "END_WRAP_UPS",
            ),
        ),
        (queue_scripts, ("ENQUEUE", "DEQUEUE", "POSITION", "RECOVER")),
    )
    for name in names
}

DONE, REFUSED, NOTHING = 1, 0, 2


def text(value: Any) -> str:
    """A reply item as str, whether the client decodes responses or not."""
    if isinstance(value, bytes):
        return value.decode()
    return str(value)


def pairs(flat: Sequence[Any]) -> dict[str, str]:
    """A flat HGETALL-style reply ``[f1, v1, f2, v2, ...]`` as a dict."""
    return {text(flat[i]): text(flat[i + 1]) for i in range(0, len(flat) - 1, 2)}


def as_dict(reply: Any) -> dict[str, str]:
    """An HGETALL reply (a dict from redis-py, a flat list from a script) as str -> str."""
    if isinstance(reply, dict):
        return {text(k): text(v) for k, v in reply.items()}
    return pairs(reply)


def snapshot(agent_id: str, h: dict[str, str]) -> AgentSnapshot:
    until = h.get("until")
    return AgentSnapshot(
        agent_id=agent_id,
        state=AgentState(h.get("state", AgentState.LOGGED_OUT)),
        reason=h.get("reason", ""),
        since=float(h.get("since", 0)),
        idle_since=float(h.get("idle", 0)),
        queues=tuple(h.get("queues", "").split()),
        call_id=h.get("call") or None,
        controller=h.get("ctl") or None,
        until=float(until) if until else None,
        calls_today=int(h.get("calls", 0)),
        talk_today_s=float(h.get("talk", 0)),
        missed_in_row=int(h.get("missed", 0)),
        day=int(h.get("day", 0)),
    )


def transition(reply: Sequence[Any]) -> Transition:
    """``{1, id, action, prev_state, prev_reason, prev_since, prev_queues, HGETALL}``."""
    agent_id = text(reply[1])
    return Transition(
        action=text(reply[2]),
        previous_state=AgentState(text(reply[3])),
        previous_reason=text(reply[4]),
        previous_since=float(text(reply[5])),
        previous_queues=tuple(text(reply[6]).split()),
        agent=snapshot(agent_id, pairs(reply[7])),
    )


def waiting_call(call_id: str, h: dict[str, str]) -> WaitingCall:
    return WaitingCall(
        call_id=call_id,
        queue_id=h["queue"],
        controller=h["ctl"],
        vip=h.get("vip") == "1",
        priority=int(h.get("prio", 0)),
        enqueued_at=float(h["at"]),
    )


def refusal(reply: Sequence[Any], action: str, subject: str, call_id: str = "") -> LiveStateError:
    """The error for a ``{0, code, detail}`` reply."""
    code, detail = text(reply[1]), text(reply[2])
    if code == "unknown_agent":
        return UnknownAgent(subject)
    if code == "not_available":
        return AgentNotAvailable(subject, action, detail)
    if code == "invalid_transition":
        return InvalidTransition(subject, action, detail)
    if code == "wrong_call":
        return WrongCall(subject, call_id, detail)
    if code == "unknown_call":
        return UnknownCall(subject)
    if code == "already_waiting":
        return CallAlreadyWaiting(subject, detail)
    return LiveStateError(f"{action} {subject}: refused ({code} {detail})")


class ScriptHost:
    """Owns the Redis client and the scripts, registered once per store (EVALSHA; a
    Redis that lost its script cache gets SCRIPT LOAD again, transparently)."""

    def __init__(self, redis: aioredis.Redis, *, utc_offset_s: int = 8 * 3600) -> None:
        self.redis = redis
        self.utc_offset_s = utc_offset_s
        self._scripts: dict[str, AsyncScript] = {
            name: redis.register_script(scripts.PRELUDE + source)
            for name, source in _SOURCES.items()
        }

    async def load_scripts(self) -> None:
        """SCRIPT LOAD every script now (at start), so no first call pays for it."""
        for script in self._scripts.values():
            script.sha = await self.redis.script_load(script.script)

    async def run(self, name: str, key_names: Sequence[str], args: Sequence[object]) -> Any:
        return await self._scripts[name](keys=list(key_names), args=[_arg(a) for a in args])

    async def agent_op(
        self,
        name: str,
        action: str,
        agent_id: str,
        args: Sequence[object],
        *,
        call_id: str = "",
    ) -> Transition:
        """Run an agent script (KEYS = the agent's hash); its Transition, or the error."""
        reply = await self.run(name, [keys.agent(agent_id)], args)
        if int(reply[0]) != DONE:
            raise refusal(reply, action, agent_id, call_id)
        return transition(reply)


def _arg(value: object) -> str | bytes | int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str | bytes | int):
        return value
    raise TypeError(f"unsupported script argument {value!r}")
