"""ARI events -> the leg table and contract events (SW-1, SW-2, REC-1).

Every call we handle sits in the Stasis app. Legs we dial are originated into it
(Asterisk subscribes the app to them from the first ring); a caller that came through the
dialplan is subscribed explicitly on ``StasisStart``, or its ``ChannelDestroyed`` (which
carries the cause) could be lost as it leaves Stasis while hanging up. The translation of
single events is ``translate``'s; what needs the table or a request is here. A handler's
failure is logged by the ARI client and never stops the event stream.
"""

from __future__ import annotations

import asyncio
import logging

from ...contract import CallEnded
from ...errors import CommandRejected, NoSuchCall, SwitchUnavailable
from ...protocols.ari import AriEvent
from . import translate as tr
from .legs import LegTable
from .translate import LegInfo

logger = logging.getLogger(__name__)

LEG_EVENTS = ("ChannelStateChange", "ChannelDtmfReceived", "ChannelDestroyed")


class AriEvents:
    def __init__(self, table: LegTable) -> None:
        self.table = table
        self.ari = ari = table.ari
        self._stasis_waiters: dict[str, asyncio.Future[None]] = {}
        ari.on("StasisStart", self._on_stasis_start)
        ari.on("RecordingFinished", self._on_recording_finished)
        ari.on("RecordingFailed", self._on_recording_finished)
        ari.on("PlaybackFinished", self._on_playback_finished)
        for etype in LEG_EVENTS:
            ari.on(etype, self._on_leg_event)

    def await_stasis(self, leg_id: str) -> asyncio.Future[None]:
        """A future set when ``leg_id`` enters the app (a snoop channel we create)."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._stasis_waiters[leg_id] = fut
        return fut

    def stop_waiting(self, leg_id: str) -> None:
        self._stasis_waiters.pop(leg_id, None)

    async def _on_stasis_start(self, ev: AriEvent) -> None:
        ch = ev.channel
        if ch is None:
            return
        waiter = self._stasis_waiters.pop(ch.id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        table = self.table
        known = table.legs.get(ch.id)
        if known is not None:
            # a leg we dialled enters the app when it answers (after ChannelStateChange Up)
            table.start_join(known)
            if known.internal:  # a snoop channel: created into the app, not dialled
                table.spawn(self._keep_subscribed(known))
            return
        result = tr.offered(ev, ch)
        if result is None:
            return
        leg, event = result
        table.legs[ch.id] = leg
        table.spawn(self._keep_subscribed(leg))
        await table.emit(event)

    async def _keep_subscribed(self, leg: LegInfo) -> None:
        """Subscribe the app to a leg that came in through the dialplan, so its
        ChannelDestroyed (the hangup cause) reaches us. Without ``subscribeAll`` the app
        is subscribed to such a channel only while it is in Stasis, and it leaves Stasis
        as it hangs up, before it is destroyed. (Legs we originate are subscribed by the
        originate itself.) If the channel is already gone, it ended now."""
        app = self.ari.config.app
        legs = self.table.legs
        try:
            await self.ari.post(
                f"/applications/{app}/subscription", eventSource=f"channel:{leg.leg_id}"
            )
            return
        except (CommandRejected, NoSuchCall):
            pass
        except SwitchUnavailable:
            return  # reconciliation after the reconnection tells whether it ended
        if legs.get(leg.leg_id) is leg:
            try:
                await self.ari.get(f"/channels/{leg.leg_id}")
                logger.warning("leg %s: events not subscribed", leg.leg_id)
                return
            except NoSuchCall:
                pass
            except (CommandRejected, SwitchUnavailable):
                return
            if legs.get(leg.leg_id) is leg:
                await self.table.end_leg(leg, CallEnded(call_id=leg.call_id, leg_id=leg.leg_id))

    async def _on_leg_event(self, ev: AriEvent) -> None:
        ch = ev.channel
        if ch is None:
            return
        table = self.table
        leg = table.legs.get(ch.id)
        if leg is None:
            return
        if ev.type == "ChannelDtmfReceived":
            q = table.collectors.get(ch.id)
            if q is not None:
                q.put_nowait(ev.get("digit"))
        elif ev.type == "ChannelDestroyed":
            if leg.moving is not None:
                # our addChannel/removeChannel for it is still unanswered: its reply
                # says whether the leg was bridged; end it after that, in order
                table.spawn(self._destroyed_after_move(leg, ev))
                return
            await table.end_leg(leg, tr.simple(ev, leg), at=ev.timestamp)
            return
        if leg.internal:
            return
        event = tr.simple(ev, leg)
        if event is not None:
            await table.emit(event)

    async def _destroyed_after_move(self, leg: LegInfo, ev: AriEvent) -> None:
        while leg.moving is not None:
            await asyncio.shield(leg.moving)
        if self.table.legs.get(leg.leg_id) is leg:
            await self._on_leg_event(ev)

    async def _on_playback_finished(self, ev: AriEvent) -> None:
        event = tr.playback_finished(ev, self.table.legs)
        if event is not None:
            await self.table.emit(event)

    async def _on_recording_finished(self, ev: AriEvent) -> None:
        await self.table.emit(tr.recording_finished(ev, self.table.legs, self.table.bridges))
