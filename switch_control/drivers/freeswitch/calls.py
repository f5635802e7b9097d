"""Operations over several legs on FreeSWITCH: bridges, dialling into a call, attended
transfer, supervision (SW-2, SW-3). A bridge is a conference room (see the package
docstring); moving a leg is an ``uuid_transfer`` to an inline extension."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from ...contract import CallBridged, CallResumed, CallUnbridged, HangupCause, LegRole
from ...contract.commands import EndpointKind
from ...errors import CommandRejected, NoSuchCall
from ...protocols.esl import EslEvent
from . import translate as tr
from .core import Switch
from .dialing import Dialer
from .events import LegEvents
from .legs import LegOps
from .table import LegTable
from .translate import FsLeg

logger = logging.getLogger(__name__)


class CallOps:
    """Bridges, a third party, supervision, transfers: what joins and moves legs."""

    def __init__(
        self, switch: Switch, table: LegTable, events: LegEvents, dialer: Dialer, leg_ops: LegOps
    ) -> None:
        self.switch = switch
        self.table = table
        self.dialer = dialer
        self.leg_ops = leg_ops
        events.add("CHANNEL_EXECUTE", self._on_execute)
        events.add("CHANNEL_EXECUTE_COMPLETE", self._on_execute_complete)

    async def bridge(self, leg_ids: Sequence[str], bridge_id: str = "") -> str:
        bridge_id = bridge_id or self.switch.new_id()
        self.table.conference(bridge_id)  # checks the id
        legs = [self.table.known(x) for x in leg_ids]
        if legs:
            self.table.bridges.setdefault(bridge_id, legs[0].call_id)
        for leg in legs:
            await self.move(leg, bridge_id)
        return bridge_id

    async def move(self, leg: FsLeg, bridge_id: str) -> None:
        """Into the bridge's conference (out of the one it is in); the add-member event
        confirms it (CallBridged)."""
        if bridge_id in (leg.bridge_id, leg.join_bridge):
            return
        target = self.table.join_target(bridge_id)
        before, leg.join_bridge = leg.join_bridge, bridge_id  # before the add-member can come
        try:
            await self.switch.leg_api(leg.leg_id, f"uuid_transfer {leg.leg_id} {target} inline")
        except BaseException:
            leg.join_bridge = before
            raise

    # ------------------------------------------------------------------ dial into a call
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
        """Dial ``destination``; on answer it joins the conference ``leg_id`` is in (or is
        on its way to): a three-way call, a barge, or with ``replace_leg`` an intercept
        or a pickup, where that leg is hung up once the new one is in."""
        leg = self.table.known(leg_id)
        bridge_id = leg.bridge_id or leg.join_bridge
        if not bridge_id:
            raise CommandRejected(f"leg {leg_id} is not in a call")
        if replace_leg:
            self.table.known(replace_leg)
        variables = {"CC_CALL_ID": leg.call_id}
        if role is not None:
            variables["CC_ROLE"] = role.value
        new_leg_id = new_leg_id or self.switch.new_id()
        new = self.dialer.new_leg(new_leg_id, destination, kind, caller_id_number, variables)
        new.join_bridge, new.replace_leg = bridge_id, replace_leg
        await self.dialer.dial(
            new, destination, kind, f"{self.table.join_target(bridge_id)} inline", timeout
        )
        return new_leg_id

    # ------------------------------------------------------------------ supervision
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
        """The supervisor's answered leg runs ``eavesdrop`` on the agent's channel: it
        hears what the agent says and hears. With ``whisper`` the supervisor's voice is
        mixed into what the agent hears only (``eavesdrop_whisper_aleg``); the customer
        never hears it. DTMF mode switching is off: the mode is the command's."""
        agent = self.table.known(leg_id)
        new_leg_id = new_leg_id or self.switch.new_id()
        variables = {"CC_CALL_ID": agent.call_id, "CC_ROLE": LegRole.SUPERVISOR.value}
        leg = self.dialer.new_leg(new_leg_id, destination, kind, "", variables)
        leg.spy_bridge = f"{new_leg_id}-spy"
        extra = {"eavesdrop_enable_dtmf": "false"}
        if whisper:
            extra["eavesdrop_whisper_aleg"] = "true"
        await self.dialer.dial(
            leg, destination, kind, f"&eavesdrop({leg_id})", timeout, extra=extra
        )
        return new_leg_id

    async def _on_execute(self, ev: EslEvent, leg: FsLeg) -> None:
        if leg.spy_bridge and ev.get("Application") == "eavesdrop":
            await self.switch.emit(
                CallBridged(
                    call_id=leg.call_id,
                    leg_id=leg.leg_id,
                    bridge_id=leg.spy_bridge,
                    at=tr.event_time(ev),
                )
            )

    async def _on_execute_complete(self, ev: EslEvent, leg: FsLeg) -> None:
        if leg.spy_bridge and ev.get("Application") == "eavesdrop":
            await self.switch.emit(
                CallUnbridged(
                    call_id=leg.call_id,
                    leg_id=leg.leg_id,
                    bridge_id=leg.spy_bridge,
                    at=tr.event_time(ev),
                )
            )

    # ------------------------------------------------------------------ attended transfer
    async def consult(
        self,
        leg_id: str,
        *,
        destination: str,
        kind: EndpointKind = EndpointKind.AGENT,
        new_leg_id: str = "",
        timeout: int = 30,
    ) -> str:
        """The agent moves to a consultation room with ``destination``; the others in the
        call's room are held (music, not heard) meanwhile."""
        agent = self.table.known(leg_id)
        home = agent.bridge_id or agent.join_bridge
        if not home:
            raise CommandRejected(f"leg {leg_id} is not in a call")
        if agent.consult:
            raise CommandRejected(f"leg {leg_id} is already consulting")
        new_leg_id = new_leg_id or self.switch.new_id()
        consult_bridge = f"{new_leg_id}-consult"
        new = self.dialer.new_leg(new_leg_id, destination, kind, "", {"CC_CALL_ID": agent.call_id})
        new.join_bridge = consult_bridge
        self.table.bridges.setdefault(consult_bridge, agent.call_id)
        await self.move(agent, consult_bridge)
        agent.consult, agent.home_bridge = new_leg_id, home
        for other in self.table.bridge_members(home):
            if other is not agent:
                await self.leg_ops.hold(other.leg_id)
        await self.dialer.dial(
            new, destination, kind, f"{self.table.join_target(consult_bridge)} inline", timeout
        )
        return new_leg_id

    async def complete_consult(self, leg_id: str) -> None:
        """The consulted party joins the customer; the agent drops out."""
        agent = self.table.known(leg_id)
        target = self.table.legs.get(agent.consult)
        if target is None or not target.up:
            raise CommandRejected("the consulted party has not answered")
        home = agent.home_bridge
        await self.move(target, home)
        await self._resume(home, except_leg=target.leg_id)
        agent.consult = agent.home_bridge = ""
        await self.switch.quiet_hangup(leg_id, HangupCause.NORMAL_CLEARING)

    async def cancel_consult(self, leg_id: str) -> None:
        """The consulted party drops; the agent is back with the customer."""
        agent = self.table.known(leg_id)
        consult, home = agent.consult, agent.home_bridge
        if not home:
            raise CommandRejected(f"leg {leg_id} is not consulting")
        if consult:
            await self.switch.quiet_hangup(consult, HangupCause.NORMAL_CLEARING)
        await self.move(agent, home)
        await self._resume(home, except_leg=leg_id)
        agent.consult = agent.home_bridge = ""

    async def _resume(self, bridge_id: str, except_leg: str) -> None:
        for other in self.table.bridge_members(bridge_id):
            if other.leg_id != except_leg and other.held:
                try:
                    await self.leg_ops.unhold(other.leg_id)
                except (NoSuchCall, CommandRejected) as exc:
                    logger.warning(
                        "[call %s] could not resume %s: %s", other.call_id, other.leg_id, exc
                    )
                    await self.switch.emit(CallResumed(call_id=other.call_id, leg_id=other.leg_id))

    async def blind_transfer(
        self, leg_id: str, destination: str, kind: EndpointKind = EndpointKind.AGENT
    ) -> None:
        """Connect ``leg_id`` (the customer) to ``destination``: the others in its room
        drop, the customer waits in the room (its hold music while alone) and the new leg
        joins on answer."""
        leg = self.table.known(leg_id)
        bridge_id = leg.bridge_id or leg.join_bridge or await self.bridge([leg_id])
        for other in self.table.bridge_members(bridge_id):
            if other.leg_id != leg_id:
                await self.switch.quiet_hangup(other.leg_id, HangupCause.NORMAL_CLEARING)
        await self.dialer.originate(
            leg_id=self.switch.new_id(),
            destination=destination,
            kind=kind,
            variables={"CC_CALL_ID": leg.call_id},
            join_bridge=bridge_id,
        )
