"""Live call state in Redis, namespaced per controller (issue 13 part 0.4, ADM-4, SW-4).

Keys (``<name>`` is ``CONTROLLER_NAME``):

- ``callctl:ctl:<name>:call:<call id>`` the call's ``CallState`` (JSON), and the set
  ``callctl:ctl:<name>:calls`` of its live calls: what a restarted controller of that
  name restores and reconciles, and nothing of another controller's;
- ``callctl:leg:<leg id>`` -> the controller that holds the leg (set when the leg is
  offered, deleted when it ends, with a TTL as a safety net): where the web sends a
  command for that leg (``controller_for_leg``, ``command_stream``);
- ``callctl:commands:<name>``: that controller's own command stream. It still reads the
  shared ``callctl:commands`` too, for publishers that do not route yet.

Migration: before namespacing, every controller wrote ``callctl:call:<id>`` and the set
``callctl:calls``. The first controller to start with those keys adopts them, once
(``RENAME`` of the set is atomic: two controllers starting together cannot both adopt).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from .bus import COMMANDS_STREAM

logger = logging.getLogger(__name__)

LEGACY_CALL_PREFIX = "callctl:call:"
LEGACY_LIVE_CALLS = "callctl:calls"
LEG_OWNER_PREFIX = "callctl:leg:"
LEG_OWNER_TTL_S = 24 * 3600  # no call lasts a day; a leg whose end we missed expires


def call_prefix(controller: str) -> str:
    return f"callctl:ctl:{controller}:call:"


def live_calls_key(controller: str) -> str:
    return f"callctl:ctl:{controller}:calls"


def command_stream(controller: str | None) -> str:
    """The stream a command for ``controller`` goes to (the shared one for None)."""
    return f"{COMMANDS_STREAM}:{controller}" if controller else COMMANDS_STREAM


def leg_owner_key(leg_id: str) -> str:
    return LEG_OWNER_PREFIX + leg_id


def command_leg(cmd: object) -> str:
    """The leg a command acts on ("" if none): what routes it to a controller."""
    for name in ("leg_id", "agent_leg_id", "ringing_leg_id"):
        leg = getattr(cmd, name, "")
        if isinstance(leg, str) and leg:
            return leg
    legs = getattr(cmd, "leg_ids", ())
    return legs[0] if legs and isinstance(legs[0], str) else ""


async def controller_for_leg(redis: aioredis.Redis, leg_id: str) -> str | None:
    """The controller that holds ``leg_id``, or None (unknown, or ended)."""
    raw = await redis.get(leg_owner_key(leg_id))
    return _text(raw) if raw else None


# One command per publisher batch for every leg offered and every leg ended in it (a SET
# per leg in the pipeline would cost a command to pack and a reply to read each).
# ARGV: ttl, controller, n offered, offered legs..., ended legs...
_LEG_OWNERS = """
local n = tonumber(ARGV[3])
for i = 4, 3 + n do
  redis.call('SET', 'callctl:leg:' .. ARGV[i], ARGV[2], 'EX', ARGV[1])
end
for i = 4 + n, #ARGV do
  redis.call('DEL', 'callctl:leg:' .. ARGV[i])
end
return #ARGV - 3
"""


def queue_leg_owners(
    pipe: Any, controller: str, offered: Iterable[str], ended: Iterable[str]
) -> None:
    """Queue on ``pipe`` the leg -> controller writes of one batch (nothing if none)."""
    up, down = list(offered), list(ended)
    if up or down:
        pipe.eval(_LEG_OWNERS, 0, LEG_OWNER_TTL_S, controller, len(up), *up, *down)


async def adopt_legacy_calls(redis: aioredis.Redis, controller: str) -> int:
    """Move un-namespaced live calls (written before issue 13) into ``controller``'s
    namespace, once; returns how many were adopted."""
    taken = f"{LEGACY_LIVE_CALLS}:adopted-by:{controller}"
    try:
        await redis.rename(LEGACY_LIVE_CALLS, taken)
    except ResponseError:  # no such key: nothing to adopt (or another controller did)
        taken_before = await redis.exists(taken)
        if not taken_before:
            return 0
    ids = [_text(x) for x in await redis.smembers(taken)]
    prefix = call_prefix(controller)
    adopted = 0
    if ids:
        states = await redis.mget([LEGACY_CALL_PREFIX + i for i in ids])
        found = {i: s for i, s in zip(ids, states, strict=True) if s}
        async with redis.pipeline(transaction=True) as pipe:
            if found:
                pipe.mset({prefix + i: s for i, s in found.items()})
                pipe.sadd(live_calls_key(controller), *found)
            pipe.delete(*(LEGACY_CALL_PREFIX + i for i in ids))
            await pipe.execute()
        adopted = len(found)
    await redis.delete(taken)
    logger.warning(
        "adopted %d live calls from un-namespaced keys (%s) into controller %s",
        adopted,
        LEGACY_LIVE_CALLS,
        controller,
    )
    return adopted


async def load_calls(redis: aioredis.Redis, controller: str) -> list[bytes]:
    """The stored states of ``controller``'s live calls (after adopting legacy keys)."""
    await adopt_legacy_calls(redis, controller)
    ids = await redis.smembers(live_calls_key(controller))
    if not ids:
        return []
    prefix = call_prefix(controller)
    raws = await redis.mget([prefix + _text(i) for i in ids])
    return [r if isinstance(r, bytes) else r.encode() for r in raws if r]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
