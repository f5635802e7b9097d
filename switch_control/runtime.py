"""How the long-running daemons (controller, projector) run their event loop (SW-1, RPT-1).

``run_daemon(main)`` is ``asyncio.run`` with two changes that matter at call-center rates
(``bench/bench_call_path.py`` measures both):

- uvloop's event loop when it is installed (the ``fast`` extra): its socket I/O and
  callbacks are C; the stdlib loop's selector and self-pipe wake-ups cost the projector
  ~10 % of its CPU;
- the cyclic garbage collector stops walking what start-up left behind. Django, the
  settings, the contract classes and the driver are tens of thousands of objects that live
  as long as the process; every full collection walked all of them again (py-spy: ~7 % of
  the controller's CPU at 100 calls/s in ``gc_collect_main``). ``gc.freeze()`` moves them
  out of the collector's sight, and a larger young generation lets the short-lived objects
  of one event (parsed JSON, dataclasses) die by reference counting before a collection
  has to look at them. Reference cycles are still collected, only less often.
"""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import Awaitable, Callable
from typing import Any

# young generation: collect after this many net container allocations (CPython's default
# is 700); the older generations keep their default ratios
GC_THRESHOLD0 = 20_000


def settle_gc(threshold0: int = GC_THRESHOLD0) -> int:
    """Collect once, freeze every object that survives, raise the young threshold.
    Returns how many objects were frozen."""
    gc.collect()
    gc.freeze()
    _, t1, t2 = gc.get_threshold()
    gc.set_threshold(threshold0, t1, t2)
    return gc.get_freeze_count()


def lower_priority(increment: int) -> int:
    """Give up CPU priority (``nice``) for background work, e.g. the CDR projector.

    On a busy box the projector's batches (a few hundred events at once) would otherwise
    compete for a core with Asterisk and the controller just when calls arrive: with it
    niced, calls are answered first and CDRs trail by a little more. Its total work is the
    same, so it still keeps up whenever the machine does. Returns the new niceness.

    Call it before the process starts any thread: on Linux niceness belongs to a thread,
    and a new thread inherits its creator's (the projector's DB worker thread does)."""
    if increment <= 0:
        return os.nice(0)
    try:
        return os.nice(increment)
    except OSError:  # not allowed here (some containers): run at the default priority
        return os.nice(0)


def run_daemon(main: Callable[[], Awaitable[Any]]) -> Any:
    """Run ``main()`` to completion on a fresh event loop, the daemon way (see above)."""
    settle_gc()
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    try:
        import uvloop
    except ImportError:
        pass
    else:
        loop_factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(_as_coroutine(main))


async def _as_coroutine(main: Callable[[], Awaitable[Any]]) -> Any:
    return await main()
