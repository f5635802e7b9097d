"""The DTMF collection rules every driver shares (IVR-2), on a plain queue of digits."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from switch_control.drivers.dtmf import collect


async def typed(keys: str, *, gap: float = 0.0, first_after: float = 0.0) -> asyncio.Queue[str]:
    q: asyncio.Queue[str] = asyncio.Queue()

    async def press() -> None:
        await asyncio.sleep(first_after)
        for k in keys:
            q.put_nowait(k)
            await asyncio.sleep(gap)

    asyncio.get_running_loop().create_task(press())
    return q


def rules(**over: Any) -> dict[str, Any]:
    base = dict(
        max_digits=4,
        terminator="#",
        first_digit_timeout=0.5,
        inter_digit_timeout=0.3,
        overall_timeout=2.0,
    )
    base.update(over)
    return base


async def test_stops_at_max_digits_and_leaves_the_rest():
    q = await typed("123456")
    assert await collect(q.get, **rules()) == ("1234", False)


async def test_terminator_ends_input_and_is_not_part_of_it():
    q = await typed("12#9")
    assert await collect(q.get, **rules()) == ("12", False)


async def test_nobody_presses_anything_times_out_empty():
    q: asyncio.Queue[str] = asyncio.Queue()
    assert await collect(q.get, **rules(first_digit_timeout=0.05)) == ("", True)


async def test_a_pause_between_digits_ends_input_with_what_was_typed():
    q = await typed("12", gap=0.01)
    assert await collect(q.get, **rules(inter_digit_timeout=0.1)) == ("12", True)


async def test_overall_timeout_caps_slow_typing():
    q = await typed("123456789", gap=0.08)
    digits, timed_out = await collect(
        q.get,
        **rules(max_digits=9, inter_digit_timeout=0.2, overall_timeout=0.3),
    )
    assert timed_out and 2 <= len(digits) < 9


async def test_barge_in_runs_once_on_the_first_key():
    calls: list[str] = []

    async def stop_prompt() -> None:
        calls.append("stop")

    q = await typed("#", first_after=0.02)
    assert await collect(q.get, **rules(), on_first_digit=stop_prompt) == ("", False)
    assert calls == ["stop"]
    q = await typed("123")
    calls.clear()
    await collect(q.get, **rules(max_digits=3), on_first_digit=stop_prompt)
    assert calls == ["stop"]


async def test_on_a_leg_keys_during_the_prompt_count_and_stop_it_and_nothing_stays():
    from switch_control.drivers.dtmf import collect_on_leg

    collectors: dict[str, asyncio.Queue[str]] = {}
    stopped: list[str] = []

    async def start() -> str:
        collectors["leg"].put_nowait("7")  # pressed while the prompt plays
        collectors["leg"].put_nowait("#")
        return "pb-1"

    async def stop(playback_id: str) -> None:
        stopped.append(playback_id)

    result = await collect_on_leg(
        collectors, "leg", start_prompt=start, stop_prompt=stop, **rules()
    )
    assert result == ("7", False)
    assert stopped == ["pb-1"]  # barge-in once, not again at the end
    assert collectors == {}


async def test_on_a_leg_a_prompt_that_fails_to_start_leaves_no_collector():
    from switch_control.drivers.dtmf import collect_on_leg

    collectors: dict[str, asyncio.Queue[str]] = {}

    async def start() -> str:
        raise RuntimeError("no such leg")

    async def stop(playback_id: str) -> None:
        raise AssertionError("nothing is playing")

    with pytest.raises(RuntimeError):
        await collect_on_leg(collectors, "leg", start_prompt=start, stop_prompt=stop, **rules())
    assert collectors == {}
