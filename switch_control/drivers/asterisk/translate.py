"""ARI events -> contract events. Pure functions over ``AriEvent`` and the leg table."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from ...contract import (
    CallAnswered,
    CallEnded,
    CallOffered,
    CallRinging,
    Direction,
    DtmfReceived,
    Event,
    HangupCause,
    LegRole,
    PlaybackFinished,
    RecordingFinished,
    cause_from_q850,
)
from ...protocols.ari import AriEvent, Channel

# appArgs we give channels entering the Stasis app, and what they mean
ARG_INBOUND = "inbound"  # from [from-trunk]: a caller from the PSTN
ARG_INTERNAL = "internal"  # from [from-agents]: an agent phone dialling
ARG_DIALED = "dialed"  # a leg we created and dial
ARG_SNOOP = "snoop"  # a snoop channel for supervision

# ARI events the driver consumes: the app's event filter asks Asterisk for these only
# (every other event costs Asterisk a JSON document and a websocket frame, and us a parse;
# StasisEnd and Dial are not needed: ChannelDestroyed ends a leg, ChannelStateChange
# tells ringing and answer). Bridge membership is not among them: the app is not
# subscribed to bridges (no ``subscribeAll``), and the driver knows it from its own
# addChannel/removeChannel replies and from ChannelDestroyed (see ``legs``).
WANTED_EVENTS = (
    "StasisStart",
    "ChannelStateChange",
    "ChannelDestroyed",
    "ChannelDtmfReceived",
    "PlaybackFinished",
    "RecordingFinished",
    "RecordingFailed",
    "ApplicationReplaced",  # another connection took our app name (an alarm, events.py)
)


MARK_VARIABLE = "CC_MARK"  # originate variable: "1" = keep a creation marker (bus commands)


def marker(leg_id: str) -> str:
    """Global variable set by a leg's creation (cleared when we see it destroyed)."""
    return "CC_LEG_" + "".join(ch if ch.isalnum() else "_" for ch in leg_id)


@dataclass
class LegInfo:
    """What the driver knows of a leg it owns (rebuilt from the switch on restart)."""

    leg_id: str
    call_id: str
    role: LegRole = LegRole.CALLER
    join_bridge: str = ""  # bridge the leg joins once answered (originate + bridge)
    replace_leg: str = ""  # leg hung up once this one has joined (intercept, pickup)
    bridge_id: str = ""
    up: bool = False
    internal: bool = False  # snoop channels: ours, but not a party of the call (no events)
    marked: bool = False  # carries a creation marker on the switch (see marker)
    companion: str = ""  # leg to hang up when this one ends (a supervisor's snoop)
    consult: str = ""  # attended transfer in progress: the consulted leg
    home_bridge: str = ""  # attended transfer: the bridge the customer waits in
    extra: dict[str, str] = field(default_factory=dict)
    # an addChannel/removeChannel of ours in flight: its reply says whether the leg was
    # bridged, so the leg's end waits for it (see events.AriEvents._on_leg_event)
    moving: asyncio.Future[None] | None = None


def call_id_of(ch: Channel) -> str:
    return ch.vars.get("CC_CALL_ID") or ch.id


def role_of(ch: Channel) -> LegRole:
    try:
        return LegRole(ch.vars.get("CC_ROLE") or LegRole.CALLER)
    except ValueError:
        return LegRole.OTHER


def in_app(raw: dict[str, Any], app: str) -> bool:
    """A channel (as ``GET /channels`` shows it) sits in our Stasis app."""
    dialplan = raw.get("dialplan")
    if not isinstance(dialplan, dict) or dialplan.get("app_name") != "Stasis":
        return False
    return str(dialplan.get("app_data", "")).startswith(app)


