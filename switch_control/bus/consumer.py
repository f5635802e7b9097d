"""A consumer-group loop shared by the controller (commands) and the projector (events).

- malformed or unknown messages -> dead-letter stream with the codec's reason, loop goes on;
- a handler raising a *transient* error (switch/DB briefly away) -> retried with backoff,
  the entry stays unacked so nothing is lost even if we are killed meanwhile;
- any other handler error -> retried ``max_attempts`` times, then dead-lettered with reason;
- with ``types``, well-formed messages of other types are acknowledged without decoding;
- with ``ledger=True`` each message id is marked STARTED before and DONE (atomically with
  the ack) after handling: a redelivered DONE message is acked without a second effect, and
  the handler is told when a message was in flight when the previous process died;
- with ``key`` (the controller's commands) messages run concurrently in *lanes*, one per
  key (the call a command is about): one lane's messages run one after another in stream
  order, different lanes' do not wait for each other (issue 13, one caller's 15 s
  ``CollectDigits`` must not hold up the others). Each entry is still acked only after it
  was handled, so a crash redelivers exactly what was not; ``max_in_flight`` bounds how
  many entries are read ahead. A lane is a task per busy key, not per message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ..contract import Message, decode_as
from ..contract.codec import peek_name
from ..errors import ContractError
from .base import Bus, Delivery, LedgerState

logger = logging.getLogger(__name__)

Handler = Callable[[Message, bool], Awaitable[None]]
BatchHandler = Callable[[list[Message]], Awaitable[None]]
KeyOf = Callable[[Message], str]


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
        key: KeyOf | None = None,
        max_in_flight: int = 256,
    ) -> None:
        if batch_handler is not None and ledger:
            raise ValueError("a batch handler cannot use the ledger")
        if batch_handler is not None and key is not None:
            raise ValueError("a batch handler cannot run in lanes")
        self.key = key
        self._lanes: dict[str, deque[tuple[Delivery, Message]]] = {}
        self._lane_tasks: set[asyncio.Task[None]] = set()
        self._in_flight: set[str] = set()  # entry ids in a lane (never queued twice)
        self._slots = asyncio.Semaphore(max_in_flight)
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

    @property
    def busy_lanes(self) -> int:
        """Keys with a message being handled or waiting (status, tests)."""
        return len(self._lanes)

    async def run(self) -> None:
        await self.bus.ensure_group(self.stream, self.group)
        if self.key is not None:
            await self._run_lanes()
            return
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

    # ------------------------------------------------------------------ lanes
    async def _run_lanes(self) -> None:
        try:
            while not self._stopping.is_set():
                deliveries = await self.bus.read(
                    self.stream, self.group, self.name, self.batch, self.block_ms
                )
                for delivery in deliveries:
                    if self._stopping.is_set():
                        break  # unacked entries are redelivered to the next process
                    await self._enqueue(delivery)
        except asyncio.CancelledError:
            for task in self._lane_tasks:
                task.cancel()
            raise
        finally:
            # SIGTERM drains: every lane finishes the message in hand (not the rest)
            if self._lane_tasks:
                await asyncio.gather(*self._lane_tasks, return_exceptions=True)

    async def _enqueue(self, delivery: Delivery) -> None:
        if delivery.entry_id in self._in_flight:
            return  # already in a lane (read again from the backlog or claimed back)
        if self._not_ours(delivery):
            await self.bus.ack(delivery)
            self.stats.skipped += 1
            return
        message = await self._decode(delivery)
        if message is None:
            return
        await self._slots.acquire()  # read no further ahead than max_in_flight
        self._in_flight.add(delivery.entry_id)
        try:
            key = self.key(message) if self.key is not None else ""
        except Exception:  # a key function must not stop the consumer: one shared lane
            logger.exception("no ordering key for %s %s", message.TYPE, message.id)
            key = ""
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = deque()
            task = asyncio.create_task(self._drain(key, lane), name=f"lane {key}")
            self._lane_tasks.add(task)
            task.add_done_callback(self._lane_tasks.discard)
        lane.append((delivery, message))

    async def _drain(self, key: str, lane: deque[tuple[Delivery, Message]]) -> None:
        backoff = self.backoff_initial
        try:
            while lane and not self._stopping.is_set():
                delivery, message = lane[0]
                try:
                    await self._handle(delivery, message)
                except asyncio.CancelledError:
                    raise
                except self.transient as exc:  # Redis away for the ledger or the ack
                    logger.warning(
                        "%s %s: %s; retrying in %.1fs", message.TYPE, message.id, exc, backoff
                    )
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stopping.wait(), backoff)
                    backoff = min(backoff * 2, self.backoff_max)
                    continue
                except Exception:  # left unacked: the next process gets it again
                    logger.exception("%s %s not handled", message.TYPE, message.id)
                backoff = self.backoff_initial
                lane.popleft()
                self._in_flight.discard(delivery.entry_id)
                self._slots.release()
        finally:
            if self._lanes.get(key) is lane:
                del self._lanes[key]
            for delivery, _ in lane:  # left for the next process (stop, cancel)
                self._in_flight.discard(delivery.entry_id)
                self._slots.release()
            lane.clear()

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
        """With ``types``: an entry that names another type, even one this build does not
        know (a newer controller's event), is not ours: skipped, not dead-lettered."""
        if self.types is None:
            return False
        name = peek_name(delivery.payload)
        return name is not None and name not in self.types

    async def _decode(self, delivery: Delivery) -> Message | None:
        try:
            return decode_as(delivery.payload, self.kind)
        except ContractError as exc:
            logger.error("dead-lettering %s entry %s: %s", self.stream, delivery.entry_id, exc)
            await self.bus.dead_letter(delivery, f"malformed: {exc}")
            self.stats.dead_lettered += 1
            return None

    async def process(self, delivery: Delivery) -> None:
        if self._not_ours(delivery):
            await self.bus.ack(delivery)
            self.stats.skipped += 1
            return
        message = await self._decode(delivery)
        if message is not None:
            await self._handle(delivery, message)

    async def _handle(self, delivery: Delivery, message: Message) -> None:
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
