"""Key names of the live ACD state and the waiting-order score (see the package docstring).

The Lua scripts build the same names (``acd:agent:`` .. id and so on): change both."""

from __future__ import annotations

from .types import check_time

PREFIX = "acd:"
RESERVATIONS = PREFIX + "reservations"  # zset agent_id -> reservation expiry
WRAPUPS = PREFIX + "wrapups"  # zset agent_id -> wrap-up end
CONTROLLERS = PREFIX + "controllers"  # set of controllers that ever owned ACD state

# Waiting order (ACD-2, IVR-9): one zset score, ascending = served first. The score is an
# integer below 2**53 so a double holds it exactly:
#   bit 48      0 for a VIP caller, 1 otherwise          (VIP first)
#   bits 41-47  127 - priority, priority 0..127           (higher priority first)
#   bits 0-40   milliseconds since SCORE_EPOCH            (earlier first; until 2093)
# Two callers of the same class within one millisecond are ordered by call id (Redis
# orders equal scores by member).
SCORE_EPOCH = 1_704_067_200.0  # 2024-01-01T00:00:00Z
MAX_PRIORITY = 127
_TIME_BITS = 41
_PRIO_BITS = 7


def agent(agent_id: str) -> str:
    return PREFIX + "agent:" + agent_id


def queue_agents(queue_id: str) -> str:
    return PREFIX + "queue:" + queue_id + ":agents"


def queue_waiting(queue_id: str) -> str:
    return PREFIX + "queue:" + queue_id + ":waiting"


def call(call_id: str) -> str:
    return PREFIX + "call:" + call_id


def controller_agents(controller: str) -> str:
    return PREFIX + "ctl:" + controller + ":agents"


def controller_calls(controller: str) -> str:
    return PREFIX + "ctl:" + controller + ":calls"


def waiting_score(vip: bool, priority: int, enqueued_at: float) -> int:
    """The zset score that orders waiting callers by VIP, priority, then enqueue time."""
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise ValueError(f"priority must be an integer 0..{MAX_PRIORITY}, got {priority!r}")
    if not 0 <= priority <= MAX_PRIORITY:
        raise ValueError(f"priority must be 0..{MAX_PRIORITY}, got {priority}")
    ms = round((check_time("enqueued_at", enqueued_at) - SCORE_EPOCH) * 1000)
    if not 0 <= ms < 1 << _TIME_BITS:
        raise ValueError(f"enqueued_at {enqueued_at} is outside 2024..2093")
    return (
        ((0 if vip else 1) << (_TIME_BITS + _PRIO_BITS))
        | ((MAX_PRIORITY - priority) << _TIME_BITS)
        | ms
    )


def day_number(now: float, utc_offset_s: int) -> int:
    """The local day ``now`` falls in, as days since 1970-01-01 (same rule as the Lua)."""
    return int((now + utc_offset_s) // 86400)
