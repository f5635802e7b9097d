"""``FakeDriver``: ``CallControl`` on the fake switch (SW-1, SW-2, SW-3, SW-4).

It does what the real drivers do on their switches: an operation changes the switch and
returns; its events come afterwards from the switch's event task (``originate`` returns
with the leg ringing at most: CallOffered, CallRinging, CallAnswered and CallBridged follow
as the phone acts). A blind transfer drops the others in the customer's bridge, the
customer waits there and a new leg is dialled that joins on answer, as on Asterisk and
FreeSWITCH. After a restart, ``restore`` + ``start`` reconcile with the switch.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ...callcontrol import EventSink, KnownLeg, LegSnapshot, SwitchInfo
from ...contract import (
    CallHeld,
    CallResumed,
    DtmfReceived,
    Event,
    HangupCause,
    LegRole,
    SwitchConnected,
)
from ...contract.commands import EndpointKind
from ...errors import CommandRejected, NoSuchCall, OriginateFailed, SwitchUnavailable
from .. import dtmf
from .switch import FakeLeg, FakeSwitch, PhoneBehavior

logger = logging.getLogger(__name__)

_FAILS = {
    PhoneBehavior.OFFLINE: HangupCause.SUBSCRIBER_ABSENT,
    PhoneBehavior.UNKNOWN: HangupCause.NO_ROUTE_DESTINATION,
}


class FakeDriver:
    kind = "fake"

    def __init__(self, switch: FakeSwitch | None = None) -> None:
        self._own_switch = switch is None
        self.switch = switch if switch is not None else FakeSwitch()
        self.connected = False
        self.actions: list[tuple[str, str]] = []  # (operation, leg) journal for tests
        self.restored: list[KnownLeg] = []
        self.consults: dict[str, tuple[str, str]] = {}  # agent leg -> (consulted leg, home)
        self._collectors: dict[str, asyncio.Queue[str]] = {}
        self._sink: EventSink | None = None

    # the switch's state, for tests
    @property
    def legs(self) -> dict[str, FakeLeg]:
        return self.switch.legs

    @property
    def bridges(self) -> dict[str, set[str]]:
        return self.switch.bridges

    @property
    def snoops(self) -> dict[str, tuple[str, bool]]:
        return self.switch.snoops

    def collecting(self, leg_id: str) -> bool:
        """Whether digits pressed on ``leg_id`` now reach a ``collect_digits``."""
        return leg_id in self._collectors

    # ------------------------------------------------------------------ plumbing
    async def start(self, sink: EventSink) -> None:
        self._sink = sink
        self.connected = True
        self.switch.attach(self._deliver)
        self._reconcile()
        self.switch.emit(SwitchConnected(switch="fake", version="fake-1"))

    async def close(self) -> None:
        self.connected = False
        self.switch.detach(self._deliver)
        if self._own_switch:
            await self.switch.close()

    async def info(self) -> SwitchInfo:
        return SwitchInfo("fake", "fake-1", self.connected, len(self.switch.legs))

    async def wait_connected(self, timeout: float) -> bool:
        return self.connected

    async def restore(self, legs: Sequence[KnownLeg]) -> None:
        self.restored = list(legs)

    def _reconcile(self) -> None:
        """Known legs the switch no longer has ended while we were away (SW-4)."""
        for known in self.restored:
            if known.leg_id not in self.switch.legs:
                self.switch.emit(self.switch.ended_while_away(known.leg_id, known.call_id))
        self.restored = []

    async def _deliver(self, event: Event) -> None:
        if isinstance(event, DtmfReceived):
            queue = self._collectors.get(event.leg_id)
            if queue is not None:
                queue.put_nowait(event.digit)
        if self._sink is not None:
            await self._sink(event)

    async def endpoint_online(self, endpoint: str) -> bool:
        return self.switch.behavior(endpoint) not in _FAILS

    def _check_up(self) -> None:
        if not self.connected or not self.switch.up:
            raise SwitchUnavailable("fake switch is down")

    def _leg(self, leg_id: str) -> FakeLeg:
        self._check_up()
        leg = self.switch.legs.get(leg_id)
        if leg is None or leg.state == "down":
            raise NoSuchCall(f"no such leg {leg_id}")
        return leg

    def world_switch_down(self) -> None:
        """The switch becomes unreachable: every operation raises ``SwitchUnavailable``."""
        self.switch.up = False

    # ------------------------------------------------------------------ one leg
    async def answer(self, leg_id: str) -> None:
        self.actions.append(("answer", leg_id))
        self.switch.set_up(self._leg(leg_id))

    async def hangup(self, leg_id: str, cause: HangupCause = HangupCause.NORMAL_CLEARING) -> None:
        self.actions.append(("hangup", leg_id))
        self.switch.end(self._leg(leg_id), cause)

    async def play(self, leg_id: str, media: Sequence[str], playback_id: str = "") -> str:
        leg = self._leg(leg_id)
        self.actions.append(("play", leg_id))
        return self.switch.media.play(leg, media, playback_id)

    async def stop_playback(self, playback_id: str) -> None:
        self._check_up()
        self.switch.media.stop(playback_id)

    async def _quiet_stop(self, playback_id: str) -> None:
        try:
            await self.stop_playback(playback_id)
        except (NoSuchCall, SwitchUnavailable):
            pass

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
        """Keys pressed from the start of the prompt count; the first stops the prompt
        (as both real drivers do: keys pressed before the command are not kept)."""
        self._leg(leg_id)
        return await dtmf.collect_on_leg(
            self._collectors,
            leg_id,
            start_prompt=(lambda: self.play(leg_id, prompt)) if prompt else None,
            stop_prompt=self._quiet_stop,
            max_digits=max_digits,
            terminator=terminator,
            first_digit_timeout=first_digit_timeout,
            inter_digit_timeout=inter_digit_timeout,
            overall_timeout=overall_timeout,
        )

    async def hold(self, leg_id: str) -> None:
        """The held party hears music and is not heard by the others."""
        leg = self._leg(leg_id)
        leg.held = True
        self.switch.emit(CallHeld(call_id=leg.call_id, leg_id=leg_id))

    async def unhold(self, leg_id: str) -> None:
        leg = self._leg(leg_id)
        leg.held = False
        self.switch.emit(CallResumed(call_id=leg.call_id, leg_id=leg_id))

    # ------------------------------------------------------------------ recording
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
            self._leg(leg_id)
        self._check_up()
        self.switch.media.record(name, leg_id, bridge_id)

    async def stop_recording(self, name: str) -> None:
        self._check_up()
        self.switch.media.stop_recording(name)

    async def fetch_recording(self, name: str, fmt: str = "wav") -> bytes:
        self._check_up()
        return self.switch.media.fetch(name)

    # ------------------------------------------------------------------ several legs
    async def bridge(self, leg_ids: Sequence[str], bridge_id: str = "") -> str:
        legs = [self._leg(x) for x in leg_ids]
        bridge_id = bridge_id or uuid.uuid4().hex
        for leg in legs:
            self.switch.join(leg, bridge_id)
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
        self._check_up()
        if leg_id in self.switch.legs:
            raise CommandRejected(f"leg {leg_id} already exists")
        failure = _FAILS.get(self.switch.behavior(destination))
        if failure is not None:
            raise OriginateFailed(failure.value, destination)
        variables = variables or {}
        call_id = variables.get("CC_CALL_ID") or leg_id
        role = LegRole.AGENT if kind is EndpointKind.AGENT else LegRole.EXTERNAL
        try:
            role = LegRole(variables.get("CC_ROLE") or role)
        except ValueError as exc:
            raise CommandRejected(f"unknown role {variables['CC_ROLE']!r}") from exc
        leg = FakeLeg(leg_id, call_id, "ringing", caller_id_number, destination, role)
        leg.join_bridge = join_bridge
        self.actions.append(("originate", leg_id))
        self.switch.dial(leg, timeout)
        return leg_id

    async def leg_existed(self, leg_id: str) -> bool:
        self._check_up()
        return leg_id in self.switch.created

    async def list_legs(self) -> list[LegSnapshot]:
        self._check_up()
        return [
            LegSnapshot(
                g.leg_id, g.state, g.caller, g.callee, f"FAKE/{g.caller}", g.bridge_id, g.created
            )
            for g in self.switch.legs.values()
        ]

    # ------------------------------------------------------------------ transfers, supervision
    async def blind_transfer(
        self, leg_id: str, destination: str, kind: EndpointKind = EndpointKind.AGENT
    ) -> None:
        """Connect ``leg_id`` (the customer) to ``destination``: the others in its bridge
        drop, the customer waits in the bridge, the new leg joins it on answer."""
        leg = self._leg(leg_id)
        self.actions.append(("transfer", leg_id))
        bridge_id = leg.bridge_id or await self.bridge([leg_id])
        for other in list(self.switch.bridges.get(bridge_id, set())):
            if other != leg_id and other in self.switch.legs:
                self.switch.end(self.switch.legs[other], HangupCause.NORMAL_CLEARING)
        await self.originate(
            leg_id=uuid.uuid4().hex,
            destination=destination,
            kind=kind,
            variables={"CC_CALL_ID": leg.call_id},
            join_bridge=bridge_id,
        )

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
        """Dial ``destination``; on answer it joins ``leg_id``'s bridge (three-way, barge)
        and with ``replace_leg`` that leg drops then (intercept, pickup)."""
        leg = self._leg(leg_id)
        bridge_id = leg.bridge_id or leg.join_bridge
        if not bridge_id:
            raise CommandRejected(f"leg {leg_id} is not in a call")
        if replace_leg:
            self._leg(replace_leg)
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
        self.switch.legs[new_leg_id].replace_leg = replace_leg
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
        """The supervisor's leg joins a bridge of its own with the agent's audio: it hears
        the agent's call; with ``whisper`` the agent alone also hears it."""
        leg = self._leg(leg_id)
        new_leg_id = new_leg_id or uuid.uuid4().hex
        await self.originate(
            leg_id=new_leg_id,
            destination=destination,
            kind=kind,
            timeout=timeout,
            variables={"CC_CALL_ID": leg.call_id, "CC_ROLE": LegRole.SUPERVISOR.value},
            join_bridge=f"spy-{new_leg_id}",
        )
        self.switch.snoops[new_leg_id] = (leg_id, whisper)
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
        if leg_id in self.consults:
            raise CommandRejected(f"leg {leg_id} is already consulting")
        new_leg_id = new_leg_id or uuid.uuid4().hex
        for other in list(self.switch.bridges.get(home, set())):
            if other != leg_id:
                await self.hold(other)
        await self.bridge([leg_id], f"{new_leg_id}-consult")
        self.consults[leg_id] = (new_leg_id, home)
        await self.originate(
            leg_id=new_leg_id,
            destination=destination,
            kind=kind,
            timeout=timeout,
            variables={"CC_CALL_ID": agent.call_id},
            join_bridge=f"{new_leg_id}-consult",
        )
        return new_leg_id

    async def complete_consult(self, leg_id: str) -> None:
        self._leg(leg_id)
        target_id, home = self.consults.get(leg_id, ("", ""))
        target = self.switch.legs.get(target_id)
        if target is None or target.state != "up":
            raise CommandRejected("the consulted party has not answered")
        del self.consults[leg_id]
        await self.bridge([target_id], home)
        await self._resume(home, except_leg=target_id)
        await self.hangup(leg_id)

    async def cancel_consult(self, leg_id: str) -> None:
        self._leg(leg_id)
        try:
            target_id, home = self.consults.pop(leg_id)
        except KeyError:
            raise CommandRejected(f"leg {leg_id} is not consulting") from None
        if target_id in self.switch.legs:
            await self.hangup(target_id)
        await self.bridge([leg_id], home)
        await self._resume(home, except_leg=leg_id)

    async def _resume(self, bridge_id: str, except_leg: str) -> None:
        for m in list(self.switch.bridges.get(bridge_id, set())):
            if m != except_leg and self.switch.legs[m].held:
                await self.unhold(m)


if TYPE_CHECKING:
    from ...callcontrol import CallControl

    _check: CallControl = FakeDriver()
