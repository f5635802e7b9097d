"""The ``Bus`` protocol and what it delivers."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

COMMANDS_STREAM = "callctl:commands"
EVENTS_STREAM = "callctl:events"
DEAD_LETTER_STREAM = "callctl:dead"


class LedgerState(StrEnum):
    """Where a command is in its handling (kept ~a day, keyed by command id)."""

    STARTED = "started"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class Delivery:
    """One stream entry handed to a consumer. ``payload`` is the raw message bytes; the
    consumer decodes (so a malformed entry can still be dead-lettered with its bytes)."""

    stream: str
    group: str
    entry_id: str
    payload: bytes
    deliveries: int = 1  # how many times this entry has been delivered (1 = first time)


class Bus(Protocol):
    async def publish(self, stream: str, payload: bytes) -> str:
        """Append one message; return its entry id."""

    async def ensure_group(self, stream: str, group: str) -> None: ...

    async def read(
        self, stream: str, group: str, consumer: str, count: int = 100, block_ms: int = 1000
    ) -> list[Delivery]:
        """Entries for this consumer: first its own unacked ones (redelivery after a
        restart), then new ones, waiting up to ``block_ms`` when there are none."""

    async def ack(self, delivery: Delivery, ledger_key: str = "") -> None:
        """Acknowledge; with ``ledger_key`` also mark it DONE in the same transaction."""

    async def ack_many(self, deliveries: list[Delivery]) -> None:
        """Acknowledge several entries in one round trip."""

    async def dead_letter(self, delivery: Delivery, reason: str) -> None:
        """Copy to the dead-letter stream with the reason, then acknowledge."""

    async def ledger_get(self, key: str) -> LedgerState | None: ...

    async def ledger_set(self, key: str, state: LedgerState) -> None: ...

    async def pending_count(self, stream: str, group: str) -> int: ...

    async def length(self, stream: str) -> int: ...

    async def close(self) -> None: ...
