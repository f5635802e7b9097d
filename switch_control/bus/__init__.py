"""The command/event bus between processes (DESIGN.md "Talking between processes").

Two implementations behind one ``Bus`` protocol: Redis Streams (production, tests that
claim a feature works) and in-memory (unit tests of one layer). Both give consumer groups,
ack after handling, redelivery of unacked messages to a restarted consumer, a dead-letter
stream that keeps the reason, and a small ledger that makes command handling idempotent.
"""

from .base import (
    COMMANDS_STREAM,
    DEAD_LETTER_STREAM,
    EVENTS_STREAM,
    Bus,
    Delivery,
    LedgerState,
)
from .consumer import Consumer, ConsumerStats
from .memory import MemoryBus
from .redis_streams import RedisBus

__all__ = [
    "COMMANDS_STREAM",
    "DEAD_LETTER_STREAM",
    "EVENTS_STREAM",
    "Bus",
    "Consumer",
    "ConsumerStats",
    "Delivery",
    "LedgerState",
    "MemoryBus",
    "RedisBus",
]
