"""Callers waiting in queues: one sorted set per queue in ACD-2 order (VIP, priority,
enqueue time — see ``keys.waiting_score``), an entry hash per call naming its owner."""

from __future__ import annotations

from . import keys
from ._base import DONE, ScriptHost, as_dict, pairs, refusal, text, waiting_call
from .types import WaitingCall, check_id, check_time


class WaitingOps(ScriptHost):
    """The waiting-call half of the live ACD store (mixed into ``LiveStore``)."""

    async def enqueue(
        self,
        call_id: str,
        queue_id: str,
        controller: str,
        now: float,
        *,
        vip: bool = False,
        priority: int = 0,
        enqueued_at: float | None = None,
    ) -> int:
        """Put ``call_id`` (owned by ``controller``) in line; its position (1 = next).

        ``enqueued_at`` (default ``now``) lets a call moved from another queue keep its
        original wait. CallAlreadyWaiting if the call waits somewhere already."""
        check_id("call", call_id)
        check_id("queue", queue_id)
        check_id("controller", controller)
        at = (
            check_time("now", now)
            if enqueued_at is None
            else check_time("enqueued_at", enqueued_at)
        )
        score = keys.waiting_score(vip, priority, at)
        args = [call_id, queue_id, controller, int(bool(vip)), priority, at, score]
        reply = await self.run("ENQUEUE", [keys.call(call_id), keys.queue_waiting(queue_id)], args)
        if int(reply[0]) != DONE:
            raise refusal(reply, "enqueue", call_id)
        return int(reply[1])

    async def dequeue(self, call_id: str) -> WaitingCall:
        """Take the call out of line (abandoned, overflowed, sent elsewhere) and return
        its entry — ``waited(now)`` is the abandon's wait time. UnknownCall if it is not
        waiting. (An answered call leaves its queue in ``confirm``.)"""
        check_id("call", call_id)
        reply = await self.run("DEQUEUE", [keys.call(call_id)], [call_id])
        if int(reply[0]) != DONE:
            raise refusal(reply, "dequeue", call_id)
        return waiting_call(call_id, pairs(reply[1]))

    async def position(self, call_id: str) -> tuple[int, int] | None:
        """(position, callers waiting in that queue) for an announcement (ACD-5);
        None if the call is not waiting."""
        check_id("call", call_id)
        reply = await self.run("POSITION", [keys.call(call_id)], [call_id])
        if int(reply[0]) != DONE:
            return None
        return int(reply[1]), int(reply[2])

    async def waiting_call(self, call_id: str) -> WaitingCall | None:
        h = as_dict(await self.redis.hgetall(keys.call(check_id("call", call_id))))
        return waiting_call(call_id, h) if h else None

    async def waiting(self, queue_id: str, limit: int = 50) -> list[WaitingCall]:
        """The first ``limit`` callers of ``queue_id``, next first (AG-5, SV-1)."""
        if limit < 1:
            raise ValueError("limit must be >= 1")
        ids = [
            text(m)
            for m in await self.redis.zrange(
                keys.queue_waiting(check_id("queue", queue_id)), 0, limit - 1
            )
        ]
        async with self.redis.pipeline(transaction=False) as pipe:
            for c in ids:
                pipe.hgetall(keys.call(c))
            replies = await pipe.execute()
        out = []
        for c, reply in zip(ids, replies, strict=True):
            h = as_dict(reply)
            if h:  # gone between the two reads: answered or abandoned meanwhile
                out.append(waiting_call(c, h))
        return out

    async def waiting_count(self, queue_id: str) -> int:
        return int(await self.redis.zcard(keys.queue_waiting(check_id("queue", queue_id))))

    async def calls_of(self, controller: str) -> list[str]:
        """Ids of the waiting calls ``controller`` owns (what it restores on restart)."""
        members = await self.redis.smembers(
            keys.controller_calls(check_id("controller", controller))
        )
        return sorted(text(m) for m in members)
