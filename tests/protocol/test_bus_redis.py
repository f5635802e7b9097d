"""RedisBus on a real redis-server: the same behaviours as MemoryBus
(tests/unit/test_bus_memory.py), plus what only a real Redis shows — a restart is a new
connection, the dead-letter stream keeps its fields, the ledger expires, ack+DONE is one
transaction, and a consumer killed mid-handling gets its entry back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as aioredis

from switch_control import contract as c
from switch_control.bus import (
    COMMANDS_STREAM,
    DEAD_LETTER_STREAM,
    Consumer,
    LedgerState,
    RedisBus,
)
from switch_control.bus.redis_streams import LEDGER_PREFIX, LEDGER_TTL

pytestmark = pytest.mark.redis

STREAM = COMMANDS_STREAM
GROUP = "controller"


async def eventually(predicate: Callable[[], object], timeout: float = 5.0, what: str = "") -> None:
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


def leg_of(payload: bytes) -> str:
    return str(getattr(c.decode(payload), "leg_id", ""))


@pytest.fixture
async def buses(redis_db: str) -> AsyncIterator[Callable[..., RedisBus]]:
    """Make RedisBus instances (each its own connection pool, like separate processes)."""
    made: list[RedisBus] = []

    def make(**kw: object) -> RedisBus:
        bus = RedisBus.from_url(redis_db, **kw)  # type: ignore[arg-type]
        made.append(bus)
        return bus

    yield make
    for bus in made:
        await bus.close()


@pytest.fixture
async def raw(redis_db: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_db)
    yield client
    await client.aclose()


# =========================================================================== the bus itself


async def test_xadd_many_writes_each_payload_as_its_own_entry_in_order(
    buses: Callable[..., RedisBus], raw: aioredis.Redis
) -> None:
    """The controller's publisher appends a batch with one EVAL: consumers must see the
    same entries, in the same order, as one XADD per event would have written."""
    from switch_control.bus.redis_streams import xadd_many

    payloads = [answer(f"leg-{i}") for i in range(300)] + [answer("来电-13800138000")]
    async with raw.pipeline(transaction=False) as pipe:
        xadd_many(pipe, STREAM, payloads[:150])
        xadd_many(pipe, STREAM, payloads[150:])
        assert await pipe.execute() == [150, 151]
    bus = buses()
    got = await bus.read(STREAM, GROUP, "ctl-1", count=1000, block_ms=50)
    assert [d.payload for d in got] == payloads
    ids = [tuple(map(int, d.entry_id.split("-"))) for d in got]
    assert ids == sorted(set(ids))  # distinct, increasing
    assert leg_of(got[-1].payload) == "来电-13800138000"
    # the approximate cap applies, as with XADD MAXLEN ~
    async with raw.pipeline(transaction=False) as pipe:
        for _ in range(4):
            xadd_many(pipe, "capped", [b"x"] * 500, maxlen=100)
        await pipe.execute()
    assert 100 <= await raw.xlen("capped") < 2000


async def test_publish_and_read_through_a_group(buses: Callable[..., RedisBus]) -> None:
    bus = buses()
    await bus.ensure_group(STREAM, GROUP)
    await bus.ensure_group(STREAM, GROUP)  # idempotent (BUSYGROUP is fine)
    ids = [await bus.publish(STREAM, answer(f"leg-{i}")) for i in range(3)]
    assert len(set(ids)) == 3 and all("-" in i for i in ids)
    assert await bus.length(STREAM) == 3

    got = await bus.read(STREAM, GROUP, "ctl-1", count=10, block_ms=50)
    assert [d.entry_id for d in got] == ids
    assert [leg_of(d.payload) for d in got] == ["leg-0", "leg-1", "leg-2"]
    assert all(d.deliveries == 1 and d.stream == STREAM and d.group == GROUP for d in got)
    assert await bus.pending_count(STREAM, GROUP) == 3

    assert await bus.read(STREAM, GROUP, "ctl-2", count=10, block_ms=20) == []
    other = await bus.read(STREAM, "projector", "p-1", count=10, block_ms=20)
    assert [d.entry_id for d in other] == ids
    await bus.publish(STREAM, answer("leg-3"))
    await bus.publish(STREAM, answer("leg-4"))
    assert len(await bus.read(STREAM, "projector", "p-1", count=1, block_ms=20)) == 1


async def test_group_created_at_the_start_sees_earlier_entries(
    buses: Callable[..., RedisBus],
) -> None:
    # commands published while the controller was down are not lost (group from id 0)
    bus = buses()
    await bus.publish(STREAM, answer("early"))
    got = await bus.read(STREAM, "late-group", "c", block_ms=20)
    assert [leg_of(d.payload) for d in got] == ["early"]


async def test_read_waits_for_a_publish(buses: Callable[..., RedisBus]) -> None:
    bus, writer = buses(), buses()
    await bus.ensure_group(STREAM, GROUP)
    assert await bus.read(STREAM, GROUP, "ctl-1", block_ms=30) == []
    reader = asyncio.create_task(bus.read(STREAM, GROUP, "ctl-1", block_ms=5000))
    await asyncio.sleep(0.01)
    assert not reader.done()
    await writer.publish(STREAM, answer("late"))
    got = await asyncio.wait_for(reader, 2.0)
    assert [leg_of(d.payload) for d in got] == ["late"]


async def test_read_with_zero_block_returns_at_once(buses: Callable[..., RedisBus]) -> None:
    """BUG: MemoryBus treats block_ms=0 as "don't wait"; RedisBus passes BLOCK 0 to
    XREADGROUP, which in Redis means "wait forever" — a Consumer(block_ms=0) on Redis would
    never notice stop() while the stream is idle."""
    bus = buses()
    await bus.ensure_group(STREAM, GROUP)
    await bus.read(STREAM, GROUP, "ctl-1", block_ms=20)  # past the restart backlog check
    try:
        got = await asyncio.wait_for(bus.read(STREAM, GROUP, "ctl-1", block_ms=0), 0.5)
    except TimeoutError:
        pytest.fail("RedisBus.read(block_ms=0) blocked on an empty stream (BLOCK 0 = forever)")
    assert got == []


async def test_ack_removes_from_pending(buses: Callable[..., RedisBus]) -> None:
    bus = buses()
    await bus.ensure_group(STREAM, GROUP)
    await bus.publish(STREAM, answer("a"))
    await bus.publish(STREAM, answer("b"))
    first, second = await bus.read(STREAM, GROUP, "ctl-1", block_ms=20)
    assert await bus.pending_count(STREAM, GROUP) == 2
    await bus.ack(first)
    assert await bus.pending_count(STREAM, GROUP) == 1
    await bus.ack(first)
    assert await bus.pending_count(STREAM, GROUP) == 1
    await bus.ack(second)
    assert await bus.pending_count(STREAM, GROUP) == 0
    restarted = buses()
    assert await restarted.read(STREAM, GROUP, "ctl-1", block_ms=20) == []
    assert await bus.length(STREAM) == 2


async def test_pending_count_of_a_missing_group_is_zero(buses: Callable[..., RedisBus]) -> None:
    assert await buses().pending_count("callctl:nothing", "nobody") == 0


async def test_unacked_entry_redelivered_after_restart(buses: Callable[..., RedisBus]) -> None:
    before = buses()
    await before.ensure_group(STREAM, GROUP)
    await before.publish(STREAM, answer("kept"))
    (d1,) = await before.read(STREAM, GROUP, "ctl-1", block_ms=20)
    assert d1.deliveries == 1
    await before.close()  # the process dies without acking

    await buses().publish(STREAM, answer("new"))
    # another live consumer of the group does not steal it (it is not idle long enough)
    assert [leg_of(d.payload) for d in await buses().read(STREAM, GROUP, "ctl-2", 10, 20)] == [
        "new"
    ]

    after = buses()  # the restarted process: new connection, same consumer name
    (d2,) = await after.read(STREAM, GROUP, "ctl-1", block_ms=20)
    assert d2.entry_id == d1.entry_id
    assert d2.payload == d1.payload
    assert d2.deliveries == 2
    await after.ack(d2)
    assert await after.read(STREAM, GROUP, "ctl-1", block_ms=20) == []
    assert await after.pending_count(STREAM, GROUP) == 1  # ctl-2's "new"


async def test_entries_of_a_dead_consumer_are_claimed_after_idle(
    buses: Callable[..., RedisBus],
) -> None:
    dead = buses()
    await dead.ensure_group(STREAM, GROUP)
    await dead.publish(STREAM, answer("orphan"))
    (d1,) = await dead.read(STREAM, GROUP, "ctl-old", block_ms=20)
    await dead.close()  # that controller never comes back under this name

    fresh = buses(claim_idle_ms=30)
    await asyncio.sleep(0.04)  # let the entry be idle longer than claim_idle_ms
    (d2,) = await fresh.read(STREAM, GROUP, "ctl-new", block_ms=20)
    assert d2.entry_id == d1.entry_id
    assert leg_of(d2.payload) == "orphan"
    assert d2.deliveries == 2
    await fresh.ack(d2)
    assert await fresh.pending_count(STREAM, GROUP) == 0


async def test_dead_letter_keeps_reason_and_acks(
    buses: Callable[..., RedisBus], raw: aioredis.Redis
) -> None:
    bus = buses()
    await bus.ensure_group(STREAM, GROUP)
    await bus.publish(STREAM, b"\x00poison")
    (d,) = await bus.read(STREAM, GROUP, "ctl-1", block_ms=20)
    await bus.dead_letter(d, "malformed: not valid JSON: 坏消息")
    assert await bus.pending_count(STREAM, GROUP) == 0
    assert await bus.length(DEAD_LETTER_STREAM) == 1
    ((_, fields),) = await raw.xrange(DEAD_LETTER_STREAM)
    assert fields[b"reason"].decode() == "malformed: not valid JSON: 坏消息"
    assert fields[b"stream"] == STREAM.encode()
    assert fields[b"group"] == GROUP.encode()
    assert fields[b"entry_id"] == d.entry_id.encode()
    assert fields[b"m"] == b"\x00poison"
    assert await buses().read(STREAM, GROUP, "ctl-1", block_ms=20) == []


async def test_ledger_get_set_and_expiry(
    buses: Callable[..., RedisBus], raw: aioredis.Redis
) -> None:
    bus = buses()
    assert await bus.ledger_get("cmd-1") is None
    await bus.ledger_set("cmd-1", LedgerState.STARTED)
    assert await bus.ledger_get("cmd-1") is LedgerState.STARTED
    # shared between processes
    assert await buses().ledger_get("cmd-1") is LedgerState.STARTED
    # kept about a day, not forever
    ttl = await raw.ttl(LEDGER_PREFIX + "cmd-1")
    assert 0 < ttl <= LEDGER_TTL
    assert LEDGER_TTL >= 3600


async def test_ack_with_ledger_key_marks_done_in_one_transaction(
    buses: Callable[..., RedisBus], redis_db: str
) -> None:
    bus = buses()
    await bus.ensure_group(STREAM, GROUP)
    await bus.ledger_set("cmd-1", LedgerState.STARTED)
    await bus.publish(STREAM, answer("x", "cmd-1"))
    (d,) = await bus.read(STREAM, GROUP, "ctl-1", block_ms=20)

    watcher = aioredis.Redis.from_url(redis_db)
    try:
        async with watcher.monitor() as mon:
            await bus.ack(d, ledger_key="cmd-1")
            seen: list[str] = []
            while "EXEC" not in seen:
                cmd = await asyncio.wait_for(mon.next_command(), 2.0)
                seen.append(cmd["command"].split(" ", 1)[0].upper())
    finally:
        await watcher.aclose()
    ours = [x for x in seen if x in ("MULTI", "SET", "XACK", "EXEC")]
    assert ours == ["MULTI", "SET", "XACK", "EXEC"], seen

    assert await bus.ledger_get("cmd-1") is LedgerState.DONE
    assert await bus.pending_count(STREAM, GROUP) == 0
    # a plain ack leaves the ledger alone
    await bus.publish(STREAM, answer("y", "cmd-2"))
    (d,) = await bus.read(STREAM, GROUP, "ctl-1", block_ms=20)
    await bus.ack(d)
    assert await bus.ledger_get("cmd-2") is None


# =========================================================================== consumer on Redis


async def test_consumer_dead_letters_malformed_and_goes_on(
    buses: Callable[..., RedisBus], raw: aioredis.Redis
) -> None:
    bus = buses()
    seen: list[str] = []

    async def handler(message: c.Message, in_flight: bool) -> None:
        seen.append(str(getattr(message, "leg_id", "")))

    await bus.publish(STREAM, b"not json at all")
    await bus.publish(STREAM, b'{"type": "Teleport", "v": 1}')
    await bus.publish(STREAM, answer("good"))
    cons = Consumer(bus, stream=STREAM, group=GROUP, name="ctl-1", handler=handler,
                    kind=c.Command, block_ms=20)  # fmt: skip
    task = asyncio.create_task(cons.run())
    try:
        await eventually(lambda: seen, what="the good message")
    finally:
        cons.stop()
        await asyncio.wait_for(task, 2.0)
    assert seen == ["good"]
    reasons = [f[b"reason"].decode() for _, f in await raw.xrange(DEAD_LETTER_STREAM)]
    assert len(reasons) == 2
    assert reasons[0].startswith("malformed: not valid JSON")
    assert reasons[1] == "malformed: unknown message type 'Teleport'"
    assert await bus.pending_count(STREAM, GROUP) == 0


async def test_killed_mid_handling_redelivered_with_in_flight_once(
    buses: Callable[..., RedisBus],
) -> None:
    """The controller is killed while running a command: the restarted one gets it again,
    is told it was in flight, and a later duplicate of it runs nothing."""
    first_bus = buses()
    started = asyncio.Event()

    async def hang(message: c.Message, in_flight: bool) -> None:
        started.set()
        await asyncio.Event().wait()  # never returns: killed here

    await first_bus.publish(STREAM, answer("x", "cmd-77"))
    first = Consumer(first_bus, stream=STREAM, group=GROUP, name="ctl-1", handler=hang,
                     ledger=True, block_ms=20)  # fmt: skip
    task = asyncio.create_task(first.run())
    await asyncio.wait_for(started.wait(), 2.0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await first_bus.close()

    calls: list[tuple[str, bool]] = []

    async def record(message: c.Message, in_flight: bool) -> None:
        calls.append((message.id, in_flight))

    second_bus = buses()
    second = Consumer(second_bus, stream=STREAM, group=GROUP, name="ctl-1", handler=record,
                      ledger=True, block_ms=20)  # fmt: skip
    task = asyncio.create_task(second.run())
    try:
        await eventually(lambda: second.stats.handled == 1, what="redelivered command")
        await second_bus.publish(STREAM, answer("x", "cmd-77"))  # a duplicate later on
        await eventually(lambda: second.stats.duplicates == 1, what="duplicate skipped")
    finally:
        second.stop()
        await asyncio.wait_for(task, 2.0)
    assert calls == [("cmd-77", True)]
    assert await second_bus.ledger_get("cmd-77") is LedgerState.DONE
    assert await second_bus.pending_count(STREAM, GROUP) == 0


async def test_streams_are_trimmed_behind_the_slowest_consumer_group(redis_db: str):
    """Entries every group acknowledged go; anything a group has not read or not acked
    stays, however long that group is away (a projector down for hours loses no event)."""
    from switch_control.bus.redis_streams import trim_consumed

    client = aioredis.Redis.from_url(redis_db, decode_responses=False)
    try:
        stream = "test:trim"
        ids = [await client.xadd(stream, {b"m": b"%d" % i}) for i in range(10)]
        assert await trim_consumed(client, stream, keep_s=0, approximate=False) == 0  # no group yet
        await client.xgroup_create(stream, "fast", id="0")
        await client.xgroup_create(stream, "slow", id="0")
        fast = await client.xreadgroup("fast", "f1", {stream: ">"}, count=10)
        await client.xack(stream, "fast", *[eid for eid, _ in fast[0][1]])
        slow = await client.xreadgroup("slow", "s1", {stream: ">"}, count=6)
        await client.xack(stream, "slow", *[eid for eid, _ in slow[0][1]][:4])
        # slow: 0-3 acked, 4-5 pending, 6-9 never read -> 0-3 may go, nothing else
        assert await trim_consumed(client, stream, keep_s=0, approximate=False) == 4
        left = [eid for eid, _ in await client.xrange(stream)]
        assert left == ids[4:]
        await client.xack(stream, "slow", *ids[4:6])
        assert await trim_consumed(client, stream, keep_s=0, approximate=False) == 2
        rest = await client.xreadgroup("slow", "s1", {stream: ">"}, count=10)
        assert [eid for eid, _ in rest[0][1]] == ids[6:]  # the unread ones are all there
        await client.xack(stream, "slow", *ids[6:])
        assert await trim_consumed(client, stream, keep_s=0, approximate=False) == 4
        assert await client.xlen(stream) == 0
        ids = [await client.xadd(stream, {b"m": b"x"}) for _ in range(3)]
        got = await client.xreadgroup("fast", "f1", {stream: ">"}, count=10)
        await client.xack(stream, "fast", *[eid for eid, _ in got[0][1]])
        got = await client.xreadgroup("slow", "s1", {stream: ">"}, count=10)
        await client.xack(stream, "slow", *[eid for eid, _ in got[0][1]])
        # consumed by all, but recent: kept as a short history
        assert await trim_consumed(client, stream, keep_s=60, approximate=False) == 0
        assert await client.xlen(stream) == 3
    finally:
        await client.aclose()


async def test_a_restarted_consumers_backlog_is_paged_while_its_first_page_is_unacked(
    buses: Callable[..., RedisBus],
) -> None:
    """As MemoryBus: a consumer that handles entries concurrently (issue 13) has the
    first page of its backlog still unacked when it reads the next one."""
    bus = buses()
    for i in range(5):
        await bus.publish(STREAM, answer(f"m{i}"))
    await bus.read(STREAM, GROUP, "ctl-1", count=10, block_ms=50)  # then "crash"
    restarted = buses()
    await restarted.publish(STREAM, answer("new"))
    pages = [await restarted.read(STREAM, GROUP, "ctl-1", count=3, block_ms=50) for _ in range(3)]
    assert [[leg_of(d.payload) for d in page] for page in pages] == [
        ["m0", "m1", "m2"],
        ["m3", "m4"],
        ["new"],
    ]
    assert all(d.deliveries == 2 for d in pages[0] + pages[1])
