"""MemoryBus semantics (the same as RedisBus, see tests/protocol/test_bus_redis.py) and the
Consumer loop: dead-letter with reason, transient retry, attempts, idempotency ledger."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest

from switch_control import contract as c
from switch_control.bus import (
    COMMANDS_STREAM,
    DEAD_LETTER_STREAM,
    EVENTS_STREAM,
    Consumer,
    LedgerState,
    MemoryBus,
)
from switch_control.bus.base import Delivery

STREAM = COMMANDS_STREAM
GROUP = "controller"


async def eventually(predicate: Callable[[], object], timeout: float = 5.0, what: str = "") -> None:
    """Poll a condition with a deadline (a few ms between looks)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        await asyncio.sleep(0.002)


def answer(leg: str, id_: str | None = None) -> bytes:
    if id_ is None:
        return c.encode(c.AnswerCall(leg_id=leg))
    return c.encode(c.AnswerCall(id=id_, leg_id=leg))


# =========================================================================== the bus itself


async def test_publish_and_read_through_a_group() -> None:
    bus = MemoryBus()
    await bus.ensure_group(STREAM, GROUP)
    ids = [await bus.publish(STREAM, answer(f"leg-{i}")) for i in range(3)]
    assert len(set(ids)) == 3
    assert await bus.length(STREAM) == 3

    got = await bus.read(STREAM, GROUP, "ctl-1", count=10, block_ms=50)
    assert [d.entry_id for d in got] == ids
    assert [c.decode(d.payload).leg_id for d in got] == ["leg-0", "leg-1", "leg-2"]  # type: ignore[attr-defined]
    assert all(d.deliveries == 1 and d.stream == STREAM and d.group == GROUP for d in got)
    assert await bus.pending_count(STREAM, GROUP) == 3

    # each entry goes to one consumer of the group only...
    assert await bus.read(STREAM, GROUP, "ctl-2", count=10, block_ms=20) == []
    # ...but every group sees every entry
    other = await bus.read(STREAM, "projector", "p-1", count=10, block_ms=20)
    assert [d.entry_id for d in other] == ids
    # count limits one read
    await bus.publish(STREAM, answer("leg-3"))
    await bus.publish(STREAM, answer("leg-4"))
    one = await bus.read(STREAM, "projector", "p-1", count=1, block_ms=20)
    assert len(one) == 1


async def test_read_waits_for_a_publish() -> None:
    bus = MemoryBus()
    await bus.ensure_group(STREAM, GROUP)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    assert await bus.read(STREAM, GROUP, "ctl-1", block_ms=30) == []
    assert loop.time() - t0 >= 0.025  # really waited ~block_ms

    reader = asyncio.create_task(bus.read(STREAM, GROUP, "ctl-1", block_ms=5000))
    await asyncio.sleep(0.005)
    assert not reader.done()
    await bus.publish(STREAM, answer("late"))
    got = await asyncio.wait_for(reader, 1.0)  # woken by the publish, not by the timeout
    assert [c.decode(d.payload).leg_id for d in got] == ["late"]  # type: ignore[attr-defined]


async def test_read_with_zero_block_returns_at_once() -> None:
    bus = MemoryBus()
    await bus.ensure_group(STREAM, GROUP)
    assert await asyncio.wait_for(bus.read(STREAM, GROUP, "ctl-1", block_ms=0), 1.0) == []


async def test_ack_removes_from_pending() -> None:
    bus = MemoryBus()
    await bus.ensure_group(STREAM, GROUP)
    await bus.publish(STREAM, answer("a"))
    await bus.publish(STREAM, answer("b"))
    first, second = await bus.read(STREAM, GROUP, "ctl-1", block_ms=20)
    assert await bus.pending_count(STREAM, GROUP) == 2
    await bus.ack(first)
    assert await bus.pending_count(STREAM, GROUP) == 1
    await bus.ack(first)  # acking twice is harmless
    assert await bus.pending_count(STREAM, GROUP) == 1
    await bus.ack(second)
    assert await bus.pending_count(STREAM, GROUP) == 0
    # acked entries are not delivered again to a restarted consumer
    assert await bus.read(STREAM, GROUP, "ctl-1", block_ms=20) == []
    assert await bus.length(STREAM) == 2  # ack does not delete the entry


