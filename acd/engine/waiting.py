"""Estimated wait time announced to a caller (ACD-5).

From the caller's place in line, the agents staffed and free now, and the recent
handle times (talk + wrap-up) of the queue: with ``s`` staffed agents busy, one is
freed every AHT/s seconds on average, so the caller at place ``p`` with ``f`` agents
free waits about ``(p - f) * AHT / s``. The queue-level expectation from traffic alone
is Erlang C's ASA (``erlang.average_speed_of_answer``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def average_handle_time(recent: Sequence[float], default: float, window: int = 50) -> float:
    """The mean of the last ``window`` handle times, or ``default`` with no history."""
    if default <= 0 or not math.isfinite(default):
        raise ValueError(f"default handle time must be > 0 seconds, not {default!r}")
    if window < 1:
        raise ValueError(f"window must be >= 1, not {window!r}")
    last = [t for t in recent[-window:] if t >= 0]
    return sum(last) / len(last) if last else default


def estimated_wait(position: int, staffed: int, free: int, aht: float) -> float | None:
    """Seconds the caller at ``position`` (1 = next) should still wait; ``None`` when no
    agent is staffed (nobody knows: announce no estimate)."""
    if position < 1:
        raise ValueError(f"a place in line starts at 1, not {position!r}")
    if staffed < 0 or free < 0 or free > staffed:
        raise ValueError(f"need 0 <= free <= staffed, got free={free} staffed={staffed}")
    if aht <= 0:
        raise ValueError(f"average handle time must be > 0 seconds, not {aht!r}")
    if staffed == 0:
        return None
    ahead = position - free
    return 0.0 if ahead <= 0 else ahead * aht / staffed
