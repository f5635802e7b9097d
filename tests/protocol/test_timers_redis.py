"""Issue 13 part 0.3: durable timers on a real redis-server with a fake clock (no test
sleeps): they fire when due and in order, once even when two ticks race, not after a
cancel, and a restarted controller fires at once what fell due while it was down — or
what it was firing when it died (ACD-5/6/7 ring timeout, wrap-up, announcements)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from switch_control.clock import FakeClock
from switch_control.timers import Timer, Timers, timer_keys

pytestmark = pytest.mark.redis


@pytest.fixture
async def client(redis_db: str) -> AsyncIterator[aioredis.Redis]:
    r = aioredis.Redis.from_url(redis_db)
    yield r
    await r.aclose()


class Log:
    def __init__(self) -> None:
        self.fired: list[tuple[str, dict[str, object]]] = []

    async def __call__(self, timer: Timer) -> None:
        self.fired.append((timer.id, timer.data))


def timers(client: aioredis.Redis, clock: FakeClock, log: Log, name: str = "ctl-1") -> Timers:
    t = Timers(client, name, clock)
    t.on("ring_timeout", log)
    t.on("wrap_up_end", log)
    return t


async def test_timers_fire_when_due_in_order_with_their_data(client: aioredis.Redis) -> None:
    clock, log = FakeClock(), Log()
    t = timers(client, clock, log)
    await t.schedule_in("wrap:agent-7", "wrap_up_end", 30, {"agent_id": "7"})
    await t.schedule_in("ring:leg-1", "ring_timeout", 20, {"leg_id": "leg-1"})
    assert await t.fire_due() == 0
    clock.advance(19.9)
    assert await t.fire_due() == 0 and log.fired == []
    clock.advance(0.1)
    assert await t.fire_due() == 1
    assert log.fired == [("ring:leg-1", {"leg_id": "leg-1"})]
    clock.advance(60)
    assert await t.fire_due() == 1
    assert log.fired[-1] == ("wrap:agent-7", {"agent_id": "7"})
    assert await t.fire_due() == 0  # fired once
    assert await client.hlen(timer_keys("ctl-1")[2]) == 0  # nothing left behind


async def test_cancel_by_id_and_reschedule_moves(client: aioredis.Redis) -> None:
    clock, log = FakeClock(), Log()
    t = timers(client, clock, log)
    await t.schedule_in("ring:leg-1", "ring_timeout", 20)
    await t.schedule_in("ring:leg-2", "ring_timeout", 20)
    assert await t.cancel("ring:leg-1") is True  # the agent answered
    assert await t.cancel("ring:leg-1") is False
    await t.schedule_in("ring:leg-2", "ring_timeout", 40)  # moved, not doubled
    clock.advance(30)
    assert await t.fire_due() == 0
    clock.advance(10)
    assert await t.fire_due() == 1
    assert [x for x, _ in log.fired] == ["ring:leg-2"]


async def test_two_racing_ticks_fire_a_timer_once(client: aioredis.Redis) -> None:
    clock, log = FakeClock(), Log()
    one, two = timers(client, clock, log), timers(client, clock, log)
    for i in range(50):
        await one.schedule_in(f"t{i}", "ring_timeout", 1)
    clock.advance(1)
    counts = await asyncio.gather(one.fire_due(), two.fire_due(), one.fire_due())
    assert sum(counts) == 50
    assert sorted(x for x, _ in log.fired) == sorted(f"t{i}" for i in range(50))


async def test_a_timer_due_while_the_controller_was_down_fires_at_once_on_start(
    client: aioredis.Redis,
) -> None:
    clock, log = FakeClock(), Log()
    before = timers(client, clock, log)
    await before.schedule_in("wrap:agent-7", "wrap_up_end", 30)
    # the controller is down for two minutes; a new process starts
    clock.advance(120)
    after = timers(client, clock, log)
    task = asyncio.create_task(after.run())
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 3
        while not log.fired and loop.time() < deadline:
            await asyncio.sleep(0.002)
        assert [x for x, _ in log.fired] == ["wrap:agent-7"]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_the_run_loop_fires_on_the_fake_clock_and_wakes_for_new_timers(
    client: aioredis.Redis,
) -> None:
    clock, log = FakeClock(), Log()
    t = timers(client, clock, log)
    task = asyncio.create_task(t.run())
    loop = asyncio.get_running_loop()

    async def until(pred: object, what: str) -> None:
        deadline = loop.time() + 3
        while not pred():  # type: ignore[operator]
            if loop.time() > deadline:
                raise AssertionError(what)
            await asyncio.sleep(0.002)

    try:
        await until(lambda: clock.waiting, "the loop waits")
        await t.schedule_in("ring:leg-1", "ring_timeout", 20)  # wakes the loop to re-plan
        clock.advance(19)
        await until(lambda: clock.waiting, "waiting again")
        assert log.fired == []
        clock.advance(1)
        await until(lambda: log.fired, "fired at its due time")
        assert [x for x, _ in log.fired] == ["ring:leg-1"]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_timer_taken_by_a_process_that_died_fires_again_on_restart(
    client: aioredis.Redis,
) -> None:
    clock = FakeClock()
    started = asyncio.Event()

    async def killed(timer: Timer) -> None:
        started.set()
        await asyncio.Event().wait()  # the process dies in the handler

    first = Timers(client, "ctl-1", clock)
    first.on("ring_timeout", killed)
    await first.schedule_in("ring:leg-1", "ring_timeout", 5, {"leg_id": "leg-1"})
    clock.advance(5)
    tick = asyncio.create_task(first.fire_due())
    await started.wait()
    tick.cancel()
    await asyncio.gather(tick, return_exceptions=True)

    log = Log()
    second = timers(client, clock, log)
    assert await second.recover() == 1
    assert await second.fire_due() == 1
    assert log.fired == [("ring:leg-1", {"leg_id": "leg-1"})]


async def test_a_failing_handler_or_unknown_kind_does_not_stop_the_others(
    client: aioredis.Redis,
) -> None:
    clock, log = FakeClock(), Log()
    t = timers(client, clock, log)

    async def broken(timer: Timer) -> None:
        raise RuntimeError("bug in a feature")

    t.on("announce", broken)
    await t.schedule_in("a1", "announce", 1)
    await t.schedule_in("x1", "no_such_kind", 1)
    await t.schedule_in("r1", "ring_timeout", 2)
    clock.advance(2)
    assert await t.fire_due() == 3
    assert [x for x, _ in log.fired] == ["r1"]
    assert await t.pending() == 0  # not retried in a loop


async def test_controllers_have_their_own_timers(client: aioredis.Redis) -> None:
    clock, log1, log2 = FakeClock(), Log(), Log()
    one, two = timers(client, clock, log1, "ctl-1"), timers(client, clock, log2, "ctl-2")
    await one.schedule_in("t", "ring_timeout", 1)
    clock.advance(1)
    assert await two.fire_due() == 0
    assert await one.fire_due() == 1


async def test_bad_schedules_are_refused(client: aioredis.Redis) -> None:
    t = timers(client, FakeClock(), Log())
    with pytest.raises(ValueError, match="id and a kind"):
        await t.schedule("", "ring_timeout", 1.0)
    with pytest.raises(ValueError, match="already have a handler"):
        t.on("ring_timeout", Log())