async def test_unacked_entry_redelivered_after_restart() -> None:
    bus = MemoryBus()
    await bus.ensure_group(STREAM, GROUP)
    await bus.publish(STREAM, answer("kept"))
    (d1,) = await bus.read(STREAM, GROUP, "ctl-1", block_ms=20)
    assert d1.deliveries == 1
    # "crash": never acked. Another consumer of the group does not get it...
    assert await bus.read(STREAM, GROUP, "ctl-2", block_ms=20) == []
    # ...a new publish is not mixed in front of the backlog...
    await bus.publish(STREAM, answer("new"))
    # ...and the restarted consumer (same name) gets its own unacked entry first
    bus.forget_consumer(STREAM, GROUP, "ctl-1")  # the process restarts
    (d2,) = await bus.read(STREAM, GROUP, "ctl-1", block_ms=20)
    assert d2.entry_id == d1.entry_id
    assert d2.payload == d1.payload
    assert d2.deliveries == 2
    await bus.ack(d2)
    (d3,) = await bus.read(STREAM, GROUP, "ctl-1", block_ms=20)
    assert c.decode(d3.payload).leg_id == "new"  # type: ignore[attr-defined]
    assert d3.deliveries == 1


async def test_dead_letter_keeps_reason_and_acks() -> None:
    bus = MemoryBus()
    await bus.ensure_group(STREAM, GROUP)
    await bus.publish(STREAM, b"\x00poison")
    (d,) = await bus.read(STREAM, GROUP, "ctl-1", block_ms=20)
    await bus.dead_letter(d, "malformed: not valid JSON")
    assert bus.dead == [(STREAM, "malformed: not valid JSON", b"\x00poison")]
    assert await bus.length(DEAD_LETTER_STREAM) == 1
    assert bus.streams[DEAD_LETTER_STREAM] == [b"\x00poison"]
    assert await bus.pending_count(STREAM, GROUP) == 0
    assert await bus.read(STREAM, GROUP, "ctl-1", block_ms=20) == []


async def test_ledger_get_set_and_ack_marks_done() -> None:
    bus = MemoryBus()
    assert await bus.ledger_get("cmd-1") is None
    await bus.ledger_set("cmd-1", LedgerState.STARTED)
    assert await bus.ledger_get("cmd-1") is LedgerState.STARTED
    assert await bus.ledger_get("cmd-2") is None

    await bus.ensure_group(STREAM, GROUP)
    await bus.publish(STREAM, answer("x", "cmd-1"))
    (d,) = await bus.read(STREAM, GROUP, "ctl-1", block_ms=20)
    await bus.ack(d, ledger_key="cmd-1")
    assert await bus.ledger_get("cmd-1") is LedgerState.DONE
    assert await bus.pending_count(STREAM, GROUP) == 0
    # a plain ack does not touch the ledger
    await bus.publish(STREAM, answer("y", "cmd-3"))
    (d,) = await bus.read(STREAM, GROUP, "ctl-1", block_ms=20)
    await bus.ack(d)
    assert await bus.ledger_get("cmd-3") is None


# =========================================================================== consumer loop


class Recorder:
    """A handler that records (message, in_flight) and fails as scripted."""

    def __init__(self, failures: list[BaseException] | None = None) -> None:
        self.calls: list[tuple[c.Message, bool]] = []
        self.failures = list(failures or [])

    async def __call__(self, message: c.Message, in_flight: bool) -> None:
        self.calls.append((message, in_flight))
        if self.failures:
            raise self.failures.pop(0)

    @property
    def legs(self) -> list[str]:
        return [getattr(m, "leg_id", "") for m, _ in self.calls]


def consumer(bus: MemoryBus, handler: Recorder, **kw: object) -> Consumer:
    opts: dict[str, object] = {
        "stream": STREAM,
        "group": GROUP,
        "name": "ctl-1",
        "block_ms": 20,
        "backoff_initial": 0.001,
        "backoff_max": 0.004,
    }
    opts.update(kw)
    return Consumer(bus, handler=handler, **opts)  # type: ignore[arg-type]


