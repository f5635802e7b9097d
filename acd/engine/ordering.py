"""Order of waiting calls (ACD-2, IVR-9): VIP callers first, then higher priority, then
the longest waiting; the call id breaks a tie of equal entry times, so every
controller sees the same line."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .snapshots import WaitingCall


def call_order_key(call: WaitingCall) -> tuple[bool, int, float, str]:
    """Sort key: smaller goes first."""
    return (not call.vip, -call.priority, call.enqueued_at, call.call_id)


def order_calls(calls: Iterable[WaitingCall]) -> list[WaitingCall]:
    """The calls in the order they are served."""
    return sorted(calls, key=call_order_key)


def next_call(calls: Iterable[WaitingCall]) -> WaitingCall | None:
    """The call served next, or ``None`` for an empty line (O(n), no sort)."""
    return min(calls, key=call_order_key, default=None)


def position_of(call_id: str, calls: Sequence[WaitingCall]) -> int:
    """The 1-based place of a call in line, as announced to the caller (ACD-5)."""
    target = next((c for c in calls if c.call_id == call_id), None)
    if target is None:
        raise KeyError(f"call {call_id} is not waiting here")
    key = call_order_key(target)
    return 1 + sum(1 for c in calls if call_order_key(c) < key)
