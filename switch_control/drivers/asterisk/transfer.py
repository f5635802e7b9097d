"""Transfers on Asterisk, built from mixing bridges so the call never leaves the app (SW-3).

Attended: the agent moves to a consult bridge while the customer's bridge plays music,
then hands the consulted party over (or comes back). Blind: whoever else is in the
customer's bridge is dropped, the customer hears ringing, the new leg joins on answer.
"""

from __future__ import annotations

from ...contract import CallHeld, CallResumed, HangupCause
from ...contract.base import new_id
from ...contract.commands import EndpointKind
from ...errors import CommandRejected, NoSuchCall
from .dialing import Dialer
from .legs import LegTable


class Transfers:
    def __init__(self, table: LegTable, dialer: Dialer, *, moh_class: str = "default") -> None:
        self.table = table
        self.dialer = dialer
        self.ari = table.ari
        self.moh_class = moh_class

    async def consult(
        self,
        leg_id: str,
        *,
        destination: str,
        kind: EndpointKind = EndpointKind.AGENT,
        new_leg_id: str = "",
        timeout: int = 30,
    ) -> str:
        """The agent (``leg_id``) consults ``destination`` while the customer waits with
        music in the call's bridge."""
        table = self.table
        agent = table.known(leg_id)
        home = agent.bridge_id
        if not home:
            raise CommandRejected(f"leg {leg_id} is not in a call")
        if agent.consult:
            raise CommandRejected(f"leg {leg_id} is already consulting")
        new_leg_id = new_leg_id or new_id()
        consult_bridge = f"{new_leg_id}-consult"
        await table.ensure_bridge(consult_bridge, agent.call_id)
        await table.move(agent, consult_bridge)
        await self.ari.post(f"/bridges/{home}/moh", mohClass=self.moh_class)
        agent.consult, agent.home_bridge = new_leg_id, home
        for other in table.members(home):
            await table.emit(CallHeld(call_id=other.call_id, leg_id=other.leg_id))
        await self.dialer.originate(
            leg_id=new_leg_id,
            destination=destination,
            kind=kind,
            timeout=timeout,
            variables={"CC_CALL_ID": agent.call_id},
            join_bridge=consult_bridge,
        )
        return new_leg_id

    async def complete_consult(self, leg_id: str) -> None:
        """Connect the consulted party to the customer; the agent drops out."""
        table = self.table
        agent = table.known(leg_id)
        target = table.legs.get(agent.consult)
        if target is None or not target.up:
            raise CommandRejected("the consulted party has not answered")
        home = agent.home_bridge
        await self.ari.delete(f"/bridges/{home}/moh")
        await table.move(target, home)
        for other in table.members(home):
            if other.leg_id != target.leg_id:
                await table.emit(CallResumed(call_id=other.call_id, leg_id=other.leg_id))
        agent.consult = agent.home_bridge = ""
        await table.quiet_hangup(leg_id, HangupCause.NORMAL_CLEARING)

    async def cancel_consult(self, leg_id: str) -> None:
        """Drop the consulted party; the agent is back with the customer."""
        table = self.table
        agent = table.known(leg_id)
        consult, home = agent.consult, agent.home_bridge
        if not home:
            raise CommandRejected(f"leg {leg_id} is not consulting")
        if consult:
            await table.quiet_hangup(consult)
        await table.move(agent, home)
        try:
            await self.ari.delete(f"/bridges/{home}/moh")
        except (CommandRejected, NoSuchCall):
            pass
        for other in table.members(home):
            if other.leg_id != leg_id:
                await table.emit(CallResumed(call_id=other.call_id, leg_id=other.leg_id))
        agent.consult = agent.home_bridge = ""

    async def blind_transfer(
        self, leg_id: str, destination: str, kind: EndpointKind = EndpointKind.AGENT
    ) -> None:
        """Connect ``leg_id`` (the customer) to ``destination``: whoever else is in its
        bridge is dropped, the customer hears ringing, the new leg joins on answer."""
        table = self.table
        leg = table.known(leg_id)
        bridge_id = leg.bridge_id or await table.bridge([leg_id])
        info = await self.ari.get(f"/bridges/{bridge_id}")
        for other in info.get("channels", []):
            if other != leg_id:
                await table.quiet_hangup(other)
        await self.ari.post(f"/channels/{leg_id}/ring")
        await self.dialer.originate(
            leg_id=new_id(),
            destination=destination,
            kind=kind,
            variables={"CC_CALL_ID": leg.call_id},
            join_bridge=bridge_id,
        )
