"""DTMF collection rules shared by every driver (IVR-2: max digits, terminator, timeouts).

The drivers differ only in where digits come from (ARI ``ChannelDtmfReceived``, ESL
``DTMF`` events, the fake's queue) and in how a prompt is stopped; the rules are here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


async def collect(
    next_digit: Callable[[], Awaitable[str]],
    *,
    max_digits: int,
    terminator: str,
    first_digit_timeout: float,
    inter_digit_timeout: float,
    overall_timeout: float,
    on_first_digit: Callable[[], Awaitable[None]] | None = None,
) -> tuple[str, bool]:
    """Collect up to ``max_digits`` digits; returns ``(digits, timed_out)``.

    The terminator ends the input and is not part of it. The first digit must come within
    ``first_digit_timeout``, each next one within ``inter_digit_timeout`` of the previous,
    and all of them within ``overall_timeout``. ``on_first_digit`` runs once, when the
    first key (terminator included) is pressed: barge-in, the prompt stops.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + overall_timeout
    digits, timeout = "", first_digit_timeout
    first = on_first_digit
    while len(digits) < max_digits:
        remaining = min(timeout, deadline - loop.time())
        if remaining <= 0:
            return digits, True
        try:
            digit = await asyncio.wait_for(next_digit(), remaining)
        except TimeoutError:
            return digits, True
        if first is not None:
            await first()
            first = None
        if digit == terminator:
            return digits, False
        digits += digit
        timeout = inter_digit_timeout
    return digits, False


async def collect_on_leg(
    collectors: dict[str, asyncio.Queue[str]],
    leg_id: str,
    *,
    start_prompt: Callable[[], Awaitable[str]] | None,
    stop_prompt: Callable[[str], Awaitable[None]],
    max_digits: int,
    terminator: str,
    first_digit_timeout: float,
    inter_digit_timeout: float,
    overall_timeout: float,
) -> tuple[str, bool]:
    """``collect`` for a driver that routes a leg's DTMF events to ``collectors[leg_id]``:
    the queue is there before the prompt starts (keys pressed during it count), the first
    key stops the prompt (``stop_prompt`` with the id ``start_prompt`` returned), and the
    queue and a prompt still playing are gone afterwards, whatever happened."""
    queue: asyncio.Queue[str] = asyncio.Queue()
    collectors[leg_id] = queue
    playback = ""

    async def barge_in() -> None:
        nonlocal playback
        if playback:
            playing, playback = playback, ""
            await stop_prompt(playing)

    try:
        if start_prompt is not None:
            playback = await start_prompt()
        return await collect(
            queue.get,
            max_digits=max_digits,
            terminator=terminator,
            first_digit_timeout=first_digit_timeout,
            inter_digit_timeout=inter_digit_timeout,
            overall_timeout=overall_timeout,
            on_first_digit=barge_in,
        )
    finally:
        if collectors.get(leg_id) is queue:
            del collectors[leg_id]
        await barge_in()
