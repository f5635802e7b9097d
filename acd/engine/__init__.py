"""The ACD's pure decisions (ACD-1 … ACD-6): no Django, no I/O, no asyncio.

The controller's ACD runtime maps its live state and the configuration into the
snapshots of ``snapshots`` and asks: who gets this call (``pick_agent``, ``dispatch``),
which call is next (``order_calls``, ``next_call``), where a call overflows
(``decide_overflow``), how long a caller will wait (``estimated_wait``); ``erlang``
also serves reports.
"""

from .dispatch import Dispatch, Offer, dispatch
from .ordering import call_order_key, next_call, order_calls, position_of
from .overflow import (
    OverflowConfigError,
    OverflowDecision,
    decide_overflow,
    find_overflow_loop,
    max_wait_deadline,
    staffed_agents,
    validate_overflow,
)
from .region import match_region_rule
from .routing import Pick, PickReason, pick_agent
from .snapshots import (
    AgentState,
    AgentView,
    OverflowAction,
    OverflowRule,
    OverflowTrigger,
    PickMemory,
    QueueMember,
    QueueView,
    Region,
    RegionRule,
    RegionTargetKind,
    StickyPolicy,
    Strategy,
    WaitingCall,
)
from .waiting import average_handle_time, estimated_wait

__all__ = [
    "AgentState",
    "AgentView",
    "Dispatch",
    "Offer",
    "OverflowAction",
    "OverflowConfigError",
    "OverflowDecision",
    "OverflowRule",
    "OverflowTrigger",
    "Pick",
    "PickMemory",
    "PickReason",
    "QueueMember",
    "QueueView",
    "Region",
    "RegionRule",
    "RegionTargetKind",
    "StickyPolicy",
    "Strategy",
    "WaitingCall",
    "average_handle_time",
    "call_order_key",
    "decide_overflow",
    "dispatch",
    "estimated_wait",
    "find_overflow_loop",
    "match_region_rule",
    "max_wait_deadline",
    "next_call",
    "order_calls",
    "pick_agent",
    "position_of",
    "staffed_agents",
    "validate_overflow",
]
