"""The consumer's batch path (the projector's): one handler call per batch, malformed
entries dead-lettered, a poison message isolated by falling back to one-by-one."""

from __future__ import annotations

import pytest

from switch_control import contract as c
from switch_control.bus import EVENTS_STREAM, Consumer, MemoryBus


def ev(n: int) -> c.Event:
    return c.CallRinging(call_id=f"call-{n}", leg_id=f"leg-{n}")


@pytest.fixture
def bus() -> MemoryBus:
    return MemoryBus()


async def run_once(consumer: Consumer, bus: MemoryBus) -> None:
    deliveries = await bus.read(EVENTS_STREAM, consumer.group, consumer.name, 100, 0)
    await consumer.process_batch(deliveries)


async def test_one_handler_call_for_the_batch_and_all_acked(bus: MemoryBus):
    calls: list[list[str]] = []

    async def batch(messages: list[c.Message]) -> None:
        calls.append([m.id for m in messages])

    async def single(message: c.Message, in_flight: bool) -> None:
        raise AssertionError("not used")

    consumer = Consumer(
        bus,
        stream=EVENTS_STREAM,
        group="g",
        name="n",
        handler=single,
        kind=c.Event,
        batch_handler=batch,
    )
    events = [ev(i) for i in range(5)]
    for e in events:
        await bus.publish(EVENTS_STREAM, c.encode(e))
    await bus.publish(EVENTS_STREAM, b"{not json")
    await run_once(consumer, bus)
    assert calls == [[e.id for e in events]]
    assert consumer.stats.handled == 5 and consumer.stats.dead_lettered == 1
    assert await bus.pending_count(EVENTS_STREAM, "g") == 0
    assert "malformed" in bus.dead[0][1]


async def test_a_poison_message_is_isolated_by_one_by_one_fallback(bus: MemoryBus):
    handled: list[str] = []

    async def batch(messages: list[c.Message]) -> None:
        raise RuntimeError("one of them is poison")

    async def single(message: c.Message, in_flight: bool) -> None:
        if message.id == "poison":
            raise ValueError("cannot project this")
        handled.append(message.id)

    consumer = Consumer(
        bus,
        stream=EVENTS_STREAM,
        group="g",
        name="n",
        handler=single,
        kind=c.Event,
        batch_handler=batch,
        max_attempts=2,
        backoff_initial=0.001,
    )
    good = [ev(1), ev(2)]
    poison = c.CallRinging(id="poison", call_id="x", leg_id="y")
    for e in (good[0], poison, good[1]):
        await bus.publish(EVENTS_STREAM, c.encode(e))
    await run_once(consumer, bus)
    assert handled == [good[0].id, good[1].id]
    assert consumer.stats.dead_lettered == 1
    assert "cannot project this" in bus.dead[0][1]
    assert await bus.pending_count(EVENTS_STREAM, "g") == 0


def test_batch_and_ledger_do_not_mix(bus: MemoryBus):
    async def batch(messages: list[c.Message]) -> None: ...

    async def single(message: c.Message, in_flight: bool) -> None: ...

    with pytest.raises(ValueError):
        Consumer(
            bus,
            stream=EVENTS_STREAM,
            group="g",
            name="n",
            handler=single,
            ledger=True,
            batch_handler=batch,
        )


async def test_a_trickle_of_events_is_still_handled_in_batches_with_linger(bus: MemoryBus):
    """With ``linger_s`` a short read waits for more entries: events arriving one by one
    reach the batch handler together (the projector's one transaction per batch)."""
    import asyncio

    calls: list[list[str]] = []
    done = asyncio.Event()

    async def batch(messages: list[c.Message]) -> None:
        calls.append([m.id for m in messages])
        if sum(map(len, calls)) == 4:
            done.set()

    async def single(message: c.Message, in_flight: bool) -> None:
        calls.append([message.id])
        if sum(map(len, calls)) == 4:
            done.set()

    consumer = Consumer(
        bus,
        stream=EVENTS_STREAM,
        group="g",
        name="n",
        handler=single,
        kind=c.Event,
        batch_handler=batch,
        block_ms=50,
        linger_s=0.3,
    )
    await bus.ensure_group(EVENTS_STREAM, "g")
    task = asyncio.create_task(consumer.run())
    events = [ev(i) for i in range(4)]
    for e in events:
        await bus.publish(EVENTS_STREAM, c.encode(e))
        await asyncio.sleep(0.02)
    await asyncio.wait_for(done.wait(), 5)
    consumer.stop()
    await asyncio.wait_for(task, 5)
    assert calls == [[e.id for e in events]]
    assert await bus.pending_count(EVENTS_STREAM, "g") == 0


async def test_types_filter_acks_other_messages_unread_and_still_dead_letters_junk(
    bus: MemoryBus,
):
    """The projector asks for the event types it projects: the rest of a call's events are
    acknowledged without being decoded; malformed entries are still dead-lettered."""
    seen: list[str] = []

    async def batch(messages: list[c.Message]) -> None:
        seen.extend(m.TYPE for m in messages)

    async def single(message: c.Message, in_flight: bool) -> None:
        seen.append(message.TYPE)

    consumer = Consumer(
        bus,
        stream=EVENTS_STREAM,
        group="g",
        name="n",
        handler=single,
        kind=c.Event,
        batch_handler=batch,
        types=frozenset({"CallEnded"}),
    )
    ended = c.CallEnded(call_id="call-1", leg_id="leg-1", cause=c.HangupCause.USER_BUSY)
    for payload in (
        c.encode(ev(1)),
        c.encode(ended),
        b'{"type":"CallRinging","v":1,"id":"broken but not ours"}',  # skipped unread
        b'{"type":"NoSuchType","v":1,"id":"x"}',  # unknown to this build: not ours either
        b'{"type":"CallEnded","v":1}',  # ours and broken: dead-lettered
    ):
        await bus.publish(EVENTS_STREAM, payload)
    await run_once(consumer, bus)
    assert seen == ["CallEnded"]
    assert consumer.stats.skipped == 3 and consumer.stats.dead_lettered == 1
    assert consumer.stats.handled == 1
    assert await bus.pending_count(EVENTS_STREAM, "g") == 0
    # one at a time (a batch of one): same rule
    await bus.publish(EVENTS_STREAM, c.encode(ev(2)))
    (delivery,) = await bus.read(EVENTS_STREAM, "g", "n", 10, 0)
    await consumer.process(delivery)
    assert seen == ["CallEnded"] and consumer.stats.skipped == 4
    assert await bus.pending_count(EVENTS_STREAM, "g") == 0


def test_peek_type_reads_only_what_encode_writes() -> None:
    from switch_control.contract.codec import peek_type

    assert peek_type(c.encode(ev(1))) == "CallRinging"
    assert peek_type(b'{"v":1,"type":"CallRinging"}') is None  # not our encoder's order
    assert peek_type(b'{"type":"Bogus","v":1}') is None
    assert peek_type(b'{"type":"CallRing') is None
    assert peek_type(b"") is None


def test_peek_name_reads_names_this_build_does_not_know() -> None:
    from switch_control.contract.codec import peek_name

    assert peek_name(b'{"type":"CallQueuedV9","v":1}') == "CallQueuedV9"
    assert peek_name(c.encode(ev(1))) == "CallRinging"
    assert peek_name(b'{"v":1,"type":"X"}') is None
