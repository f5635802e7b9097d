"""Operations over several legs on Asterisk: bridges, dialling into a call, attended
transfer, supervision (SW-2, SW-3).

Everything here is built from ARI primitives — mixing bridges, ``/snoop`` channels, MOH on
a bridge — so the call never leaves the Stasis app and stays recorded and controllable.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ...contract import CallHeld, CallResumed, HangupCause, LegRole
from ...contract.base import new_id
from ...contract.commands import EndpointKind
from ...errors import CommandRejected, NoSuchCall
from .core import AsteriskCore
from .translate import ARG_SNOOP, LegInfo

logger = logging.getLogger(__name__)


class AsteriskDriver(AsteriskCore):
    """``CallControl`` on Asterisk (ARI + AMI)."""

    async def bridge(self, leg_ids: Sequence[str], bridge_id: str = "") -> str:
        bridge_id = bridge_id or new_id()
        legs = [self._known(x) for x in leg_ids]
        await self._ensure_bridge(bridge_id, legs[0].call_id if legs else "")
        for leg in legs:
            await self._move(leg, bridge_id)
        return bridge_id

    def bridge_members(self, bridge_id: str) -> list[LegInfo]:
        return [x for x in self.legs.values() if x.bridge_id == bridge_id and not x.internal]

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
        """Dial ``destination``; on answer it joins the bridge ``leg_id`` is in (or is
        about to join): a three-way conference, a barge, or — with ``replace_leg`` — an
        intercept or a pickup, where that leg is dropped once the new one is in."""
        leg = self._known(leg_id)
        bridge_id = leg.bridge_id or leg.join_bridge
        if not bridge_id:
            raise CommandRejected(f"leg {leg_id} is not in a call")
        if replace_leg:
            self._known(replace_leg)
        new_leg_id = new_leg_id or new_id()
        variables = {"CC_CALL_ID": leg.call_id}
        if role is not None:
            variables["CC_ROLE"] = role.value
        await self.originate(
            leg_id=new_leg_id,
            destination=destination,
            kind=kind,
            timeout=timeout,
            caller_id_number=caller_id_number,
            variables=variables,
            join_bridge=bridge_id,
        )
        self.legs[new_leg_id].replace_leg = replace_leg
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
        """Listen to (and with ``whisper`` speak to, the agent only) the call of ``leg_id``
        from ``destination``'s phone, through an Asterisk snoop channel."""
        agent = self._known(leg_id)
        new_leg_id = new_leg_id or new_id()
        # (not "<leg>-snoop": Asterisk matches channel ids by prefix when checking for
        # duplicates, so the supervisor leg could not be created after it)
        snoop_id = f"snoop-{new_leg_id}"
        spy_bridge = f"spy-{new_leg_id}"
        self.legs[snoop_id] = LegInfo(snoop_id, agent.call_id, LegRole.OTHER, internal=True)
        started = self._await_stasis(snoop_id)
        try:
            await self.ari.post(
                f"/channels/{leg_id}/snoop",
                spy="both",
                whisper="out" if whisper else "none",
                app=self.ari.config.app,
                appArgs=ARG_SNOOP,
                snoopId=snoop_id,
            )
            await asyncio.wait_for(started, 5)
            await self._ensure_bridge(spy_bridge, agent.call_id)
            await self._move(self.legs[snoop_id], spy_bridge)
            await self.originate(
                leg_id=new_leg_id,
                destination=destination,
                kind=kind,
                timeout=timeout,
                variables={"CC_CALL_ID": agent.call_id, "CC_ROLE": LegRole.SUPERVISOR.value},
                join_bridge=spy_bridge,
            )
        except BaseException:
            self._stasis_waiters.pop(snoop_id, None)
            await self._quiet_hangup(snoop_id)
            raise
        self.legs[new_leg_id].companion = snoop_id
        return new_leg_id

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
        """The agent (``leg_id``) consults ``destination`` while the customer waits with
        music in the call's bridge."""
        agent = self._known(leg_id)
        home = agent.bridge_id
        if not home:
            raise CommandRejected(f"leg {leg_id} is not in a call")
        if agent.consult:
            raise CommandRejected(f"leg {leg_id} is already consulting")
        new_leg_id = new_leg_id or new_id()
        consult_bridge = f"{new_leg_id}-consult"
        await self._ensure_bridge(consult_bridge, agent.call_id)
        await self._move(agent, consult_bridge)
        await self.ari.post(f"/bridges/{home}/moh", mohClass=self.moh_class)
        agent.consult, agent.home_bridge = new_leg_id, home
        for other in self.bridge_members(home):
            await self._emit(CallHeld(call_id=other.call_id, leg_id=other.leg_id))
        await self.originate(
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
        agent = self._known(leg_id)
        target = self.legs.get(agent.consult)
        if target is None or not target.up:
            raise CommandRejected("the consulted party has not answered")
        home = agent.home_bridge
        await self.ari.delete(f"/bridges/{home}/moh")
        await self._move(target, home)
        for other in self.bridge_members(home):
            if other.leg_id != target.leg_id:
                await self._emit(CallResumed(call_id=other.call_id, leg_id=other.leg_id))
        agent.consult = agent.home_bridge = ""
        await self._quiet_hangup(leg_id, HangupCause.NORMAL_CLEARING)

    async def cancel_consult(self, leg_id: str) -> None:
        """Drop the consulted party; the agent is back with the customer."""
        agent = self._known(leg_id)
        consult, home = agent.consult, agent.home_bridge
        if not home:
            raise CommandRejected(f"leg {leg_id} is not consulting")
        if consult:
            await self._quiet_hangup(consult)
        await self._move(agent, home)
        try:
            await self.ari.delete(f"/bridges/{home}/moh")
        except (CommandRejected, NoSuchCall):
            pass
        for other in self.bridge_members(home):
            if other.leg_id != leg_id:
                await self._emit(CallResumed(call_id=other.call_id, leg_id=other.leg_id))
        agent.consult = agent.home_bridge = ""

    async def blind_transfer(
        self, leg_id: str, destination: str, kind: EndpointKind = EndpointKind.AGENT
    ) -> None:
        """Connect ``leg_id`` (the customer) to ``destination``: whoever else is in its
        bridge is dropped, the customer hears ringing, the new leg joins on answer."""
        leg = self.legs.get(leg_id)
        if leg is None:
            raise NoSuchCall(f"no such leg {leg_id}")
        bridge_id = leg.bridge_id or await self.bridge([leg_id])
        info = await self.ari.get(f"/bridges/{bridge_id}")
        for other in info.get("channels", []):
            if other != leg_id:
                await self._quiet_hangup(other)
        await self.ari.post(f"/channels/{leg_id}/ring")
        await self.originate(
            leg_id=new_id(),
            destination=destination,
            kind=kind,
            variables={"CC_CALL_ID": leg.call_id},
            join_bridge=bridge_id,
        )


if TYPE_CHECKING:
    from ...callcontrol import CallControl

    def _check(d: AsteriskDriver) -> CallControl:
        return d
