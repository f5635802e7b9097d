"""Channel model of the fake FreeSWITCH: states, caller profiles, variables."""

from __future__ import annotations

import asyncio
import copy
import time
from dataclasses import dataclass, field

from .wire import Headers, HeaderValue

# switch_channel_state_t / switch_channel_callstate_t numbering (Channel-State-Number,
# Channel-Call-State-Number in the events).
STATE_NUMBERS = {
    "CS_NEW": 0,
    "CS_INIT": 1,
    "CS_ROUTING": 2,
    "CS_SOFT_EXECUTE": 3,
    "CS_EXECUTE": 4,
    "CS_EXCHANGE_MEDIA": 5,
    "CS_PARK": 6,
    "CS_CONSUME_MEDIA": 7,
    "CS_HIBERNATE": 8,
    "CS_RESET": 9,
    "CS_HANGUP": 10,
    "CS_REPORTING": 11,
    "CS_DESTROY": 12,
}
CALLSTATE_NUMBERS = {
    "DOWN": 0,
    "DIALING": 1,
    "RINGING": 2,
    "EARLY": 3,
    "ACTIVE": 4,
    "HELD": 5,
    "RING_WAIT": 6,
    "HANGUP": 7,
    "UNHELD": 8,
}

_TIME_FIELDS = (
    ("Profile-Created-Time", "profile_created"),
    ("Channel-Created-Time", "created"),
    ("Channel-Answered-Time", "answered"),
    ("Channel-Progress-Time", "progress"),
    ("Channel-Progress-Media-Time", "progress_media"),
    ("Channel-Hangup-Time", "hangup"),
    ("Channel-Transfer-Time", "transfer"),
    ("Channel-Resurrect-Time", "resurrect"),
    ("Channel-Bridged-Time", "bridged"),
    ("Channel-Last-Hold", "last_hold"),
    ("Channel-Hold-Accum", "hold_accum"),
)


def now_us() -> int:
    return int(time.time() * 1_000_000)


@dataclass
class Profile:
    """A caller profile (``Caller-*`` / ``Other-Leg-*`` / ``Channel-*`` headers).

    Empty optional fields are left out, as FreeSWITCH does.
    """

    direction: str
    username: str = ""
    dialplan: str = ""
    caller_id_name: str = ""
    caller_id_number: str = ""
    orig_caller_id_name: str = ""
    orig_caller_id_number: str = ""
    callee_id_name: str = ""
    callee_id_number: str = ""
    network_addr: str = ""
    ani: str = ""
    destination_number: str = ""
    unique_id: str = ""
    source: str = ""
    transfer_source: str = ""
    context: str = ""
    rdnis: str = ""
    channel_name: str = ""
    index: int = 1
    times: dict[str, int] = field(default_factory=dict)
    logical_direction: str = ""

    def headers(self, prefix: str, *, with_index: bool = True) -> Headers:
        out: Headers = [
            (f"{prefix}-Direction", self.direction),
            (f"{prefix}-Logical-Direction", self.logical_direction or self.direction),
        ]
        optional_first = (
            ("Username", self.username),
            ("Dialplan", self.dialplan),
            ("Caller-ID-Name", self.caller_id_name),
        )
        out += [(f"{prefix}-{name}", value) for name, value in optional_first if value]
        out.append((f"{prefix}-Caller-ID-Number", self.caller_id_number))
        if self.orig_caller_id_name:
            out.append((f"{prefix}-Orig-Caller-ID-Name", self.orig_caller_id_name))
        out.append((f"{prefix}-Orig-Caller-ID-Number", self.orig_caller_id_number))
        if self.callee_id_name:
            out.append((f"{prefix}-Callee-ID-Name", self.callee_id_name))
        if self.callee_id_number:
            out.append((f"{prefix}-Callee-ID-Number", self.callee_id_number))
        if self.network_addr:
            out.append((f"{prefix}-Network-Addr", self.network_addr))
        out += [
            (f"{prefix}-ANI", self.ani),
            (f"{prefix}-Destination-Number", self.destination_number),
            (f"{prefix}-Unique-ID", self.unique_id),
            (f"{prefix}-Source", self.source),
        ]
        if self.transfer_source:
            out.append((f"{prefix}-Transfer-Source", self.transfer_source))
        out.append((f"{prefix}-Context", self.context))
        if self.rdnis:
            out.append((f"{prefix}-RDNIS", self.rdnis))
        out.append((f"{prefix}-Channel-Name", self.channel_name))
        if with_index:
            out.append((f"{prefix}-Profile-Index", str(self.index)))
        out += [(f"{prefix}-{name}", str(self.times.get(key, 0))) for name, key in _TIME_FIELDS]
        out += [
            (f"{prefix}-Screen-Bit", "true"),
            (f"{prefix}-Privacy-Hide-Name", "false"),
            (f"{prefix}-Privacy-Hide-Number", "false"),
        ]
        return out

    def clone(self) -> Profile:
        return copy.deepcopy(self)


