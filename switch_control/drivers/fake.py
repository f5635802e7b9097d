"""In-memory ``CallControl``: a switch model good enough to run the contract suite and the
daemon's unit tests. It emits the same contract events, in the same order, as the real
drivers do for the same situations; tests steer the outside world through ``world_*``."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..callcontrol import CallControl, EventSink, KnownLeg, LegSnapshot, SwitchInfo
from ..contract import (
    CallAnswered,
    CallBridged,
    CallEnded,
    CallHeld,
    CallOffered,
    CallResumed,
    CallRinging,
    CallUnbridged,
    Direction,
    DtmfReceived,
    Event,
    HangupCause,
    LegRole,
    PlaybackFinished,
    RecordingFinished,
    RecordingStarted,
)
from ..contract.commands import EndpointKind
from ..errors import CommandRejected, NoSuchCall, OriginateFailed, SwitchUnavailable
from . import dtmf


@dataclass
class FakeLeg:
    leg_id: str
    call_id: str
    state: str  # ringing | up | down
    caller: str = ""
    callee: str = ""
    role: LegRole = LegRole.CALLER
    bridge_id: str = ""
    join_bridge: str = ""
    held: bool = False
    created: float = field(default_factory=time.time)
    answered: float = 0.0
    played: list[str] = field(default_factory=list)
    dtmf: asyncio.Queue[str] = field(default_factory=asyncio.Queue)


class FakeDriver:
    kind = "fake"

    def __init__(self) -> None:
        self.legs: dict[str, FakeLeg] = {}
        self.bridges: dict[str, set[str]] = {}
        self.recordings: dict[str, tuple[float, str, str]] = {}  # name -> (start, leg, bridge)
        self.finished_recordings: dict[str, bytes] = {}
        self.behaviors: dict[str, str] = {}  # destination -> answer | busy | noanswer | ring
        self.connected = False
        self.actions: list[tuple[str, str]] = []  # (operation, leg) journal for tests
        self.created_legs: set[str] = set()
        self.restored: list[KnownLeg] = []
        self.snoops: dict[str, tuple[str, bool]] = {}  # supervisor leg -> (agent leg, whisper)
        self.consults: dict[str, tuple[str, str]] = {}  # agent leg -> (consulted leg, home)
        self._sink: EventSink | None = None

    # ------------------------------------------------------------------ plumbing
    async def start(self, sink: EventSink) -> None:
        self._sink = sink
        self.connected = True

    async def close(self) -> None:
        self.connected = False

    async def info(self) -> SwitchInfo:
        return SwitchInfo("fake", "fake-1", self.connected, len(self.legs))

    async def wait_connected(self, timeout: float) -> bool:
        return self.connected

    async def restore(self, legs: Sequence[KnownLeg]) -> None:
        self.restored = list(legs)

    async def endpoint_online(self, endpoint: str) -> bool:
        return self.behaviors.get(endpoint, "answer") not in ("offline", "unknown")

    async def _emit(self, event: Event) -> None:
        if self._sink is not None:
            await self._sink(event)

    def _leg(self, leg_id: str) -> FakeLeg:
        if not self.connected:
            raise SwitchUnavailable("fake switch is down")
        leg = self.legs.get(leg_id)
        if leg is None or leg.state == "down":
            raise NoSuchCall(f"no such leg {leg_id}")
        return leg

    # ------------------------------------------------------------------ the outside world
    async def world_inbound_call(self, caller: str, callee: str) -> str:
        leg_id = uuid.uuid4().hex
        self.legs[leg_id] = FakeLeg(leg_id, leg_id, "ringing", caller, callee)
        await self._emit(
            CallOffered(
                call_id=leg_id,
                leg_id=leg_id,
                direction=Direction.INBOUND,
                caller_number=caller,
                callee_number=callee,
                channel_name=f"FAKE/{caller}",
                switch="fake",
            )
        )
        return leg_id

    async def world_hangup(self, leg_id: str) -> None:
        await self._end(self._leg(leg_id), HangupCause.NORMAL_CLEARING)

    async def world_dtmf(self, leg_id: str, digits: str) -> None:
        leg = self._leg(leg_id)
        for d in digits:
            await self._emit(DtmfReceived(call_id=leg.call_id, leg_id=leg_id, digit=d))
            leg.dtmf.put_nowait(d)

    async def world_answer(self, leg_id: str) -> None:
        """A ringing phone picks up (joins its bridge, as the real drivers do)."""
        leg = self._leg(leg_id)
        await self._set_up(leg)
        if leg.join_bridge:
            bridge_id, leg.join_bridge = leg.join_bridge, ""
            await self.bridge([leg_id], bridge_id)

    def world_switch_down(self) -> None:
        self.connected = False

    # ------------------------------------------------------------------ CallControl
    async def _set_up(self, leg: FakeLeg) -> None:
        if leg.state != "up":
            leg.state = "up"
            leg.answered = time.time()
            await self._emit(CallAnswered(call_id=leg.call_id, leg_id=leg.leg_id))

    async def _end(self, leg: FakeLeg, cause: HangupCause) -> None:
        if leg.bridge_id:
            await self._leave(leg)
        leg.state = "down"
        self.legs.pop(leg.leg_id, None)
        await self._emit(CallEnded(call_id=leg.call_id, leg_id=leg.leg_id, cause=cause))

    async def _leave(self, leg: FakeLeg) -> None:
        members = self.bridges.get(leg.bridge_id, set())
        members.discard(leg.leg_id)
        bridge_id, leg.bridge_id = leg.bridge_id, ""
        await self._emit(CallUnbridged(call_id=leg.call_id, leg_id=leg.leg_id, bridge_id=bridge_id))

    async def answer(self, leg_id: str) -> None:
        self.actions.append(("answer", leg_id))
        await self._set_up(self._leg(leg_id))

    async def hangup(self, leg_id: str, cause: HangupCause = HangupCause.NORMAL_CLEARING) -> None:
        self.actions.append(("hangup", leg_id))
        await self._end(self._leg(leg_id), cause)

    async def play(self, leg_id: str, media: Sequence[str], playback_id: str = "") -> str:
        leg = self._leg(leg_id)
        for m in media:
            if ":" not in m:
                raise CommandRejected(f"bad media URI {m!r}")
        playback_id = playback_id or uuid.uuid4().hex
        leg.played.extend(media)
        self.actions.append(("play", leg_id))
        await self._emit(
            PlaybackFinished(call_id=leg.call_id, leg_id=leg_id, playback_id=playback_id)
        )
        return playback_id

    async def stop_playback(self, playback_id: str) -> None:
        return None

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
        leg = self._leg(leg_id)
        if prompt:
            await self.play(leg_id, prompt)
        return await dtmf.collect(
            leg.dtmf.get,
            max_digits=max_digits,
            terminator=terminator,
            first_digit_timeout=first_digit_timeout,
            inter_digit_timeout=inter_digit_timeout,
            overall_timeout=overall_timeout,
        )

    async def hold(self, leg_id: str) -> None:
        leg = self._leg(leg_id)
        leg.held = True
        await self._emit(CallHeld(call_id=leg.call_id, leg_id=leg_id))

    async def unhold(self, leg_id: str) -> None:
        leg = self._leg(leg_id)
        leg.held = False
        await self._emit(CallResumed(call_id=leg.call_id, leg_id=leg_id))

    async def record(
        self,
        *,
        name: str,
        leg_id: str = "",
        bridge_id: str = "",
        fmt: str = "wav",
        max_duration: int = 0,
        beep: bool = False,
    ) -> None:
        if leg_id:
            call_id = self._leg(leg_id).call_id
        elif bridge_id in self.bridges:
            call_id = next(
                (self.legs[m].call_id for m in self.bridges[bridge_id] if m in self.legs), ""
            )
        else:
            raise NoSuchCall(f"no such bridge {bridge_id}")
        if name in self.recordings:
            raise CommandRejected(f"recording {name} already in progress")
        self.recordings[name] = (time.time(), leg_id, bridge_id)
        await self._emit(
            RecordingStarted(call_id=call_id, name=name, leg_id=leg_id, bridge_id=bridge_id)
        )

    async def stop_recording(self, name: str) -> None:
        try:
            started, leg_id, bridge_id = self.recordings.pop(name)
        except KeyError:
            raise NoSuchCall(f"no live recording {name}") from None
        self.finished_recordings[name] = b"RIFF"
        await self._emit(
            RecordingFinished(
                call_id="",
                name=name,
                leg_id=leg_id,
                bridge_id=bridge_id,
                duration=time.time() - started,
            )
        )

    async def fetch_recording(self, name: str, fmt: str = "wav") -> bytes:
        try:
            return self.finished_recordings[name]
        except KeyError:
            raise NoSuchCall(f"no stored recording {name}") from None

    async def bridge(self, leg_ids: Sequence[str], bridge_id: str = "") -> str:
        legs = [self._leg(x) for x in leg_ids]
        bridge_id = bridge_id or uuid.uuid4().hex
        members = self.bridges.setdefault(bridge_id, set())
        for leg in legs:
            if leg.bridge_id == bridge_id:
                continue
            if leg.bridge_id:
                await self._leave(leg)
            leg.bridge_id = bridge_id
            members.add(leg.leg_id)
            await self._emit(
                CallBridged(call_id=leg.call_id, leg_id=leg.leg_id, bridge_id=bridge_id)
            )
        return bridge_id

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
        if not self.connected:
            raise SwitchUnavailable("fake switch is down")
        if leg_id in self.legs:
            raise CommandRejected(f"leg {leg_id} already exists")
        behavior = self.behaviors.get(destination, "answer")
        if behavior == "unknown":
            raise OriginateFailed("NO_ROUTE_DESTINATION", destination)
        call_id = (variables or {}).get("CC_CALL_ID", leg_id)
        role = LegRole.AGENT if kind is EndpointKind.AGENT else LegRole.EXTERNAL
        role = LegRole((variables or {}).get("CC_ROLE", role))
        leg = FakeLeg(leg_id, call_id, "ringing", caller_id_number, destination, role)
        leg.join_bridge = join_bridge
        self.legs[leg_id] = leg
        self.actions.append(("originate", leg_id))
        await self._emit(
            CallOffered(
                call_id=call_id,
                leg_id=leg_id,
                direction=Direction.OUTBOUND,
                role=role,
                caller_number=caller_id_number,
                callee_number=destination,
                switch="fake",
            )
        )
        await self._emit(CallRinging(call_id=call_id, leg_id=leg_id))
        self.created_legs.add(leg_id)
        if behavior == "answer":
            await self.world_answer(leg_id)
        elif behavior in ("busy", "noanswer"):
            cause = HangupCause.USER_BUSY if behavior == "busy" else HangupCause.NO_ANSWER
            await self._end(leg, cause)
        return leg_id

    async def blind_transfer(
        self, leg_id: str, destination: str, kind: EndpointKind = EndpointKind.AGENT
    ) -> None:
        leg = self._leg(leg_id)
        if leg.bridge_id:
            await self._leave(leg)
        leg.callee = destination
        self.actions.append(("transfer", leg_id))

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
        leg = self._leg(leg_id)
        bridge_id = leg.bridge_id or leg.join_bridge
        if not bridge_id:
            raise CommandRejected(f"leg {leg_id} is not in a call")
        new_leg_id = new_leg_id or uuid.uuid4().hex
        variables = {"CC_CALL_ID": leg.call_id}
        if role is not None:
            variables["CC_ROLE"] = role.value
        await self.originate(
            leg_id=new_leg_id,
            destination=destination,
            kind=kind,
            caller_id_number=caller_id_number,
            timeout=timeout,
            variables=variables,
            join_bridge=bridge_id,
        )
        new = self.legs.get(new_leg_id)
        if replace_leg and new is not None and new.state == "up" and replace_leg in self.legs:
            old = self.legs[replace_leg]
            cause = HangupCause.PICKED_OFF if old.state != "up" else HangupCause.NORMAL_CLEARING
            await self._end(old, cause)
        return new_leg_id

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
        leg = self._leg(leg_id)
        new_leg_id = new_leg_id or uuid.uuid4().hex
        await self.originate(
            leg_id=new_leg_id,
            destination=destination,
            kind=kind,
            variables={"CC_CALL_ID": leg.call_id, "CC_ROLE": LegRole.SUPERVISOR.value},
            join_bridge=f"{new_leg_id}-spy",
        )
        self.snoops[new_leg_id] = (leg_id, whisper)
        return new_leg_id

    async def consult(
        self,
        leg_id: str,
        *,
        destination: str,
        kind: EndpointKind = EndpointKind.AGENT,
        new_leg_id: str = "",
        timeout: int = 30,
    ) -> str:
        agent = self._leg(leg_id)
        home = agent.bridge_id
        if not home:
            raise CommandRejected(f"leg {leg_id} is not in a call")
        new_leg_id = new_leg_id or uuid.uuid4().hex
        for other in [self.legs[m] for m in self.bridges.get(home, set()) if m != leg_id]:
            await self.hold(other.leg_id)
        await self.bridge([leg_id], f"{new_leg_id}-consult")
        self.consults[leg_id] = (new_leg_id, home)
        await self.originate(
            leg_id=new_leg_id,
            destination=destination,
            kind=kind,
            variables={"CC_CALL_ID": agent.call_id},
            join_bridge=f"{new_leg_id}-consult",
        )
        return new_leg_id

    async def complete_consult(self, leg_id: str) -> None:
        self._leg(leg_id)
        try:
            target_id, home = self.consults.pop(leg_id)
        except KeyError:
            raise CommandRejected(f"leg {leg_id} is not consulting") from None
        target = self._leg(target_id)
        if target.state != "up":
            raise CommandRejected("the consulted party has not answered")
        await self.bridge([target_id], home)
        for m in list(self.bridges.get(home, set())):
            if m != target_id and self.legs[m].held:
                await self.unhold(m)
        await self.hangup(leg_id)

    async def cancel_consult(self, leg_id: str) -> None:
        self._leg(leg_id)
        try:
            target_id, home = self.consults.pop(leg_id)
        except KeyError:
            raise CommandRejected(f"leg {leg_id} is not consulting") from None
        if target_id in self.legs:
            await self.hangup(target_id)
        await self.bridge([leg_id], home)
        for m in list(self.bridges.get(home, set())):
            if m != leg_id and self.legs[m].held:
                await self.unhold(m)

    async def leg_existed(self, leg_id: str) -> bool:
        return leg_id in self.created_legs

    async def list_legs(self) -> list[LegSnapshot]:
        return [
            LegSnapshot(
                g.leg_id, g.state, g.caller, g.callee, f"FAKE/{g.caller}", g.bridge_id, g.created
            )
            for g in self.legs.values()
        ]


if TYPE_CHECKING:
    _check: CallControl = FakeDriver()
