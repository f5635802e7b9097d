"""``CallControl``: the switch-neutral interface every driver implements (SW-1).

Drivers translate, they don't decide. Each method maps one call operation onto the
switch's protocol and raises only ``switch_control.errors`` (``NoSuchCall``,
``CommandRejected``, ``SwitchUnavailable``). What happens on the switch comes back as
contract events through the sink given to ``start``.

Legs are named by ids the *caller* may choose (``originate(leg_id=...)``): Asterisk
accepts a ``channelId`` and FreeSWITCH an ``origination_uuid``, so a redelivered command
names the same leg and never dials twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from .contract import Event, HangupCause, LegRole
from .contract.commands import EndpointKind

EventSink = Callable[[Event], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class LegSnapshot:
    """A live leg as the switch reports it (for reconciliation after a restart, SW-4)."""

    leg_id: str
    state: str  # "ringing" | "up" | "down" | other switch-specific state
    caller_number: str = ""
    callee_number: str = ""
    channel_name: str = ""
    bridge_id: str = ""
    created_at: float = 0.0


@dataclass(frozen=True, slots=True)
class KnownLeg:
    """A leg the controller knew before it restarted (from its state in Redis)."""

    leg_id: str
    call_id: str
    role: LegRole = LegRole.CALLER
    up: bool = False
    bridge_id: str = ""


@dataclass(frozen=True, slots=True)
class SwitchInfo:
    kind: str  # "asterisk" | "freeswitch" | "fake"
    version: str
    connected: bool
    calls: int = 0
    extra: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class CallControl(Protocol):
    """Operations on calls. All methods are coroutines and may raise ``SwitchUnavailable``."""

    kind: str

    async def start(self, sink: EventSink) -> None:
        """Connect (retrying with backoff in the background) and deliver events to ``sink``."""

    async def close(self) -> None: ...

    async def info(self) -> SwitchInfo: ...

    async def wait_connected(self, timeout: float) -> bool: ...

    async def restore(self, legs: Sequence[KnownLeg]) -> None:
        """Before ``start``: the legs we knew. On connecting, the driver reconciles them
        with the switch: still up -> controllable; gone -> ``CallEnded`` with the switch's
        own end time and cause when it kept them, else ``SWITCH_LOST``."""

    async def endpoint_online(self, endpoint: str) -> bool:
        """Is this extension's phone registered and reachable?"""

    # --- one leg ----------------------------------------------------------------------
    async def answer(self, leg_id: str) -> None: ...

    async def hangup(
        self, leg_id: str, cause: HangupCause = HangupCause.NORMAL_CLEARING
    ) -> None: ...

    async def play(self, leg_id: str, media: Sequence[str], playback_id: str = "") -> str:
        """Start playing media URIs (``sound:``, ``file:``, ``tone:``, ``digits:``,
        ``number:``, ``recording:``); return the playback id."""

    async def stop_playback(self, playback_id: str) -> None: ...

    async def collect_digits(
        self,
        leg_id: str,
        *,
        prompt: Sequence[str] = (),
        max_digits: int = 1,
        terminator: str = "#",
        first_digit_timeout: float = 5.0,
        inter_digit_timeout: float = 3.0,
        overall_timeout: float = 15.0,
    ) -> tuple[str, bool]:
        """Play ``prompt`` and collect DTMF; return ``(digits, timed_out)``."""

    async def hold(self, leg_id: str) -> None: ...

    async def unhold(self, leg_id: str) -> None: ...

    # --- recording ----------------------------------------------------------------------
    async def record(
        self,
        *,
        name: str,
        leg_id: str = "",
        bridge_id: str = "",
        fmt: str = "wav",
        max_duration: int = 0,
        beep: bool = False,
    ) -> None: ...

    async def stop_recording(self, name: str) -> None: ...

    async def fetch_recording(self, name: str, fmt: str = "wav") -> bytes: ...

    # --- several legs ---------------------------------------------------------------------
    async def bridge(self, leg_ids: Sequence[str], bridge_id: str = "") -> str:
        """Put legs into one (mixing) bridge, creating it if needed; return its id."""

    async def originate(
        self,
        *,
        leg_id: str,
        destination: str,
        kind: EndpointKind = EndpointKind.AGENT,
        caller_id_number: str = "",
        caller_id_name: str = "",
        timeout: int = 30,
        variables: dict[str, str] | None = None,
        join_bridge: str = "",
    ) -> str:
        """Start dialling; return the leg id at once. Progress comes as events. With
        ``join_bridge`` the leg is put into that bridge when it answers. ``variables``
        ``CC_CALL_ID`` names the customer call the leg belongs to."""

    async def leg_existed(self, leg_id: str) -> bool:
        """Whether the switch ever created this leg (resolves a command that was in
        flight when the controller died, so an originate is never dialled twice)."""

    async def blind_transfer(
        self, leg_id: str, destination: str, kind: EndpointKind = EndpointKind.AGENT
    ) -> None: ...

    async def add_to_call(
        self,
        leg_id: str,
        *,
        destination: str,
        kind: EndpointKind = EndpointKind.AGENT,
        new_leg_id: str = "",
        replace_leg: str = "",
        role: LegRole | None = None,
        caller_id_number: str = "",
        timeout: int = 30,
    ) -> str:
        """Dial ``destination``; once it answers it joins ``leg_id``'s call: three-way
        conference, barge, or with ``replace_leg`` intercept/pickup (that leg drops)."""

    async def snoop(
        self,
        leg_id: str,
        *,
        destination: str,
        kind: EndpointKind = EndpointKind.AGENT,
        new_leg_id: str = "",
        whisper: bool = False,
        timeout: int = 30,
    ) -> str:
        """A supervisor at ``destination`` listens to ``leg_id``'s call; with ``whisper``
        the agent (``leg_id``) alone also hears the supervisor."""

    async def consult(
        self,
        leg_id: str,
        *,
        destination: str,
        kind: EndpointKind = EndpointKind.AGENT,
        new_leg_id: str = "",
        timeout: int = 30,
    ) -> str:
        """Attended transfer, first half: the customer waits with music."""

    async def complete_consult(self, leg_id: str) -> None: ...

    async def cancel_consult(self, leg_id: str) -> None: ...

    async def list_legs(self) -> list[LegSnapshot]: ...