def offered(ev: AriEvent, ch: Channel) -> tuple[LegInfo, CallOffered] | None:
    """StasisStart of a call that came to us through the dialplan."""
    args = ev.args
    kind = args[0] if args else ""
    if kind not in (ARG_INBOUND, ARG_INTERNAL):
        return None
    callee = args[1] if len(args) > 1 and args[1] != "s" else ch.exten
    direction = Direction.INBOUND if kind == ARG_INBOUND else Direction.INTERNAL
    role = LegRole.CALLER if kind == ARG_INBOUND else LegRole.AGENT
    leg = LegInfo(ch.id, call_id_of(ch), role, up=ch.state == "Up")
    event = CallOffered(
        call_id=leg.call_id,
        leg_id=ch.id,
        direction=direction,
        role=role,
        caller_number=ch.caller_number,
        caller_name=ch.caller_name,
        callee_number=callee,
        channel_name=ch.name,
        switch="asterisk",
        at=ev.timestamp or ch.creationtime,
    )
    return leg, event


def simple(ev: AriEvent, leg: LegInfo) -> Event | None:
    """Translate the per-leg events that need no decision."""
    at = ev.timestamp
    t = ev.type
    if t == "ChannelStateChange" and ev.channel is not None:
        if ev.channel.state == "Ringing" or ev.channel.state == "Ring":
            return CallRinging(call_id=leg.call_id, leg_id=leg.leg_id, at=at)
        if ev.channel.state == "Up" and not leg.up:
            leg.up = True
            return CallAnswered(call_id=leg.call_id, leg_id=leg.leg_id, at=at)
        return None
    if t == "ChannelDtmfReceived":
        dur = ev.raw.get("duration_ms", 0)
        return DtmfReceived(
            call_id=leg.call_id,
            leg_id=leg.leg_id,
            digit=ev.get("digit"),
            duration_ms=dur if isinstance(dur, int) else 0,
            at=at,
        )
    if t == "ChannelDestroyed":
        code = ev.raw.get("cause")
        code = code if isinstance(code, int) else None
        cause = cause_from_q850(code)
        if cause is HangupCause.UNKNOWN and code == 0:
            cause = HangupCause.NORMAL_CLEARING
        return CallEnded(
            call_id=leg.call_id, leg_id=leg.leg_id, cause=cause, cause_code=code or 0, at=at
        )
    return None


# a contact in one of these states can take calls (the rest: Unreachable, Removed, Unknown)
def endpoint_states(endpoints: object) -> dict[str, bool]:
    """``GET /endpoints/{tech}`` -> {resource: online}."""
    states: dict[str, bool] = {}
    if isinstance(endpoints, list):
        for ep in endpoints:
            if isinstance(ep, dict) and ep.get("resource"):
                states[str(ep["resource"])] = ep.get("state") == "online"
    return states


def playback_finished(ev: AriEvent, legs: dict[str, LegInfo]) -> PlaybackFinished | None:
    target = ev.get("playback", "target_uri")
    if not target.startswith("channel:"):
        return None
    leg = legs.get(target.removeprefix("channel:"))
    if leg is None:
        return None
    return PlaybackFinished(
        call_id=leg.call_id,
        leg_id=leg.leg_id,
        playback_id=ev.get("playback", "id"),
        at=ev.timestamp,
    )


def recording_finished(
    ev: AriEvent, legs: dict[str, LegInfo], bridges: dict[str, str]
) -> RecordingFinished:
    target = ev.get("recording", "target_uri")
    kind, _, ident = target.partition(":")
    leg_id = ident if kind == "channel" else ""
    bridge_id = ident if kind == "bridge" else ""
    call_id = legs[leg_id].call_id if leg_id in legs else bridges.get(bridge_id, "")
    dur = ev.raw.get("recording", {}).get("duration", 0)
    return RecordingFinished(
        call_id=call_id,
        name=ev.get("recording", "name"),
        format=ev.get("recording", "format") or "wav",
        duration=float(dur) if isinstance(dur, int | float) else 0.0,
        leg_id=leg_id,
        bridge_id=bridge_id,
        at=ev.timestamp,
    )
