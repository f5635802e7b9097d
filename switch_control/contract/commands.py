"""Commands: imperative requests published on ``callctl:commands`` (SW-2, SW-3, REC-1).

Legs are addressed by ``leg_id`` (the switch's unique id of a channel: Asterisk's channel id,
FreeSWITCH's Unique-ID). ``call_id`` names the customer call a leg belongs to, so events about
new legs (originate, listen…) are attributed to the right call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from .base import Command, HangupCause


class TransferMode(StrEnum):
    BLIND = "blind"
    ATTENDED = "attended"


class EndpointKind(StrEnum):
    AGENT = "agent"  # an extension / SIP user of ours (SW-6)
    EXTERNAL = "external"  # a PSTN number through a trunk (SW-5)
    RAW = "raw"  # a switch-specific dial string, for admins' own routes


@dataclass(frozen=True, slots=True, kw_only=True)
class AnswerCall(Command):
    TYPE = "AnswerCall"
    leg_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PlayPrompt(Command):
    """Play media to a leg. Media items are URIs: ``sound:NAME``, ``file:PATH``,
    ``tone:SPEC`` (indications syntax; plays until stopped), ``digits:1234``,
    ``number:1024``, ``recording:NAME``."""

    TYPE = "PlayPrompt"
    leg_id: str
    media: tuple[str, ...]
    playback_id: str = ""
    wait: bool = False  # finish playing before the controller runs the next command


@dataclass(frozen=True, slots=True, kw_only=True)
class CollectDigits(Command):
    TYPE = "CollectDigits"
    call_id: str = ""
    leg_id: str
    prompt: tuple[str, ...] = ()
    max_digits: int = 1
    terminator: str = "#"
    first_digit_timeout: float = 5.0
    inter_digit_timeout: float = 3.0
    overall_timeout: float = 15.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Record(Command):
    """Record a leg or (mixed) a bridge to ``name`` (without extension)."""

    TYPE = "Record"
    leg_id: str = ""
    bridge_id: str = ""
    name: str
    format: str = "wav"
    max_duration: int = 0
    beep: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class StopRecording(Command):
    TYPE = "StopRecording"
    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Bridge(Command):
    """Put the legs together in one bridge (created when ``bridge_id`` is new)."""

    TYPE = "Bridge"
    call_id: str = ""
    leg_ids: tuple[str, ...]
    bridge_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Originate(Command):
    """Dial out a new leg. ``leg_id`` is chosen by the sender so that a redelivered command
    names the same leg and the switch refuses a duplicate. With ``bridge_id`` the leg joins
    that bridge as soon as it answers (the ACD's "ring the agent, connect on answer")."""

    TYPE = "Originate"
    call_id: str = ""
    leg_id: str
    destination: str
    kind: EndpointKind = EndpointKind.AGENT
    bridge_id: str = ""
    caller_id_number: str = ""
    caller_id_name: str = ""
    timeout: int = 30
    variables: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Transfer(Command):
    """Blind: ``leg_id`` is the customer, connected to ``destination`` (whoever else was
    talking to them drops). Attended: ``leg_id`` is the agent, who consults ``destination``
    (new leg ``new_leg_id``) while the customer waits with music; then ``CompleteTransfer``
    or ``CancelTransfer``."""

    TYPE = "Transfer"
    call_id: str = ""
    leg_id: str
    destination: str
    kind: EndpointKind = EndpointKind.AGENT
    mode: TransferMode = TransferMode.BLIND
    new_leg_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class CompleteTransfer(Command):
    TYPE = "CompleteTransfer"
    call_id: str = ""
    leg_id: str  # the consulting agent's leg


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelTransfer(Command):
    TYPE = "CancelTransfer"
    call_id: str = ""
    leg_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Hold(Command):
    TYPE = "Hold"
    leg_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Unhold(Command):
    TYPE = "Unhold"
    leg_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Conference(Command):
    """Three-way: add ``destination`` to the bridge ``leg_id`` is in."""

    TYPE = "Conference"
    call_id: str = ""
    leg_id: str
    destination: str
    kind: EndpointKind = EndpointKind.AGENT
    new_leg_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Pickup(Command):
    """Another agent takes a ringing call: ``ringing_leg_id`` is the ringing agent leg."""

    TYPE = "Pickup"
    call_id: str = ""
    ringing_leg_id: str
    destination: str
    new_leg_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class _Supervise(Command):
    """A supervisor (``supervisor``: extension) on an agent's call (SV-2): listen hears both
    sides; whisper is heard by the agent only; barge joins as a third party; intercept
    takes the caller over and the agent leg is dropped."""

    call_id: str = ""
    agent_leg_id: str
    supervisor: str
    kind: EndpointKind = EndpointKind.AGENT
    new_leg_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Listen(_Supervise):
    TYPE = "Listen"


@dataclass(frozen=True, slots=True, kw_only=True)
class Whisper(_Supervise):
    TYPE = "Whisper"


@dataclass(frozen=True, slots=True, kw_only=True)
class Barge(_Supervise):
    TYPE = "Barge"


@dataclass(frozen=True, slots=True, kw_only=True)
class Intercept(_Supervise):
    TYPE = "Intercept"


@dataclass(frozen=True, slots=True, kw_only=True)
class Hangup(Command):
    TYPE = "Hangup"
    leg_id: str
    cause: HangupCause = HangupCause.NORMAL_CLEARING


SWITCH_COMMANDS: tuple[type[Command], ...] = (
    AnswerCall,
    PlayPrompt,
    CollectDigits,
    Record,
    StopRecording,
    Bridge,
    Originate,
    Transfer,
    CompleteTransfer,
    CancelTransfer,
    Hold,
    Unhold,
    Conference,
    Pickup,
    Listen,
    Whisper,
    Barge,
    Intercept,
    Hangup,
)


# ---------------------------------------------------------------- the ACD (issue 13)
# Agent commands (ACD-7, ACD-8): the web changes live agent state only through these; the
# ACD runtime of a controller handles them (``acd.runtime``) and answers every change
# with an ``AgentStateChanged`` event, every refusal with a ``CommandFailed``.


class AgentStateRequest(StrEnum):
    """What ``SetAgentState`` asks for. ``ready`` from wrap-up ends the wrap-up early."""

    READY = "ready"
    NOT_READY = "not_ready"


@dataclass(frozen=True, slots=True, kw_only=True)
class LoginAgent(Command):
    """The agent logs in at ``extension`` ("" = the configured one), signed into
    ``queue_ids`` (empty = every queue he is a member of), ready or not ready."""

    TYPE = "LoginAgent"
    agent_id: str
    extension: str = ""
    queue_ids: tuple[str, ...] = ()
    ready: bool = False
    reason: str = ""  # the not-ready reason when not ``ready``
    by: str = ""  # who asked (the agent's own id, a supervisor's user id)


@dataclass(frozen=True, slots=True, kw_only=True)
class LogoutAgent(Command):
    TYPE = "LogoutAgent"
    agent_id: str
    by: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class SetAgentState(Command):
    """Ready, or not ready with ``reason`` (a ``NotReadyReason`` code)."""

    TYPE = "SetAgentState"
    agent_id: str
    state: AgentStateRequest
    reason: str = ""
    by: str = ""


ACD_COMMANDS: tuple[type[Command], ...] = (LoginAgent, LogoutAgent, SetAgentState)

# the commands a driver executes; the codec registers ``ACD_COMMANDS`` beside them (their
# handler is the ACD runtime's, registered with the dispatcher: ``handlers.py``), so every
# command type on the wire is ``COMMANDS + ACD_COMMANDS``
COMMANDS: tuple[type[Command], ...] = SWITCH_COMMANDS
