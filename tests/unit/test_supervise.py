"""supervise(): one bad task never takes the controller down, and shutdown still works."""

from __future__ import annotations

import asyncio
import itertools
import logging

import pytest

from switch_control.supervise import supervise

LOGGER = "switch_control.supervise"


async def test_crashing_task_is_logged_and_restarted(caplog: pytest.LogCaptureFixture) -> None:
    stop = asyncio.Event()
    runs = 0

    async def task() -> None:
        nonlocal runs
        runs += 1
        if runs <= 3:
            raise RuntimeError(f"boom {runs}")
        stop.set()  # healthy on the 4th start; then we shut down

    with caplog.at_level(logging.WARNING, logger=LOGGER):
        await asyncio.wait_for(
            supervise("publisher", task, backoff_initial=0.001, backoff_max=0.002, stop=stop), 5
        )

    assert runs == 4  # 3 crashes -> 3 restarts
    crashes = [r for r in caplog.records if "crashed" in r.getMessage()]
    assert len(crashes) == 3
    for i, rec in enumerate(crashes, start=1):
        assert rec.levelno == logging.ERROR
        assert "publisher" in rec.getMessage()
        assert rec.exc_info is not None  # traceback logged
        assert isinstance(rec.exc_info[1], RuntimeError)
        assert str(rec.exc_info[1]) == f"boom {i}"


async def test_backoff_grows_between_restarts() -> None:
    stop = asyncio.Event()
    starts: list[float] = []
    loop = asyncio.get_running_loop()

    async def task() -> None:
        starts.append(loop.time())
        if len(starts) == 4:
            stop.set()
            return
        raise ValueError("again")

    await asyncio.wait_for(
        supervise("t", task, backoff_initial=0.01, backoff_max=0.02, stop=stop), 5
    )
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(gaps) == 3
    assert gaps[0] >= 0.009  # not a hot loop
    assert gaps[1] >= 0.019 and gaps[2] >= 0.019  # doubled, then capped at backoff_max


async def test_task_that_returns_is_restarted_until_stop(caplog: pytest.LogCaptureFixture) -> None:
    stop = asyncio.Event()
    runs = 0

    async def task() -> None:
        nonlocal runs
        runs += 1
        if runs == 3:
            stop.set()

    with caplog.at_level(logging.WARNING, logger=LOGGER):
        await asyncio.wait_for(supervise("heartbeat", task, backoff_initial=0.001, stop=stop), 5)
    assert runs == 3
    assert sum("returned; restarting" in r.getMessage() for r in caplog.records) == 2


async def test_stop_event_ends_a_running_supervisor() -> None:
    stop = asyncio.Event()
    runs = 0

    async def task() -> None:  # a loop that returns now and then (like a consumer)
        nonlocal runs
        runs += 1
        await asyncio.sleep(0.002)

    sup = asyncio.create_task(supervise("commands", task, backoff_initial=0.001, stop=stop))
    while runs < 3:
        await asyncio.sleep(0.002)
    assert not sup.done()
    stop.set()
    await asyncio.wait_for(sup, 1.0)
    assert sup.exception() is None


async def test_already_set_stop_never_starts_the_task() -> None:
    stop = asyncio.Event()
    stop.set()
    started = False

    async def task() -> None:
        nonlocal started
        started = True

    await asyncio.wait_for(supervise("t", task, stop=stop), 1.0)
    assert not started


async def test_without_stop_a_clean_return_ends_supervision() -> None:
    runs = 0

    async def task() -> None:
        nonlocal runs
        runs += 1

    await asyncio.wait_for(supervise("once", task, backoff_initial=0.001), 1.0)
    assert runs == 1


async def test_stop_during_backoff_returns_promptly() -> None:
    """BUG: supervise sleeps the whole backoff (up to backoff_max, 30 s by default) before it
    looks at ``stop`` again, so SIGTERM while a task is crash-looping waits that long (the
    daemon then gives up after drain_timeout and logs a misleading "command in hand did not
    finish in time")."""
    stop = asyncio.Event()
    crashed = asyncio.Event()

    async def task() -> None:
        crashed.set()
        raise ConnectionError("redis away")

    sup = asyncio.create_task(supervise("commands", task, backoff_initial=10.0, stop=stop))
    try:
        await asyncio.wait_for(crashed.wait(), 1.0)
        await asyncio.sleep(0.01)  # now in the 10 s backoff sleep
        stop.set()
        done, _ = await asyncio.wait({sup}, timeout=0.5)
        assert sup in done, "supervise did not return within 0.5 s of stop (sleeps backoff)"
    finally:
        sup.cancel()
        await asyncio.gather(sup, return_exceptions=True)


async def test_cancel_propagates_from_a_running_task() -> None:
    started = asyncio.Event()
    runs = 0

    async def task() -> None:
        nonlocal runs
        runs += 1
        started.set()
        await asyncio.Event().wait()

    sup = asyncio.create_task(supervise("t", task, backoff_initial=0.001, stop=asyncio.Event()))
    await asyncio.wait_for(started.wait(), 1.0)
    sup.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sup
    assert sup.cancelled()
    assert runs == 1  # cancellation is not a crash: no restart


async def test_cancel_propagates_during_backoff() -> None:
    crashed = asyncio.Event()

    async def task() -> None:
        crashed.set()
        raise RuntimeError("x")

    sup = asyncio.create_task(supervise("t", task, backoff_initial=10.0))
    await asyncio.wait_for(crashed.wait(), 1.0)
    await asyncio.sleep(0.005)
    sup.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(sup, 1.0)


async def test_cancelled_error_raised_by_the_task_is_not_swallowed() -> None:
    runs = 0

    async def task() -> None:
        nonlocal runs
        runs += 1
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await supervise("t", task, backoff_initial=0.001, stop=asyncio.Event())
    assert runs == 1
