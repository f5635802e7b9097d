"""In-memory ``Bus`` for unit tests of one layer (same semantics as Redis Streams)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field

from .base import DEAD_LETTER_STREAM, Delivery, LedgerState


@dataclass
class _Group:
    last: int = -1  # index of the last entry handed out as "new"
    pending: dict[int, tuple[str, int]] = field(default_factory=dict)  # idx -> (consumer, n)


class MemoryBus:
    def __init__(self) -> None:
        self.streams: dict[str, list[bytes]] = defaultdict(list)
        self.dead: list[tuple[str, str, bytes]] = []  # (stream, reason, payload)
        self._groups: dict[tuple[str, str], _Group] = {}
        self._ledger: dict[str, LedgerState] = {}
        self._changed = asyncio.Condition()
        # as RedisBus: a consumer's own pending entries are re-read until a read finds
        # none (its backlog after a restart); after that it gets new entries only
        self._backlog_done: set[tuple[str, str, str]] = set()
        self._backlog_cursor: dict[tuple[str, str, str], int] = {}

    async def publish(self, stream: str, payload: bytes) -> str:
        async with self._changed:
            self.streams[stream].append(payload)
            self._changed.notify_all()
        return f"{len(self.streams[stream]) - 1}-0"

    async def ensure_group(self, stream: str, group: str) -> None:
        self._groups.setdefault((stream, group), _Group())

    async def read(
        self, stream: str, group: str, consumer: str, count: int = 100, block_ms: int = 1000
    ) -> list[Delivery]:
        g = self._groups.setdefault((stream, group), _Group())
        out: list[Delivery] = []
        key = (stream, group, consumer)
        if key not in self._backlog_done:
            after = self._backlog_cursor.get(key, -1)  # paged by id, as RedisBus
            for idx, (owner, n) in sorted(g.pending.items()):
                if owner == consumer and idx > after and len(out) < count:
                    g.pending[idx] = (owner, n + 1)
                    out.append(
                        Delivery(stream, group, f"{idx}-0", self.streams[stream][idx], n + 1)
                    )
            if out:
                self._backlog_cursor[key] = int(out[-1].entry_id.split("-")[0])
                return out
            self._backlog_done.add(key)
        entries = self.streams[stream]
        if g.last + 1 >= len(entries) and block_ms > 0:
            async with self._changed:
                try:
                    await asyncio.wait_for(
                        self._changed.wait_for(lambda: g.last + 1 < len(self.streams[stream])),
                        block_ms / 1000,
                    )
                except TimeoutError:
                    return []
        while g.last + 1 < len(entries) and len(out) < count:
            g.last += 1
            g.pending[g.last] = (consumer, 1)
            out.append(Delivery(stream, group, f"{g.last}-0", entries[g.last], 1))
        return out

    def forget_consumer(self, stream: str, group: str, consumer: str) -> None:
        """The process of this consumer restarted: it re-reads its pending entries first
        (RedisBus gets the same from being a new instance)."""
        self._backlog_done.discard((stream, group, consumer))
        self._backlog_cursor.pop((stream, group, consumer), None)

    async def ack(self, delivery: Delivery, ledger_key: str = "") -> None:
        g = self._groups.setdefault((delivery.stream, delivery.group), _Group())
        g.pending.pop(int(delivery.entry_id.split("-")[0]), None)
        if ledger_key:
            self._ledger[ledger_key] = LedgerState.DONE

    async def ack_many(self, deliveries: list[Delivery]) -> None:
        for d in deliveries:
            await self.ack(d)

    async def dead_letter(self, delivery: Delivery, reason: str) -> None:
        self.dead.append((delivery.stream, reason, delivery.payload))
        self.streams[DEAD_LETTER_STREAM].append(delivery.payload)
        await self.ack(delivery)

    async def ledger_get(self, key: str) -> LedgerState | None:
        return self._ledger.get(key)

    async def ledger_set(self, key: str, state: LedgerState) -> None:
        self._ledger[key] = state

    async def pending_count(self, stream: str, group: str) -> int:
        g = self._groups.get((stream, group))
        return len(g.pending) if g else 0

    async def length(self, stream: str) -> int:
        return len(self.streams[stream])

    async def close(self) -> None:
        return None
