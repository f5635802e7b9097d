"""Legs we dial on Asterisk: originate, dialling into a call, supervision (SW-1, SW-3, SW-4).

A leg is originated straight into the app (``POST /channels`` with our own channel id:
Asterisk subscribes the app to it from its first ring) and joins its bridge on
``StasisStart``, which follows the ``Up`` state change. The channel id makes the request
safe to repeat: a second ``POST /channels`` for the same leg gets 409, which means the leg
exists and is ours (``_adopt``), never a second call. Listen and whisper are an ARI snoop
channel bridged with the supervisor's phone, so the call never leaves the app.
"""

from __future__ import annotations

import asyncio
import logging

from ...contract import CallAnswered, CallEnded, CallOffered, Direction, HangupCause, LegRole
from ...contract.base import new_id
from ...contract.commands import EndpointKind
from ...errors import CommandRejected, NoSuchCall, OriginateFailed, SwitchUnavailable
from ...protocols.ari import AriRefused, AriUnanswered, Channel
from ..callerid import safe_caller_name
from . import translate as tr
from .events import AriEvents
from .legs import LegTable
from .translate import MARK_VARIABLE, LegInfo, marker

logger = logging.getLogger(__name__)


class Dialer:
    def __init__(
        self, table: LegTable, events: AriEvents, *, agent_tech: str = "PJSIP", trunk: str = ""
    ) -> None:
        self.table = table
        self.events = events
        self.ari = table.ari
        self.agent_tech = agent_tech
        self.trunk = trunk

    def endpoint(self, destination: str, kind: EndpointKind) -> str:
        if kind is EndpointKind.AGENT:
            return f"{self.agent_tech}/{destination}"
        if kind is EndpointKind.EXTERNAL:
            return f"{self.agent_tech}/{destination}@{self.trunk}"
        return destination

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
        replace_leg: str = "",
        companion: str = "",
    ) -> str:
        """Dial a leg; once answered it joins ``join_bridge`` (and then ``replace_leg``
        is hung up); ``companion`` is hung up when it ends."""
        variables = dict(variables or {})
        call_id = variables.pop("CC_CALL_ID", "") or leg_id
        role = LegRole.AGENT if kind is EndpointKind.AGENT else LegRole.EXTERNAL
        role = LegRole(variables.pop("CC_ROLE", role))
        mark = variables.pop(MARK_VARIABLE, "") == "1"
        # (caller ID goes in ``callerId`` below, set as the channel is created: as
        # CALLERID() variables it would cost Asterisk a caller-id change and its events)
        chan_vars = {"CC_CALL_ID": call_id, "CC_ROLE": role.value, **variables}
        caller_id_name = safe_caller_name(caller_id_name)
        legs = self.table.legs
        if leg_id in legs:
            raise CommandRejected(f"leg {leg_id} already exists (409)")
        leg = LegInfo(
            leg_id,
            call_id,
            role,
            join_bridge=join_bridge,
            marked=mark,
            replace_leg=replace_leg,
            companion=companion,
        )
        legs[leg_id] = leg
        if mark:
            # The switch remembers that this leg was created (a global variable set by the
            # channel itself at creation): a command that was in flight when the
            # controller died is resolved by asking, never by dialling again.
            chan_vars[f"GLOBAL({marker(leg_id)})"] = "1"
        # the switch keeps the leg's end time and cause for a controller that is away
        chan_vars["CHANNEL(hangup_handler_push)"] = "cc-hangup,s,1"
        caller_id = (
            f'"{caller_id_name}" <{caller_id_number}>' if caller_id_name else caller_id_number
        )
        if join_bridge:
            self.table.bridges.setdefault(join_bridge, call_id)
        # Offered before the request: the leg's first events (ringing, even answered) can
        # reach us over the websocket before the REST reply does.
        await self.table.emit(
            CallOffered(
                call_id=call_id,
                leg_id=leg_id,
                direction=Direction.OUTBOUND,
                role=role,
                caller_number=caller_id_number,
                callee_number=destination,
                switch="asterisk",
            )
        )
        try:
            # one request: Asterisk dials at once, and we see every event of the leg from
            # its first ring; it enters the app when answered
            for attempt in (1, 2):
                try:
                    await self.ari.post(
                        "/channels",
                        {"variables": chan_vars},
                        endpoint=self.endpoint(destination, kind),
                        app=self.ari.config.app,
                        appArgs=tr.ARG_DIALED,
                        channelId=leg_id,
                        callerId=caller_id,
                        timeout=timeout,
                    )
                    break
                except AriUnanswered as exc:
                    # Asterisk's idle close crossed the request: it may have dialled or
                    # not. Our channel id makes a second POST safe (409: it did).
                    if attempt == 2:
                        raise
                    logger.info("[call %s] originate of %s resent: %s", call_id, leg_id, exc)
        except CommandRejected as exc:
            if isinstance(exc, AriRefused) and exc.status == 409:
                # a channel with our id exists: this originate was sent before (a retried
                # command whose first attempt did reach the switch)
                await self._adopt(leg, exc)
                return leg_id
            legs.pop(leg_id, None)
            cause = HangupCause.SUBSCRIBER_ABSENT  # e.g. the agent's phone is not registered
            await self.table.emit(CallEnded(call_id=call_id, leg_id=leg_id, cause=cause))
            raise OriginateFailed(cause.value, str(exc)) from exc
        except BaseException:
            legs.pop(leg_id, None)
            raise
        return leg_id

    async def _adopt(self, leg: LegInfo, conflict: AriRefused) -> None:
        """Originate met 409: a channel with the leg's id exists. If it carries this call,
        it is our leg, dialled by an earlier attempt: keep it, caught up with what the
        switch says of it (events it sent while we had let it go are lost). A channel of
        another call is a refusal; one gone by now ended."""
        table = self.table
        if table.legs.get(leg.leg_id) is not leg:
            return  # it ended while the request was out (its events told us)
        try:
            raw = await self.ari.get(f"/channels/{leg.leg_id}")
            ch = Channel.from_json(raw)
        except NoSuchCall:
            if table.legs.get(leg.leg_id) is leg:
                ended = CallEnded(call_id=leg.call_id, leg_id=leg.leg_id, cause=HangupCause.UNKNOWN)
                await table.end_leg(leg, ended)
            return
        except (CommandRejected, SwitchUnavailable, ValueError) as exc:
            logger.warning("leg %s exists; its state not read: %s", leg.leg_id, exc)
            return  # kept as it is; a reconnection reconciles it
        if tr.call_id_of(ch) != leg.call_id:
            if table.legs.get(leg.leg_id) is leg:
                ended = CallEnded(call_id=leg.call_id, leg_id=leg.leg_id, cause=HangupCause.UNKNOWN)
                await table.end_leg(leg, ended)
            raise CommandRejected(f"{conflict} (a channel of call {tr.call_id_of(ch)})")
        if table.legs.get(leg.leg_id) is not leg:
            return
        logger.info("leg %s existed already (409): kept [call %s]", leg.leg_id, leg.call_id)
        if ch.state == "Up" and not leg.up:
            leg.up = True
            await table.emit(CallAnswered(call_id=leg.call_id, leg_id=leg.leg_id))
        if ch.state == "Up" and tr.in_app(raw, self.ari.config.app):
            table.start_join(leg)  # its StasisStart came while it was not ours

    async def leg_existed(self, leg_id: str) -> bool:
        if leg_id in self.table.legs:
            return True
        value = await self.ari.get("/asterisk/variable", variable=marker(leg_id))
        return str((value or {}).get("value", "")) == "1"

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
        leg = self.table.known(leg_id)
        bridge_id = leg.bridge_id or leg.join_bridge
        if not bridge_id:
            raise CommandRejected(f"leg {leg_id} is not in a call")
        if replace_leg:
            self.table.known(replace_leg)
        new_leg_id = new_leg_id or new_id()
        variables = {"CC_CALL_ID": leg.call_id}
        if role is not None:
            variables["CC_ROLE"] = role.value
        return await self.originate(
            leg_id=new_leg_id,
            destination=destination,
            kind=kind,
            timeout=timeout,
            caller_id_number=caller_id_number,
            variables=variables,
            join_bridge=bridge_id,
            replace_leg=replace_leg,
        )

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
        table = self.table
        agent = table.known(leg_id)
        new_leg_id = new_leg_id or new_id()
        # (not "<leg>-snoop": Asterisk matches channel ids by prefix when checking for
        # duplicates, so the supervisor leg could not be created after it)
        snoop_id = f"snoop-{new_leg_id}"
        spy_bridge = f"spy-{new_leg_id}"
        table.legs[snoop_id] = LegInfo(snoop_id, agent.call_id, LegRole.OTHER, internal=True)
        started = self.events.await_stasis(snoop_id)
        try:
            await self.ari.post(
                f"/channels/{leg_id}/snoop",
                spy="both",
                whisper="out" if whisper else "none",
                app=self.ari.config.app,
                appArgs=tr.ARG_SNOOP,
                snoopId=snoop_id,
            )
            await asyncio.wait_for(started, 5)
            await table.ensure_bridge(spy_bridge, agent.call_id)
            await table.move(table.legs[snoop_id], spy_bridge)
            await self.originate(
                leg_id=new_leg_id,
                destination=destination,
                kind=kind,
                timeout=timeout,
                variables={"CC_CALL_ID": agent.call_id, "CC_ROLE": LegRole.SUPERVISOR.value},
                join_bridge=spy_bridge,
                companion=snoop_id,
            )
        except BaseException:
            self.events.stop_waiting(snoop_id)
            await table.quiet_hangup(snoop_id)
            raise
        return new_leg_id
