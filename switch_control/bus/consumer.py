"""A consumer-group loop shared by the controller (commands) and the projector (events).

- malformed or unknown messages -> dead-letter stream with the codec's reason, loop goes on;
- a handler raising a *transient* error (switch/DB briefly away) -> retried with backoff,
  the entry stays unacked so nothing is lost even if we are killed meanwhile;
- any other handler error -> retried ``max_attempts`` times, then dead-lettered with reason;
- with ``types``, well-formed messages of other types are acknowledged without decoding;
- with ``ledger=True`` each message id is marked STARTED before and DONE (atomically with
  the ack) after handling: a redelivered DONE message is acked without a second effect, and
  the handler is told when a message was in flight when the previous process died.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ..contract import Message, decode_as
from ..contract.codec import peek_type
from ..errors import ContractError
from .base import Bus, Delivery, LedgerState

logger = logging.getLogger(__name__)

Handler = Callable[[Message, bool], Awaitable[None]]
BatchHandler = Callable[[list[Message]], Awaitable[None]]


@dataclass
class ConsumerStats:
    handled: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    retries: int = 0
    skipped: int = 0  # acknowledged unread: not a type this consumer handles


class Consumer:
    def __init__(
        self,
        bus: Bus,
        *,
        stream: str,
        group: str,
        name: str,
        handler: Handler,
        kind: type[Message] = Message,
        ledger: bool = False,
        transient: tuple[type[BaseException], ...] = (),
        max_attempts: int = 3,
        batch: int = 100,
        block_ms: int = 500,
        backoff_initial: float = 0.1,
        backoff_max: float = 5.0,
        batch_handler: BatchHandler | None = None,
        linger_s: float = 0.0,
        types: frozenset[str] | None = None,
    ) -> None:
        if batch_handler is not None and ledger:
            raise ValueError("a batch handler cannot use the ledger")
        self.batch_handler = batch_handler
        # only messages of these types reach the handlers; the others are acknowledged
        # without being decoded (the projector needs 8 of the 12 events of a call)
        self.types = types
        # batch handlers only: after a short read, wait this long for more entries, so
        # that a steady trickle is handled in batches (a DB transaction each) too
        self.linger_s = linger_s
        self.bus = bus
        self.stream, self.group, self.name = stream, group, name
        self.handler = handler
        self.kind = kind
        self.ledger = ledger
        self.transient = transient
        self.max_attempts = max_attempts
        self.batch = batch
        self.block_ms = block_ms
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.stats = ConsumerStats()
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """Finish the entry in hand, then return from ``run`` (SIGTERM drains)."""
        self._stopping.set()

    async def run(self) -> None:
        await self.bus.ensure_group(self.stream, self.group)
        while not self._stopping.is_set():
            deliveries = await self.bus.read(
                self.stream, self.group, self.name, self.batch, self.block_ms
            )
            if (
                self.batch_handler is not None
                and self.linger_s
                and 0 < len(deliveries) < self.batch
            ):
                deliveries = await self._top_up(deliveries)
            if self.batch_handler is not None and len(deliveries) > 1:
                await self.process_batch(deliveries)
                continue
            for delivery in deliveries:
                if self._stopping.is_set():
                    return  # unacked entries are redelivered to the next process
                await self.process(delivery)

    async def _top_up(self, deliveries: list[Delivery]) -> list[Delivery]:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), self.linger_s)
        if self._stopping.is_set():
            return deliveries
        more = await self.bus.read(
            self.stream, self.group, self.name, self.batch - len(deliveries), 0
        )
        have = {d.entry_id for d in deliveries}  # a backlog read returns the same entries
        return deliveries + [d for d in more if d.entry_id not in have]

    async def process_batch(self, deliveries: list[Delivery]) -> None:
        """Hand many messages to the batch handler at once (one DB transaction for the
        projector); a poison message makes us fall back to one-by-one handling, which
        isolates and dead-letters it."""
        assert self.batch_handler is not None
        good: list[tuple[Delivery, Message]] = []
        skipped: list[Delivery] = []
        for delivery in deliveries:
            if self._not_ours(delivery):
                skipped.append(delivery)
                continue
            try:
                good.append((delivery, decode_as(delivery.payload, self.kind)))
            except ContractError as exc:
                logger.error("dead-lettering %s entry %s: %s", self.stream, delivery.entry_id, exc)
                await self.bus.dead_letter(delivery, f"malformed: {exc}")
                self.stats.dead_lettered += 1
        if skipped:
            await self.bus.ack_many(skipped)
            self.stats.skipped += len(skipped)
        if not good:
            return
        backoff = self.backoff_initial
        while True:
            try:
                await self.batch_handler([m for _, m in good])
                break
            except asyncio.CancelledError:
                raise
            except self.transient as exc:
                if self._stopping.is_set():
                    return
                self.stats.retries += 1
                logger.warning(
                    "batch of %d: transient failure (%s); retrying in %.1fs",
                    len(good),
                    exc,
                    backoff,
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.backoff_max)
            except Exception as exc:
                logger.warning("batch of %d failed (%s); handling one by one", len(good), exc)
                for delivery, _ in good:
                    await self.process(delivery)
                return
        await self.bus.ack_many([d for d, _ in good])
        self.stats.handled += len(good)

    def _not_ours(self, delivery: Delivery) -> bool:
        if self.types is None:
            return False
        name = peek_type(delivery.payload)
        return name is not None and name not in self.types

    async def process(self, delivery: Delivery) -> None:
        if self._not_ours(delivery):
            await self.bus.ack(delivery)
            self.stats.skipped += 1
            return
        try:
            message = decode_as(delivery.payload, self.kind)
        except ContractError as exc:
            logger.error("dead-lettering %s entry %s: %s", self.stream, delivery.entry_id, exc)
            await self.bus.dead_letter(delivery, f"malformed: {exc}")
            self.stats.dead_lettered += 1
            return
        in_flight = False
        if self.ledger:
            state = await self.bus.ledger_get(message.id)
            if state is LedgerState.DONE:
                self.stats.duplicates += 1
                await self.bus.ack(delivery)
                return
            in_flight = state is LedgerState.STARTED
            if not in_flight:
                await self.bus.ledger_set(message.id, LedgerState.STARTED)
        attempt = 0
        backoff = self.backoff_initial
        while True:
            attempt += 1
            try:
                await self.handler(message, in_flight)
                break
            except asyncio.CancelledError:
                raise
            except self.transient as exc:
                if self._stopping.is_set():
                    return
                self.stats.retries += 1
                logger.warning(
                    "%s %s: transient failure (%s); retrying in %.1fs",
                    message.TYPE,
                    message.id,
                    exc,
                    backoff,
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.backoff_max)
                attempt = 0
            except Exception as exc:
                if attempt < self.max_attempts:
                    self.stats.retries += 1
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, self.backoff_max)
                    continue
                logger.exception(
                    "%s %s failed %d times; dead-lettered", message.TYPE, message.id, attempt
                )
                await self.bus.dead_letter(
                    delivery, f"handler failed {attempt} times: {exc.__class__.__name__}: {exc}"
                )
                if self.ledger:
                    await self.bus.ledger_set(message.id, LedgerState.DONE)
                self.stats.dead_lettered += 1
                return
        await self.bus.ack(delivery, ledger_key=message.id if self.ledger else "")
        self.stats.handled += 1
