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
    TYPE = "AgentStateChanged"
    agent_id: str
    state: str
    reason: str = ""
    previous: str = ""


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
    EndpointStatusChanged,
    CommandFailed,
    SwitchConnected,
    SwitchDisconnected,
)
