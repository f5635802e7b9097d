"""uuid_bridge, bridged hangups, uuid_transfer, uuid_hold and eavesdrop."""

from __future__ import annotations

import asyncio
import time
import uuid as uuidlib

from .channels import Channel, now_us
from .flows import HOLD_MUSIC, Flows


class Bridging(Flows):
    """Two-leg operations."""

    def transfer_source(self, kind: str, target: str) -> str:
        return f"{int(time.time())}:{uuidlib.uuid4()}:{kind}:{target}"

    def _add_transfer_history(self, ch: Channel, source: str) -> None:
        history = ch.variables.get("transfer_history")
        if history is None:
            self.set_var(ch, "transfer_history", source)
        elif isinstance(history, list):
            self.set_var(ch, "transfer_history", [*history, source])
        else:
            self.set_var(ch, "transfer_history", [history, source])
        self.set_var(ch, "transfer_source", source)

    # -- uuid_bridge ----------------------------------------------------------------------

    async def uuid_bridge(self, a: Channel, b: Channel) -> None:
        """Both legs leave what they run (park) and get bridged; ``a`` is the bridge A-leg."""
        a.link(b, "originatee")
        b.link(a, "originator")
        src_a = self.transfer_source("uuid_br", b.uuid)
        src_b = self.transfer_source("uuid_br", a.uuid)
        a.new_profile(
            transfer_source=src_a,
            callee_id_name=b.profile.callee_id_name or b.profile.caller_id_name,
            callee_id_number=b.profile.callee_id_number or b.profile.caller_id_number,
        )
        b.new_profile(
            transfer_source=src_b,
            caller_id_name=a.profile.caller_id_name,
            caller_id_number=a.profile.caller_id_number,
            logical_direction="outbound",
        )
        b.hit_dialplan = False
        for leg, other, source in ((b, a, src_b), (a, b, src_a)):
            self.set_var(leg, "bridge_channel", other.name)
            self.set_var(leg, "bridge_uuid", other.uuid)
            self.set_var(leg, "signal_bond", other.uuid)
            self._add_transfer_history(leg, source)
            leg.state = "CS_HIBERNATE"
            self.unpark(leg)
            self.run_state(leg, "CS_HIBERNATE")
            self.run_state(leg, "CS_RESET")
        self.run_state(a, "CS_SOFT_EXECUTE")
        self.run_state(b, "CS_SOFT_EXECUTE")
        self.start_app(a, "uuid_bridge", b.uuid, None, calling="BRIDGE_EXECUTE_A")
        self.start_app(b, "uuid_bridge", a.uuid, None, calling="BRIDGE_EXECUTE_B")
        self.bridge(a, b)

    def bridge(self, a: Channel, b: Channel) -> None:
        """The bridge itself (CHANNEL_BRIDGE on the A-leg, CALL_UPDATE on both)."""
        a.bridged_to, b.bridged_to = b.uuid, a.uuid
        b.call_uuid = a.uuid
        stamp = now_us()
        a.profile.times["bridged"] = b.profile.times["bridged"] = stamp
        for leg, other in ((a, b), (b, a)):
            self.set_var(leg, "bridge_to", other.uuid)
            self.set_var(leg, "last_bridge_to", other.uuid)
        pre = [("Bridge-A-Unique-ID", a.uuid), ("Bridge-B-Unique-ID", b.uuid)]
        self.channel_event("CHANNEL_BRIDGE", a, pre=pre)
        self.run_state(b, "CS_EXCHANGE_MEDIA")
        sent = {
            a.uuid: (a.profile.callee_id_name, a.profile.callee_id_number),
            b.uuid: (a.profile.caller_id_name, a.profile.caller_id_number),
        }
        for leg, other in ((a, b), (b, a)):
            name, number = sent[leg.uuid]
            update = [
                ("Direction", "SEND"),
                ("Sent-Callee-ID-Name", name),
                ("Sent-Callee-ID-Number", number),
                ("Bridged-To", other.uuid),
            ]
            self.channel_event("CALL_UPDATE", leg, "CALL_UPDATE_RECV", pre=update)

    def _unbridge(self, a: Channel, b: Channel) -> None:
        a.bridged_to = b.bridged_to = ""
        b.call_uuid = b.uuid
        pre = [("Bridge-A-Unique-ID", a.uuid), ("Bridge-B-Unique-ID", b.uuid)]
        self.channel_event("CHANNEL_UNBRIDGE", a, pre=pre)

    def _legs(self, ch: Channel) -> tuple[Channel, Channel]:
        other = ch.other
        assert other is not None
        return (ch, other) if ch.other_type == "originatee" else (other, ch)

    def hangup_bridged(self, ch: Channel, cause: str) -> None:
        """``ch`` hangs up (BYE or uuid_kill) while bridged; the other leg follows."""
        a, b = self._legs(ch)
        other = b if ch is a else a
        self.mark_hangup(ch, cause)
        if ch is a:
            # A-leg killed: B ends first, then A unbridges and ends.
            self.mark_hangup(b, cause)
            self.hangup_states(b)
            self.reporting(b)
            self._unbridge(a, b)
            self.hangup_states(a)
            self.destroy_soon(b)
            self.reporting(a)
            self.destroy(a)
            return
        # B-leg gone: it ends, A unbridges, goes back to execute and hangs up too.
        self.hangup_states(b)
        if b.presence_id:
            b.state = "CS_REPORTING"
            self.presence_in(b)  # type: ignore[attr-defined]
        self.reporting(b)
        self._unbridge(a, b)
        self.run_state(a, "CS_EXECUTE")
        self.mark_hangup(a, "NORMAL_CLEARING")
        self.hangup_states(a)
        self.destroy_soon(other if other is b else b)
        self.reporting(a)
        self.destroy(a)

    def destroy_soon(self, ch: Channel) -> None:
        if not ch.gone:
            self.destroy(ch)

    # -- uuid_transfer --------------------------------------------------------------------

    async def uuid_transfer(self, ch: Channel, dest: str, both: bool = False) -> None:
        """Blind transfer of ``ch`` (and with ``-both`` its bridged leg) to ``dest``."""
        other = ch.other if ch.bridged_to else None
        if other is not None and not both:
            a, b = self._legs(ch)
            self.mark_hangup(other, "NORMAL_CLEARING")
            self.hangup_states(other)
            self.reporting(other)
            self._redirect_profile(ch, dest)
            self._unbridge(a, b)
            self.destroy_soon(other)
            await self._reroute(ch)
            return
        if other is not None:
            a, b = self._legs(ch)
            self._redirect_profile(ch, dest)
            self._unbridge(a, b)
            self.spawn(self._reroute(ch))
            self._redirect_profile(other, dest)
            self.spawn(self._reroute(other, both=True))
            return
        self.unpark(ch)
        self._redirect_profile(ch, dest)
        await self._reroute(ch)

    def _redirect_profile(self, ch: Channel, dest: str) -> None:
        ch.state = "CS_ROUTING"
        source = self.transfer_source("bl_xfer", f"{dest}/public/XML")
        self._add_transfer_history(ch, source)
        ch.unlink()
        ch.new_profile(
            destination_number=dest,
            transfer_source=source,
            rdnis=ch.profile.destination_number,
            dialplan="XML",
            context="public",
        )
        ch.profile.times["transfer"] = now_us()

    async def _reroute(self, ch: Channel, *, both: bool = False) -> None:
        ch.bridged_to = ""
        if both:
            self.run_state(ch, "CS_ROUTING")
            self.flip_cid(ch)  # type: ignore[attr-defined]
        else:
            ch.running_state = "CS_ROUTING"
            self.set_callstate(ch, "RINGING")
            self.run_state(ch, "CS_ROUTING")
            ch.state = ch.running_state = "CS_EXECUTE"
            self.set_callstate(ch, "ACTIVE")
        await self.run_dialplan(ch)

    # -- hold -----------------------------------------------------------------------------

    def hold(self, ch: Channel) -> None:
        ch.held = True
        ch.profile.times["last_hold"] = now_us()
        self.set_callstate(ch, "HELD")
        self.channel_event("CHANNEL_HOLD", ch)
        other = ch.other if ch.bridged_to else None
        if other is not None:
            ch.hold_task = self.spawn(self.broadcast(other, HOLD_MUSIC, loops="-1"))

    async def unhold(self, ch: Channel) -> None:
        ch.held = False
        self.set_callstate(ch, "UNHELD")
        self.set_callstate(ch, "ACTIVE")
        other = ch.other if ch.bridged_to else None
        task, ch.hold_task = ch.hold_task, None
        if other is not None and task is not None:
            while other.playback_stop is None and not task.done():
                await asyncio.sleep(0)
            if other.playback_stop is not None and not other.playback_stop.done():
                other.playback_stop.set_result(None)
            await task
        self.channel_event("CHANNEL_UNHOLD", ch)

    # -- eavesdrop ------------------------------------------------------------------------

    async def app_eavesdrop(self, ch: Channel, data: str) -> str | None:
        target = self.find(data)
        if target is None:
            return None
        ch.read_codec = ("L16", "8000", "128000")
        self.codec_events(ch, real_read=False)
        bug = [("Media-Bug-Function", "eavesdrop"), ("Media-Bug-Target", target.uuid)]
        self.channel_event("MEDIA_BUG_START", target, pre=bug)
        update = [
            ("Direction", "SEND"),
            ("Sent-Callee-ID-Name", target.profile.caller_id_name),
            ("Sent-Callee-ID-Number", target.profile.caller_id_number),
        ]
        self.channel_event("CALL_UPDATE", ch, "CALL_UPDATE_RECV", pre=update)
        await self.wait_hangup(ch, target)
        if not target.gone:
            self.channel_event("MEDIA_BUG_STOP", target, pre=bug)
        ch.read_codec = None
        self.codec_events(ch, real_read=False)
        return None
