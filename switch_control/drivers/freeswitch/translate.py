"""ESL events -> contract events: the leg model and pure functions over ``EslEvent``."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from ...contract import (
    CAUSE_TO_Q850,
    CallEnded,
    CallOffered,
    Direction,
    DtmfReceived,
    HangupCause,
    LegRole,
    cause_from_q850,
)
from ...protocols.esl import EslEvent

CONFERENCE_PREFIX = "cc-"  # a bridge ``X`` is the conference room ``cc-X``

# FreeSWITCH cause names that are not ours, by meaning (the rest match HangupCause names)
_CAUSE_ALIASES = {
    "NORMAL_UNSPECIFIED": HangupCause.NORMAL_CLEARING,
    "BLIND_TRANSFER": HangupCause.NORMAL_CLEARING,
    "DESTINATION_OUT_OF_ORDER": HangupCause.NO_ROUTE_DESTINATION,
    "INVALID_NUMBER_FORMAT": HangupCause.UNALLOCATED_NUMBER,
    "NUMBER_CHANGED": HangupCause.UNALLOCATED_NUMBER,
    "PROGRESS_TIMEOUT": HangupCause.NO_ANSWER,
    "ALLOTTED_TIMEOUT": HangupCause.NO_ANSWER,
    "RECOVERY_ON_TIMER_EXPIRE": HangupCause.NO_ANSWER,
    "MEDIA_TIMEOUT": HangupCause.NETWORK_OUT_OF_ORDER,
    "NORMAL_CIRCUIT_CONGESTION": HangupCause.SWITCH_CONGESTION,
    "CHAN_NOT_IMPLEMENTED": HangupCause.NO_ROUTE_DESTINATION,
}
_OURS_ONLY = {HangupCause.SWITCH_LOST, HangupCause.UNKNOWN}


@dataclass
class FsLeg:
    """What the driver knows of a leg it handles (rebuilt from the switch on restart)."""

    leg_id: str
    call_id: str
    role: LegRole = LegRole.CALLER
    direction: Direction = Direction.INBOUND
    caller_number: str = ""
    callee_number: str = ""
    channel_name: str = ""
    originated: bool = False  # we dialled it: it carries cc_call_id / cc_role and a marker
    created: bool = False  # the switch created the channel (CHANNEL_CREATE seen, or adopted)
    offered: bool = False  # CallOffered emitted
    up: bool = False
    ringing: bool = False
    bridge_id: str = ""  # the conference it is in (confirmed by add-member)
    member_id: str = ""  # its member id there
    join_bridge: str = ""  # the conference it is on its way to (transfer sent, or dialling)
    replace_leg: str = ""  # hung up once this leg has joined (intercept, pickup)
    held: bool = False
    spy_bridge: str = ""  # a supervisor's eavesdrop, reported as a bridge of its own
    consult: str = ""  # attended transfer in progress: the consulted leg
    home_bridge: str = ""  # attended transfer: where the customer waits
    created_at: float = field(default_factory=time.time)


def bridge_of_conference(name: str) -> str | None:
    """The bridge id of one of our conference rooms (``None`` for other conferences)."""
    if name.startswith(CONFERENCE_PREFIX) and len(name) > len(CONFERENCE_PREFIX):
        return name[len(CONFERENCE_PREFIX) :]
    return None


def event_time(ev: EslEvent) -> float:
    stamp = ev.get("Event-Date-Timestamp") or ""
    return int(stamp) / 1e6 if stamp.isdigit() else time.time()


def hangup_cause(ev: EslEvent) -> tuple[HangupCause, int]:
    """The contract cause and Q.850 code of a CHANNEL_HANGUP(_COMPLETE) event."""
    name = (ev.get("Hangup-Cause") or ev.variable("hangup_cause") or "").upper()
    q850 = ev.variable("hangup_cause_q850") or ""
    code = int(q850) if q850.isdigit() else None
    try:
        cause = HangupCause(name)
    except ValueError:
        cause = _CAUSE_ALIASES.get(name) or cause_from_q850(code)
    if cause in _OURS_ONLY and name:
        cause = cause_from_q850(code)
    return cause, code if code is not None else CAUSE_TO_Q850.get(cause, 0)


def fs_cause(cause: HangupCause) -> str:
    """The FreeSWITCH cause name to hang up with."""
    if cause is HangupCause.UNKNOWN:
        return "NORMAL_UNSPECIFIED"
    if cause is HangupCause.SWITCH_LOST:
        return "NORMAL_CLEARING"
    return cause.value


def role_of(value: str | None, default: LegRole) -> LegRole:
    if not value:
        return default
    try:
        return LegRole(value)
    except ValueError:
        return LegRole.OTHER


def direction_of(ev: EslEvent) -> Direction:
    """``cc_direction`` set by the platform's dialplan; else the context: ``public`` is
    the outside world, anything else an agent phone."""
    marked = ev.variable("cc_direction") or ""
    if marked in (Direction.INBOUND.value, Direction.INTERNAL.value):
        return Direction(marked)
    context = ev.get("Caller-Context") or ""
    return Direction.INBOUND if context in ("public", "") else Direction.INTERNAL


def offered(ev: EslEvent) -> tuple[FsLeg, CallOffered]:
    """A call the dialplan parked for us (CHANNEL_PARK of a leg we do not know)."""
    leg_id = ev["Unique-ID"]
    direction = direction_of(ev)
    default = LegRole.CALLER if direction is Direction.INBOUND else LegRole.AGENT
    leg = FsLeg(
        leg_id,
        ev.variable("cc_call_id") or leg_id,
        role_of(ev.variable("cc_role"), default),
        direction,
        caller_number=ev.get("Caller-Caller-ID-Number") or "",
        callee_number=ev.get("Caller-Destination-Number") or "",
        channel_name=ev.get("Channel-Name") or "",
        created=True,
        offered=True,
        up=ev.get("Answer-State") == "answered",
    )
    event = CallOffered(
        call_id=leg.call_id,
        leg_id=leg_id,
        direction=direction,
        role=leg.role,
        caller_number=leg.caller_number,
        caller_name=ev.get("Caller-Caller-ID-Name") or "",
        callee_number=leg.callee_number,
        channel_name=leg.channel_name,
        switch="freeswitch",
        at=event_time(ev),
    )
    return leg, event


def outbound_offered(leg: FsLeg) -> CallOffered:
    return CallOffered(
        call_id=leg.call_id,
        leg_id=leg.leg_id,
        direction=Direction.OUTBOUND,
        role=leg.role,
        caller_number=leg.caller_number,
        callee_number=leg.callee_number,
        channel_name=leg.channel_name,
        switch="freeswitch",
    )


def ended(ev: EslEvent, leg: FsLeg) -> CallEnded:
    cause, code = hangup_cause(ev)
    return CallEnded(
        call_id=leg.call_id, leg_id=leg.leg_id, cause=cause, cause_code=code, at=event_time(ev)
    )


def dtmf(ev: EslEvent, leg: FsLeg) -> DtmfReceived:
    digit = ev["DTMF-Digit"]
    if len(digit) != 1:
        raise ValueError(f"bad DTMF digit {digit!r}")
    duration = ev.get("DTMF-Duration") or ""
    return DtmfReceived(
        call_id=leg.call_id,
        leg_id=leg.leg_id,
        digit=digit,
        duration_ms=int(duration) // 8 if duration.isdigit() else 0,  # samples at 8 kHz
        at=event_time(ev),
    )


def json_rows(body: str) -> list[dict[str, Any]]:
    """Rows of ``show ... as json`` (``{"row_count": 0}`` when there are none)."""
    text = body.strip()
    if not text.startswith("{"):
        raise ValueError(f"not a JSON table: {text[:80]!r}")
    data = orjson.loads(text)
    rows = (data.get("rows") or []) if isinstance(data, dict) else []
    return [row for row in rows if isinstance(row, dict) and row.get("uuid")]


def conference_members(body: str) -> dict[str, tuple[str, str]]:
    """``conference json_list`` -> {channel uuid: (bridge id, member id)} of our rooms."""
    text = body.strip()
    if not text.startswith("["):
        return {}  # "+OK No active conferences." or an error
    out: dict[str, tuple[str, str]] = {}
    for conf in orjson.loads(text):
        bridge_id = bridge_of_conference(str(conf.get("conference_name", "")))
        if bridge_id is None:
            continue
        for member in conf.get("members") or []:
            uuid = member.get("uuid")
            if uuid:
                out[str(uuid)] = (bridge_id, str(member.get("id", "")))
    return out


def json_dump(body: str) -> dict[str, str]:
    """``uuid_dump <uuid> json``: one flat object of the channel's headers and variables."""
    data = orjson.loads(body)
    if not isinstance(data, dict):
        raise ValueError("uuid_dump did not return an object")
    return {str(k): v if isinstance(v, str) else orjson.dumps(v).decode() for k, v in data.items()}
