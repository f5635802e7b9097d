"""Plain values the live ACD store hands out: agent states, snapshots, transitions,
waiting calls, and the errors a refused operation raises (ACD-7, ACD-2)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import StrEnum

# Ids end up inside Redis key names and in space-joined lists inside Lua: keep them to a
# safe alphabet (no spaces, no ':' so a key name can be split back unambiguously).
_ID = re.compile(r"[A-Za-z0-9_.@+-]{1,64}\Z")


class AgentState(StrEnum):
    """ACD-7: the live state of an agent."""

    LOGGED_OUT = "logged_out"
    READY = "ready"
    NOT_READY = "not_ready"
    RESERVED = "reserved"  # an offer is ringing the agent's phone
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"


MISSED_OFFERS_REASON = "missed_offers"


def check_id(kind: str, value: str) -> str:
    """``value`` if it is a usable agent/queue/call/controller id, else ValueError."""
    if not isinstance(value, str) or not _ID.match(value):
        raise ValueError(
            f"{kind} id {value!r} is not valid: 1-64 characters of letters, digits, _ . @ + -"
        )
    return value


def check_time(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number of seconds, got {value!r}")
    return float(value)


@dataclass(frozen=True, slots=True)
class AgentSnapshot:
    """One agent's live state as Redis holds it (read with the store's ``agent()``).

    ``since`` is when the current state was entered (time in state = now - since);
    ``idle_since`` when the agent last became ready from a not-ready/wrap-up/login (kept
    across an offer that was released, so "longest idle" is fair, ACD-1). ``call_id``
    and ``controller`` are set while reserved or on call; ``until`` is the reservation
    expiry (reserved) or the end of wrap-up (wrap_up). Counters are for the local day
    of ``day`` (see ``LiveStore(utc_offset_s=...)``)."""

    agent_id: str
    state: AgentState
    reason: str
    since: float
    idle_since: float
    queues: tuple[str, ...]
    call_id: str | None
    controller: str | None
    until: float | None
    calls_today: int
    talk_today_s: float
    missed_in_row: int
    day: int

    def time_in_state(self, now: float) -> float:
        return max(0.0, now - self.since)


@dataclass(frozen=True, slots=True)
class Transition:
    """What one store operation changed on one agent, for an AgentStateChanged event
    (ACD-7: every change is logged, with the time spent in the previous state)."""

    action: str
    previous_state: AgentState
    previous_reason: str
    previous_since: float
    previous_queues: tuple[str, ...]
    agent: AgentSnapshot

    @property
    def agent_id(self) -> str:
        return self.agent.agent_id

    @property
    def changed(self) -> bool:
        """False for an idempotent repeat (ready while ready), so nothing to publish."""
        return (
            self.previous_state is not self.agent.state
            or self.previous_reason != self.agent.reason
            or self.previous_queues != self.agent.queues
        )

    @property
    def time_in_previous_state(self) -> float:
        return max(0.0, self.agent.since - self.previous_since) if self.changed else 0.0


@dataclass(frozen=True, slots=True)
class WaitingCall:
    """A caller waiting in a queue (ACD-2 order: VIP, then priority, then enqueue time)."""

    call_id: str
    queue_id: str
    controller: str
    vip: bool
    priority: int
    enqueued_at: float

    def waited(self, now: float) -> float:
        return max(0.0, now - self.enqueued_at)


@dataclass(frozen=True, slots=True)
class Recovery:
    """What ``recover_controller`` did for a dead controller's ACD state."""

    controller: str
    released: tuple[Transition, ...]  # reservations it held, agents ready again
    on_call: tuple[str, ...]  # agents on a call it carried: left for switch reconcile
    reowned: tuple[str, ...]  # waiting call ids now owned by the heir, place kept
    kept: tuple[str, ...]  # waiting call ids left to the controller for its restart


class LiveStateError(Exception):
    """An ACD live-state operation was refused; nothing was changed."""


class UnknownAgent(LiveStateError):
    def __init__(self, agent_id: str) -> None:
        super().__init__(f"agent {agent_id} has no live state (never logged in)")
        self.agent_id = agent_id


class InvalidTransition(LiveStateError):
    def __init__(self, agent_id: str, action: str, state: str) -> None:
        super().__init__(f"agent {agent_id}: cannot {action} while {state}")
        self.agent_id = agent_id
        self.action = action
        self.state = state


class AgentNotAvailable(InvalidTransition):
    """Reserve refused: the agent is not ready (or already reserved). A normal race."""


class WrongCall(LiveStateError):
    """The agent is reserved for / on another call than the one named (a late release
    for an old offer must not free the agent from a newer one)."""

    def __init__(self, agent_id: str, call_id: str, holds: str) -> None:
        super().__init__(f"agent {agent_id} is not on call {call_id} (holds {holds or 'none'})")
        self.agent_id = agent_id
        self.call_id = call_id
        self.holds = holds


class UnknownCall(LiveStateError):
    def __init__(self, call_id: str) -> None:
        super().__init__(f"call {call_id} is not waiting in any queue")
        self.call_id = call_id


class CallAlreadyWaiting(LiveStateError):
    def __init__(self, call_id: str, queue_id: str) -> None:
        super().__init__(f"call {call_id} is already waiting in queue {queue_id}")
        self.call_id = call_id
        self.queue_id = queue_id