@dataclass
class Channel:
    """One call leg."""

    uuid: str
    name: str
    direction: str  # inbound | outbound
    profile: Profile
    hit_dialplan: bool = True
    presence_id: str = ""
    call_uuid: str = ""
    state: str = "CS_NEW"  # switch "state" (Channel-State-Number)
    running_state: str = "CS_NEW"  # Channel-State
    callstate: str = "DOWN"
    answer_state: str = "ringing"
    hangup_cause: str = ""
    codec: bool = False
    codec_spec: tuple[str, str, str] = ("PCMU", "8000", "64000")  # write codec
    read_codec: tuple[str, str, str] | None = None  # when it differs (conference: L16)
    write_codec_set: bool = True
    profile_set: bool = True
    other: Channel | None = None
    other_type: str = ""
    other_profile: Profile | None = None
    variables: dict[str, HeaderValue] = field(default_factory=dict)
    # fake-internal
    kind: str = "sofia"  # sofia | loopback | error
    endpoint: str = ""  # agent user / SIPp endpoint name
    app: str = ""  # application running now (park, playback, conference...)
    app_data: str = ""
    app_uuid: str = ""
    held: bool = False
    recordings: list[str] = field(default_factory=list)
    conference: str = ""
    bridged_to: str = ""
    dtmf_waiters: list[asyncio.Future[str]] = field(default_factory=list)
    dtmf_buffer: list[str] = field(default_factory=list)
    app_collects_dtmf: bool = False
    app_post: list[tuple[str, str]] = field(default_factory=list)
    playback_stop: asyncio.Future[None] | None = None
    running_apps: int = 0
    flipped: bool = False
    media_fails: bool = False  # test control: answering fails (RTP bind error)
    hold_task: asyncio.Task[None] | None = None
    hangup_waiters: list[asyncio.Future[None]] = field(default_factory=list)
    gone: bool = False
    created_mono: float = 0.0  # monotonic clock: created / destroyed (the channel list lags)
    gone_mono: float | None = None
    listed_states: tuple[str, str] | None = None  # (callstate, state) the list keeps showing
    transfers: int = 0  # bumped by each transfer: the old extension stops running
    flushes: int = 0  # bumped by ``uuid_break ... all``: queued applications are dropped

    def __post_init__(self) -> None:
        self.call_uuid = self.call_uuid or self.uuid
        self.profile.times.setdefault("profile_created", now_us())
        self.profile.times.setdefault("created", self.profile.times["profile_created"])

    @property
    def answered(self) -> bool:
        return self.answer_state == "answered"

    @property
    def alive(self) -> bool:
        return not self.gone and not self.hangup_cause

    def set_var(self, name: str, value: HeaderValue) -> None:
        self.variables[name] = value

    def get_var(self, name: str) -> str | None:
        value = self.variables.get(name)
        if isinstance(value, list):
            return value[-1] if value else None
        return value

    def link(self, other: Channel, other_type: str) -> None:
        self.other = other
        self.other_type = other_type
        self.other_profile = other.profile.clone()
        if other.flipped:  # the originated leg is seen from the other side as calling in
            self.other_profile.logical_direction = "inbound"

    def unlink(self) -> None:
        self.other = None
        self.other_type = ""
        self.other_profile = None

    def new_profile(self, **changes: str) -> None:
        """A new caller profile (uuid_bridge/transfer do this): index + 1, fresh times."""
        profile = self.profile.clone()
        profile.index += 1
        created = now_us()
        times = {"profile_created": created, "created": profile.times.get("created", created)}
        for key in ("answered", "progress", "progress_media"):
            if key in profile.times:
                times[key] = profile.times[key]
        profile.times = times
        for key, value in changes.items():
            setattr(profile, key, value)
        self.profile = profile
