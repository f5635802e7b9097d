"""Durable timers (issue 13, DESIGN.md "State that must survive"; ACD-5, ACD-6, ACD-7):
ring timeouts, wrap-up ends, periodic announcements, overflow deadlines, reservation
expiry — kept in Redis so that a restarted controller fires them on time, and one that was
down fires at once on start what fell due meanwhile.

Per controller (``callctl:ctl:<name>:timers:``): a sorted set ``due`` (timer id -> due
time, epoch seconds from the ``Clock``), a hash ``data`` (timer id -> its kind and data)
and a sorted set ``firing`` (taken, handler not finished yet). Taking due timers is one
Lua script: a timer is handed out once even if two ticks race. It is forgotten only once
its handler returned; a controller killed in between fires it again on start (at least
once across a crash, exactly once otherwise: handlers check the state they act on, as
every command handler does). Cancel by id; scheduling an id again moves it.

Handlers are registered by kind (``on``) by the feature that schedules them (the ACD
runtime). A handler that raises is logged; the timer is not retried (it would fire in a
loop), nor does it stop the others.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import redis.asyncio as aioredis

from .clock import Clock, SystemClock

logger = logging.getLogger(__name__)

# KEYS: due, firing, data; ARGV: now, limit -> [id, due, payload, id, due, payload, ...]
_TAKE = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
local out = {}
for _, id in ipairs(ids) do
  local due = redis.call('ZSCORE', KEYS[1], id)
  redis.call('ZREM', KEYS[1], id)
  redis.call('ZADD', KEYS[2], due, id)
  out[#out + 1] = id
  out[#out + 1] = due
  out[#out + 1] = redis.call('HGET', KEYS[3], id) or ''
end
return out
"""

# KEYS: due, firing, data; ARGV: id. A handler that scheduled its own id again (the next
# announcement) keeps the new payload.
_DONE = """
redis.call('ZREM', KEYS[2], ARGV[1])
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('HDEL', KEYS[3], ARGV[1])
end
return 1
"""

# KEYS: due, firing: timers taken by a process that died before they were done are due
_RECOVER = """
local taken = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
for i = 1, #taken, 2 do
  redis.call('ZADD', KEYS[1], 'NX', taken[i + 1], taken[i])
end
redis.call('DEL', KEYS[2])
return #taken / 2
"""


@dataclass(frozen=True, slots=True)
class Timer:
    id: str
    kind: str
    due: float
    data: dict[str, Any] = field(default_factory=dict)


TimerHandler = Callable[[Timer], Awaitable[None]]


def timer_keys(controller: str) -> tuple[str, str, str]:
    base = f"callctl:ctl:{controller}:timers:"
    return base + "due", base + "firing", base + "data"


class Timers:
    def __init__(
        self,
        redis: aioredis.Redis,
        controller: str,
        clock: Clock | None = None,
        *,
        poll_s: float = 1.0,
        batch: int = 200,
    ) -> None:
        self.redis = redis
        self.clock: Clock = clock or SystemClock()
        self.due_key, self.firing_key, self.data_key = timer_keys(controller)
        self.poll_s = poll_s  # also notices timers another process put in our set
        self.batch = batch
        self.fired = 0
        self._handlers: dict[str, TimerHandler] = {}
        self._wakeup = asyncio.Event()

    def on(self, kind: str, handler: TimerHandler) -> None:
        if kind in self._handlers:
            raise ValueError(f"timers of kind {kind!r} already have a handler")
        self._handlers[kind] = handler

    async def schedule(
        self, timer_id: str, kind: str, due: float, data: dict[str, Any] | None = None
    ) -> None:
        """Fire ``kind``'s handler at ``due`` (epoch seconds); an id scheduled again moves."""
        if not timer_id or not kind:
            raise ValueError("a timer needs an id and a kind")
        payload = orjson.dumps({"kind": kind, "data": data or {}})
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self.data_key, timer_id, payload)
            pipe.zadd(self.due_key, {timer_id: due})
            await pipe.execute()
        self._wakeup.set()

    async def schedule_in(
        self, timer_id: str, kind: str, seconds: float, data: dict[str, Any] | None = None
    ) -> float:
        due = self.clock.now() + seconds
        await self.schedule(timer_id, kind, due, data)
        return due

    async def cancel(self, timer_id: str) -> bool:
        """Forget a timer; True if it was scheduled (not fired yet)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zrem(self.due_key, timer_id)
            pipe.zrem(self.firing_key, timer_id)
            pipe.hdel(self.data_key, timer_id)
            removed, _, _ = await pipe.execute()
        return bool(removed)

    async def due_at(self, timer_id: str) -> float | None:
        score = await self.redis.zscore(self.due_key, timer_id)
        return None if score is None else float(score)

    async def pending(self) -> int:
        return int(await self.redis.zcard(self.due_key))

    async def recover(self) -> int:
        """On start: timers a previous process took but did not finish are due again."""
        n = int(await self.redis.eval(_RECOVER, 2, self.due_key, self.firing_key))
        if n:
            logger.warning("%d timers were firing when the last process stopped: due now", n)
        return n

    async def fire_due(self) -> int:
        """Take every timer due now and run its handler; returns how many fired."""
        raw: list[Any] = await self.redis.eval(
            _TAKE, 3, self.due_key, self.firing_key, self.data_key, self.clock.now(), self.batch
        )
        fired = 0
        for i in range(0, len(raw), 3):
            timer_id = _text(raw[i])
            await self._fire(timer_id, float(raw[i + 1]), raw[i + 2])
            await self.redis.eval(_DONE, 3, self.due_key, self.firing_key, self.data_key, timer_id)
            fired += 1
        self.fired += fired
        return fired

    async def _fire(self, timer_id: str, due: float, payload: bytes | str) -> None:
        try:
            spec = orjson.loads(payload) if payload else {}
            kind = str(spec.get("kind", ""))
            timer = Timer(timer_id, kind, due, dict(spec.get("data") or {}))
        except (orjson.JSONDecodeError, AttributeError, TypeError):
            logger.error("timer %s has an unreadable payload %r; dropped", timer_id, payload)
            return
        handler = self._handlers.get(kind)
        if handler is None:
            logger.error("timer %s of kind %r: no handler in this controller", timer_id, kind)
            return
        try:
            await handler(timer)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("timer %s (%s) handler failed", timer_id, kind)

    async def run(self) -> None:
        """Fire timers as they fall due, for ever (a supervised task of the controller)."""
        await self.recover()
        while True:
            self._wakeup.clear()  # before looking: a schedule() from now on wakes us
            if await self.fire_due() >= self.batch:
                continue
            nxt = await self.redis.zrange(self.due_key, 0, 0, withscores=True)
            timeout = self.poll_s
            if nxt:
                timeout = min(timeout, max(0.0, float(nxt[0][1]) - self.clock.now()))
            await self.clock.wait(self._wakeup, timeout)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
