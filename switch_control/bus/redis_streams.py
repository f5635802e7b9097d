"""Redis Streams ``Bus``: XADD / XREADGROUP / XACK, XAUTOCLAIM for entries a dead
consumer held, a dead-letter stream, and a ledger of command ids (SET with TTL)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from .base import DEAD_LETTER_STREAM, Delivery, LedgerState

logger = logging.getLogger(__name__)

FIELD = b"m"
LEDGER_PREFIX = "callctl:ledger:"
LEDGER_TTL = 24 * 3600


# Streams are trimmed behind their slowest consumer group (``trim_consumed``); this cap
# only bounds Redis's memory when a group stops consuming altogether.
HARD_MAXLEN = 5_000_000


# One command for a whole batch of entries: per entry, an XADD in a pipeline still cost
# the publisher a command to pack and a reply to read (~a third of the controller's CPU
# on the event path, bench/bench_event_path.py). Every payload stays its own entry, in
# order, with field ``m``, exactly as separate XADDs would write them.
_XADD_MANY = """
for i = 2, #ARGV do
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'm', ARGV[i])
end
return #ARGV - 1
"""


def xadd_many(pipe: Any, stream: str, payloads: Sequence[bytes], maxlen: int = HARD_MAXLEN) -> None:
    """Queue on the pipeline ``pipe`` one EVAL that appends each payload to
    ``stream`` as its own entry; the reply is how many were added. (EVAL rather than
    EVALSHA: Redis keeps the compiled script by its hash, and a restarted Redis needs no
    reloading.)"""
    pipe.eval(_XADD_MANY, 1, stream, maxlen, *payloads)


def _id(entry_id: bytes | str) -> tuple[int, int]:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


async def trim_consumed(
    redis: aioredis.Redis, stream: str, *, keep_s: float = 900.0, approximate: bool = True
) -> int:
    """Drop the entries every consumer group of ``stream`` has acknowledged.

    An entry may go when, in each group, it was delivered (up to the group's
    last-delivered id) and is no longer pending. A stream without groups is left alone
    (whoever will read it has not started yet): only ``HARD_MAXLEN`` bounds it. With a
    MAXLEN alone, a projector that is down long enough would find the events it had not
    projected trimmed away: CDRs lost. The last ``keep_s`` seconds stay in any case (a
    short history for tools that read the stream with XRANGE). Returns how many entries
    were removed."""
    try:
        groups = await redis.xinfo_groups(stream)
    except ResponseError:  # no such stream yet
        return 0
    if not groups:
        return 0
    safe: list[tuple[int, int]] = []
    for group in groups:
        last_ms, last_seq = _id(group["last-delivered-id"])
        if int(group["pending"]):
            summary = await redis.xpending(stream, group["name"])
            safe.append(_id(summary["min"]))
        else:
            safe.append((last_ms, last_seq + 1))
    if keep_s > 0:
        now_s, now_us = await redis.time()
        safe.append((int(now_s) * 1000 + int(now_us) // 1000 - int(keep_s * 1000), 0))
    ms, seq = min(safe)
    if (ms, seq) <= (0, 1):
        return 0
    return int(await redis.xtrim(stream, minid=f"{ms}-{seq}", approximate=approximate))


class RedisBus:
    def __init__(
        self,
        client: aioredis.Redis,
        *,
        maxlen: int = HARD_MAXLEN,
        claim_idle_ms: int = 60_000,
    ) -> None:
        self.redis = client
        self.maxlen = maxlen
        self.claim_idle_ms = claim_idle_ms
        self._groups: set[tuple[str, str]] = set()
        self._backlog_done: set[tuple[str, str, str]] = set()
        self._backlog_cursor: dict[tuple[str, str, str], str] = {}

    @classmethod
    def from_url(cls, url: str, **kw: Any) -> RedisBus:
        return cls(aioredis.Redis.from_url(url, decode_responses=False), **kw)

    async def publish(self, stream: str, payload: bytes) -> str:
        entry = await self.redis.xadd(
            stream, {FIELD: payload}, maxlen=self.maxlen, approximate=True
        )
        return entry.decode() if isinstance(entry, bytes) else str(entry)

    async def ensure_group(self, stream: str, group: str) -> None:
        if (stream, group) in self._groups:
            return
        try:
            await self.redis.xgroup_create(stream, group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._groups.add((stream, group))

    async def read(
        self, stream: str, group: str, consumer: str, count: int = 100, block_ms: int = 1000
    ) -> list[Delivery]:
        await self.ensure_group(stream, group)
        key = (stream, group, consumer)
        if key not in self._backlog_done:
            # our own unacked entries first (we were killed mid-handling), then entries
            # that another, dead consumer of the group held for too long. The backlog is
            # paged by id: a consumer that handles entries concurrently still has the
            # first page unacked when it asks for the next
            cursor = self._backlog_cursor.get(key, "0")
            own = await self._read(stream, group, consumer, cursor, count, None)
            if own:
                self._backlog_cursor[key] = own[-1][0]
                return await self._with_counts(stream, group, consumer, own)
            claimed = await self._autoclaim(stream, group, consumer, count)
            if claimed:
                return claimed
            self._backlog_done.add(key)
        # BLOCK 0 means "forever" to Redis; 0 here means "don't wait", as in MemoryBus
        new = await self._read(stream, group, consumer, ">", count, block_ms or None)
        return [Delivery(stream, group, eid, payload, 1) for eid, payload in new]

    async def _read(
        self, stream: str, group: str, consumer: str, start: str, count: int, block: int | None
    ) -> list[tuple[str, bytes]]:
        resp: Any = await self.redis.xreadgroup(
            group, consumer, {stream: start}, count=count, block=block
        )
        out: list[tuple[str, bytes]] = []
        for _name, entries in resp or []:
            for eid, fields in entries:
                payload = (fields or {}).get(FIELD, b"")
                out.append((eid.decode() if isinstance(eid, bytes) else eid, payload))
        return out

    async def _with_counts(
        self, stream: str, group: str, consumer: str, entries: list[tuple[str, bytes]]
    ) -> list[Delivery]:
        counts: dict[str, int] = {}
        info: Any = await self.redis.xpending_range(
            stream,
            group,
            min=entries[0][0],
            max=entries[-1][0],
            count=len(entries),
            consumername=consumer,
        )
        for row in info:
            mid = row["message_id"]
            counts[mid.decode() if isinstance(mid, bytes) else mid] = int(row["times_delivered"])
        return [Delivery(stream, group, eid, p, counts.get(eid, 2)) for eid, p in entries]

    async def _autoclaim(
        self, stream: str, group: str, consumer: str, count: int
    ) -> list[Delivery]:
        resp = await self.redis.xautoclaim(
            stream, group, consumer, min_idle_time=self.claim_idle_ms, start_id="0-0", count=count
        )
        entries = resp[1] if resp else []
        pairs = []
        for eid, fields in entries:
            if fields is None:  # deleted by trimming
                continue
            pairs.append((eid.decode() if isinstance(eid, bytes) else eid, fields.get(FIELD, b"")))
        if not pairs:
            return []
        logger.warning("claimed %d idle entries of %s/%s", len(pairs), stream, group)
        return await self._with_counts(stream, group, consumer, pairs)

    async def ack(self, delivery: Delivery, ledger_key: str = "") -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            if ledger_key:
                pipe.set(LEDGER_PREFIX + ledger_key, LedgerState.DONE.value, ex=LEDGER_TTL)
            pipe.xack(delivery.stream, delivery.group, delivery.entry_id)
            await pipe.execute()

    async def ack_many(self, deliveries: list[Delivery]) -> None:
        by_stream: dict[tuple[str, str], list[str]] = {}
        for d in deliveries:
            by_stream.setdefault((d.stream, d.group), []).append(d.entry_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            for (stream, group), ids in by_stream.items():
                pipe.xack(stream, group, *ids)
            await pipe.execute()

    async def dead_letter(self, delivery: Delivery, reason: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xadd(
                DEAD_LETTER_STREAM,
                {
                    b"stream": delivery.stream,
                    b"group": delivery.group,
                    b"entry_id": delivery.entry_id,
                    b"reason": reason[:2000],
                    FIELD: delivery.payload,
                },
                maxlen=100_000,
                approximate=True,
            )
            pipe.xack(delivery.stream, delivery.group, delivery.entry_id)
            await pipe.execute()

    async def ledger_get(self, key: str) -> LedgerState | None:
        v = await self.redis.get(LEDGER_PREFIX + key)
        if v is None:
            return None
        return LedgerState(v.decode() if isinstance(v, bytes) else v)

    async def ledger_set(self, key: str, state: LedgerState) -> None:
        await self.redis.set(LEDGER_PREFIX + key, state.value, ex=LEDGER_TTL)

    async def pending_count(self, stream: str, group: str) -> int:
        try:
            info = await self.redis.xpending(stream, group)
        except ResponseError:
            return 0
        return int(info["pending"])

    async def length(self, stream: str) -> int:
        return int(await self.redis.xlen(stream))

    async def close(self) -> None:
        await self.redis.aclose()