async def run_until(cons: Consumer, predicate: Callable[[], object], what: str) -> None:
    task = asyncio.create_task(cons.run())
    try:
        await eventually(lambda: predicate() or task.done(), what=what)
        if task.done():
            task.result()  # surface a crash of the loop itself
        assert predicate(), what
    finally:
        cons.stop()
        await asyncio.wait_for(task, 2.0)


async def test_malformed_messages_dead_lettered_and_loop_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = MemoryBus()
    handler = Recorder()
    await bus.publish(STREAM, b"{not json")
    await bus.publish(STREAM, b'{"type": "Teleport", "v": 1, "leg_id": "x"}')
    await bus.publish(STREAM, b'{"type": "AnswerCall", "v": 1, "leg_id": "x", "extra": 1}')
    await bus.publish(STREAM, c.encode(c.CallAnswered(call_id="c", leg_id="e")))  # wrong kind
    await bus.publish(STREAM, answer("good"))
    cons = consumer(bus, handler, kind=c.Command)
    with caplog.at_level(logging.ERROR, logger="switch_control.bus.consumer"):
        await run_until(cons, lambda: handler.calls, "the good message after the bad ones")

    assert handler.legs == ["good"]
    reasons = [reason for _stream, reason, _payload in bus.dead]
    assert len(reasons) == 4
    assert reasons[0].startswith("malformed: not valid JSON")
    assert reasons[1] == "malformed: unknown message type 'Teleport'"
    assert reasons[2] == "malformed: AnswerCall: unknown field(s) extra"
    assert reasons[3] == "malformed: CallAnswered is not a Command"
    assert bus.dead[0][2] == b"{not json"  # the original bytes are kept
    assert cons.stats.dead_lettered == 4
    assert cons.stats.handled == 1
    assert await bus.pending_count(STREAM, GROUP) == 0
    assert sum("dead-lettering" in r.getMessage() for r in caplog.records) == 4


async def test_transient_failure_retried_until_it_succeeds() -> None:
    bus = MemoryBus()
    pending_while_failing: list[int] = []

    class Flaky(Recorder):
        async def __call__(self, message: c.Message, in_flight: bool) -> None:
            pending_while_failing.append(await bus.pending_count(STREAM, GROUP))
            await super().__call__(message, in_flight)

    # more transient failures than max_attempts: transient errors never use up attempts
    handler = Flaky([ConnectionError("switch away")] * 5)
    await bus.publish(STREAM, answer("patient"))
    await bus.publish(STREAM, answer("after"))
    cons = consumer(bus, handler, transient=(ConnectionError,), max_attempts=2, batch=1)
    await run_until(cons, lambda: cons.stats.handled == 2, "both messages handled")

    assert handler.legs == ["patient"] * 6 + ["after"]
    assert bus.dead == []
    assert cons.stats.retries == 5
    assert cons.stats.dead_lettered == 0
    # the entry stayed pending (not acked) the whole time it was failing: nothing lost
    assert pending_while_failing[:6] == [1] * 6
    assert await bus.pending_count(STREAM, GROUP) == 0


