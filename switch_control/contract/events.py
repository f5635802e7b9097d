"""Events: past-tense facts appended to ``callctl:events`` by the controller.

``call_id`` is the customer call (one id across all its legs); ``leg_id`` the switch's id
of the channel the event is about.
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import Direction, Event, HangupCause, LegRole


@dataclass(frozen=True, slots=True, kw_only=True)
class CallOffered(Event):
    """A new leg exists: an inbound call arrived, or we originated a leg."""

    TYPE = "CallOffered"
    call_id: str
    leg_id: str
    direction: Direction
    role: LegRole = LegRole.CALLER
    caller_number: str = ""
    caller_name: str = ""
    callee_number: str = ""
    channel_name: str = ""
    switch: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class CallRinging(Event):
    TYPE = "CallRinging"
    call_id: str
    leg_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CallAnswered(Event):
    TYPE = "CallAnswered"
    call_id: str
    leg_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DtmfReceived(Event):
    TYPE = "DtmfReceived"
    call_id: str
    leg_id: str
    digit: str
    duration_ms: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class DigitsCollected(Event):
    TYPE = "DigitsCollected"
    call_id: str
    leg_id: str
    command_id: str
    digits: str
    timed_out: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaybackFinished(Event):
    TYPE = "PlaybackFinished"
    call_id: str
    leg_id: str
    playback_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CallBridged(Event):
    TYPE = "CallBridged"
    call_id: str
    leg_id: str
    bridge_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CallUnbridged(Event):
    TYPE = "CallUnbridged"
    call_id: str
    leg_id: str
    bridge_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CallHeld(Event):
    TYPE = "CallHeld"
    call_id: str
    leg_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CallResumed(Event):
    TYPE = "CallResumed"
    call_id: str
    leg_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CallEnded(Event):
    """A leg is gone. ``at`` is the switch's end time (reconciliation keeps the real one)."""

    TYPE = "CallEnded"
    call_id: str
    leg_id: str
    cause: HangupCause = HangupCause.NORMAL_CLEARING
    cause_code: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordingStarted(Event):
    TYPE = "RecordingStarted"
    call_id: str
    name: str
    leg_id: str = ""
    bridge_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordingFinished(Event):
    TYPE = "RecordingFinished"
    call_id: str
    name: str
    format: str = "wav"
    duration: float = 0.0
    leg_id: str = ""
    bridge_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentStateChanged(Event):
    """An agent's ACD state changed (ACD-7): ``state`` is one of ``acd.models.AgentState``
    (logged_out, ready, not_ready, ringing, on_call, wrap_up); ``reason`` the not-ready
    reason; ``by`` who did it (the agent's own id, a supervisor's user id, or
    ``system`` for the controller: a missed offer, the end of wrap-up); ``queue_ids``
    the queues the agent serves, so a relay can fan it out to ``queue.<id>`` groups.

    v2 added ``by`` and ``queue_ids``; a v1 message still decodes (without them)."""

    TYPE = "AgentStateChanged"
    VERSION = 2
    agent_id: str
    state: str
    reason: str = ""
    previous: str = ""
    by: str = ""
    queue_ids: tuple[str, ...] = ()


# ---------------------------------------------------------------- the ACD (issue 13)
# Each names its call, queue and agent, so a relay can route it to ``agent.<id>`` and
# ``queue.<id>`` groups of browsers (DESIGN.md "Events that a browser needs").


@dataclass(frozen=True, slots=True, kw_only=True)
class CallQueued(Event):
    """A caller is waiting in a queue, at ``position`` (1 = next to be served)."""

    TYPE = "CallQueued"
    call_id: str
    queue_id: str
    position: int
    leg_id: str = ""
    priority: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentOffered(Event):
    """A queued call is offered to an agent: ``leg_id`` is the agent's ringing leg."""

    TYPE = "AgentOffered"
    call_id: str
    agent_id: str
    queue_id: str
    leg_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CallAbandoned(Event):
    """The caller hung up while waiting in a queue, after ``waited`` seconds."""

    TYPE = "CallAbandoned"
    call_id: str
    queue_id: str
    waited: float
    position: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class EndpointStatusChanged(Event):
    """An extension's phone registered, unregistered, became (un)reachable."""

    TYPE = "EndpointStatusChanged"
    endpoint: str
    online: bool
    contact: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandFailed(Event):
    TYPE = "CommandFailed"
    command_id: str
    command_type: str
    error: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SwitchConnected(Event):
    TYPE = "SwitchConnected"
    switch: str
    version: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class SwitchDisconnected(Event):
    TYPE = "SwitchDisconnected"
    switch: str
    reason: str = ""


EVENTS: tuple[type[Event], ...] = (
    CallOffered,
    CallRinging,
    CallAnswered,
    DtmfReceived,
    DigitsCollected,
    PlaybackFinished,
    CallBridged,
    CallUnbridged,
    CallHeld,
    CallResumed,
    CallEnded,
    RecordingStarted,
    RecordingFinished,
    AgentStateChanged,
    CallQueued,
    AgentOffered,
    CallAbandoned,
    EndpointStatusChanged,
    CommandFailed,
    SwitchConnected,
    SwitchDisconnected,
)
