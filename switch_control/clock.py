"""The ``Clock`` port (DESIGN.md "State that must survive", STYLE.md "Time comes from a
Clock"): wall-clock time and waiting for it. ``SystemClock`` in the daemon; ``FakeClock``
in tests, which moves only when told (``advance``), so no test sleeps.

Times are epoch seconds (what durable timers store in Redis, so that another process or a
restarted one reads the same due times).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Epoch seconds."""

    async def wait(self, event: asyncio.Event, timeout: float) -> bool:
        """Until ``event`` is set (True) or ``timeout`` seconds of this clock passed
        (False)."""


class SystemClock:
    def now(self) -> float:
        return time.time()

    async def wait(self, event: asyncio.Event, timeout: float) -> bool:
        if event.is_set():
            return True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(timeout, 0.0)):
                await event.wait()
            return True
        return False


class FakeClock:
    """Time stands still until ``advance``; waiters whose deadline passed wake then."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    @property
    def waiting(self) -> int:
        """How many waits are pending (a test advances once the code under test waits)."""
        return sum(1 for *_, f in self._sleepers if not f.done())

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("time does not go back")
        self._now += seconds
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, fut = heapq.heappop(self._sleepers)
            if not fut.done():
                fut.set_result(None)

    async def wait(self, event: asyncio.Event, timeout: float) -> bool:
        if event.is_set():
            return True
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + max(timeout, 0.0), next(self._seq), fut))
        if timeout <= 0:
            self.advance(0)
        waiter = asyncio.ensure_future(event.wait())
        try:
            await asyncio.wait((fut, waiter), return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            if not fut.done():
                fut.cancel()
        return event.is_set()