async def test_other_failure_dead_lettered_after_max_attempts(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = MemoryBus()
    handler = Recorder([ValueError("bad leg state")] * 3)
    await bus.publish(STREAM, answer("doomed"))
    await bus.publish(STREAM, answer("next"))
    cons = consumer(bus, handler, max_attempts=3)
    with caplog.at_level(logging.ERROR, logger="switch_control.bus.consumer"):
        await run_until(cons, lambda: "next" in handler.legs, "the next message")

    assert handler.legs == ["doomed", "doomed", "doomed", "next"]
    ((stream, reason, payload),) = bus.dead
    assert stream == STREAM
    assert reason == "handler failed 3 times: ValueError: bad leg state"
    assert c.decode(payload).leg_id == "doomed"  # type: ignore[attr-defined]
    assert cons.stats.dead_lettered == 1
    assert cons.stats.retries == 2
    assert await bus.pending_count(STREAM, GROUP) == 0
    failed = [r for r in caplog.records if "dead-lettered" in r.getMessage()]
    assert failed and failed[0].exc_info is not None  # the traceback is in the log


async def test_a_failure_that_recovers_within_max_attempts_is_not_dead_lettered() -> None:
    bus = MemoryBus()
    handler = Recorder([KeyError("once")])
    await bus.publish(STREAM, answer("x"))
    cons = consumer(bus, handler, max_attempts=2)
    await run_until(cons, lambda: cons.stats.handled == 1, "handled on the 2nd attempt")
    assert handler.legs == ["x", "x"]
    assert bus.dead == []


async def test_ledger_runs_a_redelivered_message_once() -> None:
    bus = MemoryBus()
    handler = Recorder()
    same = answer("once", "cmd-42")
    await bus.publish(STREAM, same)
    await bus.publish(STREAM, same)  # the same command delivered twice
    await bus.publish(STREAM, answer("other", "cmd-43"))
    cons = consumer(bus, handler, ledger=True)
    await run_until(cons, lambda: cons.stats.handled + cons.stats.duplicates == 3, "all 3")

    assert handler.legs == ["once", "other"]
    assert cons.stats.duplicates == 1
    assert await bus.ledger_get("cmd-42") is LedgerState.DONE
    assert await bus.ledger_get("cmd-43") is LedgerState.DONE
    assert await bus.pending_count(STREAM, GROUP) == 0  # the duplicate was acked too


async def test_without_ledger_a_duplicate_runs_twice() -> None:
    # (the control for the test above: the dedupe comes from the ledger)
    bus = MemoryBus()
    handler = Recorder()
    same = answer("twice", "cmd-7")
    await bus.publish(STREAM, same)
    await bus.publish(STREAM, same)
    cons = consumer(bus, handler, ledger=False)
    await run_until(cons, lambda: cons.stats.handled == 2, "both copies")
    assert handler.legs == ["twice", "twice"]
    assert await bus.ledger_get("cmd-7") is None


async def test_handler_told_when_message_was_in_flight() -> None:
    bus = MemoryBus()
    handler = Recorder()
    # the previous process marked cmd-1 STARTED and died before DONE
    await bus.ledger_set("cmd-1", LedgerState.STARTED)
    await bus.publish(STREAM, answer("interrupted", "cmd-1"))
    await bus.publish(STREAM, answer("fresh", "cmd-2"))
    cons = consumer(bus, handler, ledger=True)
    await run_until(cons, lambda: len(handler.calls) == 2, "both handled")

    assert [(getattr(m, "leg_id", ""), f) for m, f in handler.calls] == [
        ("interrupted", True),
        ("fresh", False),
    ]
    assert await bus.ledger_get("cmd-1") is LedgerState.DONE
    assert await bus.ledger_get("cmd-2") is LedgerState.DONE


async def test_ledger_marks_started_before_the_handler_runs() -> None:
    bus = MemoryBus()
    seen: list[LedgerState | None] = []

    async def handler(message: c.Message, in_flight: bool) -> None:
        seen.append(await bus.ledger_get(message.id))

    await bus.publish(STREAM, answer("x", "cmd-9"))
    cons = Consumer(
        bus, stream=STREAM, group=GROUP, name="c", handler=handler, ledger=True, block_ms=20
    )
    task = asyncio.create_task(cons.run())
    await eventually(lambda: cons.stats.handled == 1, what="handled")
    cons.stop()
    await asyncio.wait_for(task, 2.0)
    assert seen == [LedgerState.STARTED]  # a crash now would be detected as in-flight
    assert await bus.ledger_get("cmd-9") is LedgerState.DONE


async def test_dead_lettered_command_is_not_run_again_on_redelivery() -> None:
    bus = MemoryBus()
    handler = Recorder([RuntimeError("nope")] * 2)
    await bus.publish(STREAM, answer("bad", "cmd-5"))
    cons = consumer(bus, handler, ledger=True, max_attempts=2)
    await run_until(cons, lambda: cons.stats.dead_lettered == 1, "dead-lettered")
    assert await bus.ledger_get("cmd-5") is LedgerState.DONE
    # an operator re-publishes it by mistake: the ledger says it is settled
    await bus.publish(STREAM, answer("bad", "cmd-5"))
    cons2 = consumer(bus, handler, ledger=True, max_attempts=2)
    await run_until(cons2, lambda: cons2.stats.duplicates == 1, "duplicate skipped")
    assert handler.legs == ["bad", "bad"]


async def test_stop_leaves_the_rest_of_the_batch_for_the_next_process() -> None:
    bus = MemoryBus()
    for i in range(3):
        await bus.publish(STREAM, answer(f"m{i}"))
    calls: list[c.Message] = []

    async def stop_after_first(message: c.Message, in_flight: bool) -> None:
        calls.append(message)
        first.stop()  # SIGTERM while handling m0

    first = Consumer(
        bus, stream=STREAM, group=GROUP, name="ctl-1", handler=stop_after_first, block_ms=20
    )
    await asyncio.wait_for(first.run(), 2.0)
    assert len(calls) == 1
    assert first.stats.handled == 1  # the message in hand was finished and acked
    assert await bus.pending_count(STREAM, GROUP) == 2

    handler = Recorder()
    bus.forget_consumer(STREAM, GROUP, "ctl-1")  # the process restarts
    second = consumer(bus, handler)  # the next process, same consumer name
    await run_until(second, lambda: len(handler.calls) == 2, "the rest redelivered")
    assert handler.legs == ["m1", "m2"]
    assert await bus.pending_count(STREAM, GROUP) == 0


async def test_stop_during_transient_retries_keeps_the_entry() -> None:
    bus = MemoryBus()
    handler = Recorder([ConnectionError("down")] * 1000)
    await bus.publish(STREAM, answer("x"))
    cons = consumer(bus, handler, transient=(ConnectionError,))
    task = asyncio.create_task(cons.run())
    await eventually(lambda: len(handler.calls) >= 3, what="a few retries")
    cons.stop()
    await asyncio.wait_for(task, 2.0)
    assert bus.dead == []
    assert await bus.pending_count(STREAM, GROUP) == 1  # redelivered to the next process


async def test_consumer_on_events_stream_with_event_kind() -> None:
    bus = MemoryBus()
    handler = Recorder()
    ev = c.CallEnded(call_id="c1", leg_id="l1", cause=c.HangupCause.USER_BUSY)
    await bus.publish(EVENTS_STREAM, c.encode(ev))
    await bus.publish(EVENTS_STREAM, c.encode(c.Hangup(leg_id="l1")))  # a command: wrong kind
    cons = consumer(bus, handler, stream=EVENTS_STREAM, group="projector", kind=c.Event)
    await run_until(cons, lambda: cons.stats.dead_lettered == 1 and handler.calls, "both")
    assert [m for m, _ in handler.calls] == [ev]
    assert bus.dead[0][:2] == (EVENTS_STREAM, "malformed: Hangup is not a Event")


def test_delivery_defaults_to_first_delivery() -> None:
    assert Delivery(STREAM, GROUP, "1-0", b"x").deliveries == 1


async def test_a_restarted_consumers_backlog_is_paged_while_its_first_page_is_unacked() -> None:
    """A consumer handling entries concurrently (issue 13) still holds the first page of
    its backlog unacked when it reads again: it gets the next page, not the same one."""
    bus = MemoryBus()
    for i in range(5):
        await bus.publish(STREAM, answer(f"m{i}"))
    await bus.read(STREAM, GROUP, "ctl-1", count=10, block_ms=20)  # then "crash"
    bus.forget_consumer(STREAM, GROUP, "ctl-1")
    await bus.publish(STREAM, answer("new"))
    first = await bus.read(STREAM, GROUP, "ctl-1", count=3, block_ms=20)
    second = await bus.read(STREAM, GROUP, "ctl-1", count=3, block_ms=20)
    third = await bus.read(STREAM, GROUP, "ctl-1", count=3, block_ms=20)
    legs = [[c.decode(d.payload).leg_id for d in page] for page in (first, second, third)]  # type: ignore[attr-defined]
    assert legs == [["m0", "m1", "m2"], ["m3", "m4"], ["new"]]
    assert all(d.deliveries == 2 for d in first + second)
