"""Live ACD state in Redis, shared by every controller (issue 13 Part 0.4, ACD-2/7/8).

Django-free asyncio over ``redis.asyncio``: the controller is the one writer (the web
changes agent state by commands), a restarted controller re-reads it, and two
controllers on one Redis never hand one agent two calls — every check-and-write is one
Lua script (``scripts.py``, ``queue_scripts.py``), registered once per store (EVALSHA).
Every method takes ``now`` in epoch seconds from the Clock port; nothing reads a clock.

Key schema (all prefixed ``acd:``; ids are 1-64 of ``[A-Za-z0-9_.@+-]``)::

  acd:agent:<agent>          hash   the agent's live state:
                                      state    logged_out|ready|not_ready|reserved|on_call|wrap_up
                                      reason   not-ready reason ('' otherwise)
                                      since    when the state was entered
                                      idle     when the agent last became ready (longest idle)
                                      queues   queues signed into, sorted, space-joined
                                      call     call reserved for / on (reserved, on_call)
                                      ctl      controller that reserved / carries that call
                                      until    reservation expiry (reserved) | wrap-up end
                                      day      local day (days since 1970) of the counters
                                      calls    calls answered that day
                                      talk     talk seconds that day
                                      missed   offers missed in a row
  acd:queue:<queue>:agents   set    logged-in agents signed into the queue
  acd:queue:<queue>:waiting  zset   waiting call ids; score = VIP, priority, enqueue time
                                    (keys.waiting_score: ascending = served first)
  acd:call:<call>            hash   a waiting call: queue, ctl (owner), vip, prio, at
  acd:reservations           zset   agent -> reservation expiry (expire_reservations)
  acd:wrapups                zset   agent -> wrap-up end (end_wrap_ups)
  acd:ctl:<controller>:agents set   agents reserved by / on a call of that controller
  acd:ctl:<controller>:calls  set   waiting calls that controller owns
  acd:controllers            set    controllers that own ACD state (for dead_controllers)

Agent transitions (anything else is refused with InvalidTransition, nothing written)::

  logged_out -> ready | not_ready                       login
  ready | not_ready | wrap_up -> ready | not_ready      set_ready / set_not_ready
  ready -> reserved                                     reserve / reserve_first
  reserved -> ready | not_ready (missed_offers)         release / expire / recover
  reserved -> on_call                                   confirm (call leaves its queue)
  on_call -> wrap_up | ready (no wrap-up)               end_call
  wrap_up -> ready                                      end_wrap_ups (or set_ready early)
  ready | not_ready | wrap_up -> logged_out             logout (signed out of all queues)

Every change returns a ``Transition`` (previous state/reason/since/queues + the new
snapshot) for an AgentStateChanged event. The scripts derive queue and controller keys
from the hashes, so this runs on one Redis (or a replica set), not Redis Cluster.
"""

from .store import HEARTBEAT_PREFIX, LiveStore
from .types import (
    MISSED_OFFERS_REASON,
    AgentNotAvailable,
    AgentSnapshot,
    AgentState,
    CallAlreadyWaiting,
    InvalidTransition,
    LiveStateError,
    Recovery,
    Transition,
    UnknownAgent,
    UnknownCall,
    WaitingCall,
    WrongCall,
)

__all__ = [
    "HEARTBEAT_PREFIX",
    "MISSED_OFFERS_REASON",
    "AgentNotAvailable",
    "AgentSnapshot",
    "AgentState",
    "CallAlreadyWaiting",
    "InvalidTransition",
    "LiveStateError",
    "LiveStore",
    "Recovery",
    "Transition",
    "UnknownAgent",
    "UnknownCall",
    "WaitingCall",
    "WrongCall",
]
