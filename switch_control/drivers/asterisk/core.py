"""The core of the Asterisk driver: connection, events, reconciliation, one-leg operations
and originate (SW-1, SW-2, SW-4, REC-1). ``driver.AsteriskDriver`` adds multi-leg ones.

Every call we handle sits in the Stasis app (``asterisk_conf/extensions.conf``). Legs we
dial are originated into the app (``POST /channels`` with our own channel id): Asterisk
subscribes the app to them at creation, so every event of theirs reaches us from the first
ring. The app does not ask for ``subscribeAll``: with it, Asterisk turned every message of
every channel (each dialplan step, variable, bridge change) into JSON for us before the
event filter dropped most of them (~1.5 ms of Asterisk CPU per call on the benchmark's
path). What that brought otherwise comes another way: bridge membership from our own
addChannel/removeChannel replies and ChannelDestroyed (all bridges are ours, and Asterisk
answers addChannel once the channel is in), phones' presence from a poll of the endpoints
(``presence_poll_s``). The customer call
id and the leg role travel on the channel itself (``CC_CALL_ID``/``CC_ROLE``, exported
through ari.conf ``channelvars``) so a restarted controller rebuilds its leg table from
``GET /channels`` alone.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

from ...callcontrol import EventSink, KnownLeg, LegSnapshot, SwitchInfo
from ...contract import (
    CAUSE_TO_Q850,
    CallBridged,
    CallEnded,
    CallHeld,
    CallOffered,
    CallResumed,
    CallUnbridged,
    Direction,
    EndpointStatusChanged,
    Event,
    HangupCause,
    LegRole,
    RecordingStarted,
    SwitchConnected,
    SwitchDisconnected,
    cause_from_q850,
)
from ...contract.base import new_id
from ...contract.commands import EndpointKind
from ...errors import CommandRejected, NoSuchCall, OriginateFailed, SwitchUnavailable
from ...protocols.ami import AmiClient
from ...protocols.ari import AriClient, AriEvent, Channel
from .. import dtmf
from ..callerid import safe_caller_name
from . import translate as tr
from .translate import LegInfo

logger = logging.getLogger(__name__)


END_FAMILY = "cc_end"  # AstDB family the dialplan's hangup handler writes
# The handler files each record under the hour it was written in (``cc_end/<hour>/<leg>``,
# hours since the epoch): whole hours are dropped at once (``sweep_end_records``), so
# AstDB does not grow with every leg ever handled between two reconciliations.
END_LOOKBACK_HOURS = 24  # how far back a reconciliation looks for a leg's end record
END_KEEP_HOURS = 2  # hours of records the sweep keeps (legs seen ending live need none)
END_SWEEP_S = 1800.0


def end_hour(at: float) -> int:
    """AstDB bucket of a record written at ``at`` (``MATH(${EPOCH}/3600,int)``)."""
    return int(at // 3600)


MARK_VARIABLE = "CC_MARK"  # originate variable: "1" = keep a creation marker (bus commands)


def marker(leg_id: str) -> str:
    """Global variable set by a leg's creation (cleared when we see it destroyed)."""
    return "CC_LEG_" + "".join(ch if ch.isalnum() else "_" for ch in leg_id)


MEDIA_SCHEMES = ("sound", "recording", "number", "digits", "characters", "tone")


def media_uri(item: str) -> str:
    """Contract media URI -> ARI media URI (``file:/path/x.wav`` -> ``sound:/path/x``)."""
    scheme, sep, rest = item.partition(":")
    if not sep or not rest:
        raise CommandRejected(f"bad media URI {item!r} (expected scheme:value)")
    if scheme == "file":
        for ext in (".wav", ".gsm", ".sln", ".ulaw", ".alaw", ".g722"):
            if rest.endswith(ext):
                rest = rest[: -len(ext)]
        return f"sound:{rest}"
    if scheme not in MEDIA_SCHEMES:
        raise CommandRejected(f"unsupported media scheme {scheme!r} in {item!r}")
    return item


class AsteriskCore:
    kind = "asterisk"

    def __init__(
        self,
        ari: AriClient,
        *,
        agent_tech: str = "PJSIP",
        trunk: str = "trunk",
        moh_class: str = "default",
        ami: AmiClient | None = None,
        presence_poll_s: float = 2.0,
    ) -> None:
        self.ari = ari
        self.ami = ami
        self.agent_tech = agent_tech
        self.trunk = trunk
        self.moh_class = moh_class
        self.presence_poll_s = presence_poll_s
        self._presence: dict[str, bool] | None = None  # endpoint -> online, last poll
        self.legs: dict[str, LegInfo] = {}
        self.bridges: dict[str, str] = {}  # bridge id -> call id
        self._collectors: dict[str, asyncio.Queue[str]] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._stasis_waiters: dict[str, asyncio.Future[None]] = {}
        self._sink: EventSink | None = None
        self._ami_lock = asyncio.Lock()
        self._reconciled = False  # since the last (re)connection
        self._swept_to = 0  # end-record hours below this are gone
        self.version = ""
        self.ari.on("StasisStart", self._on_stasis_start)
        self.ari.on("RecordingFinished", self._on_recording_finished)
        self.ari.on("RecordingFailed", self._on_recording_finished)
        self.ari.on("PlaybackFinished", self._on_playback_finished)
        for etype in ("ChannelStateChange", "ChannelDtmfReceived", "ChannelDestroyed"):
            self.ari.on(etype, self._on_leg_event)
        self.ari.on_connect(self._on_connect)
        self.ari.on_disconnect(self._on_disconnect)

    # ------------------------------------------------------------------ lifecycle
    async def start(self, sink: EventSink) -> None:
        # AMI is opened only while reconciling (AstDB): a manager session that stays
        # connected makes Asterisk format every AMI event of every call for it, whatever
        # the session reads (~1.1 ms of Asterisk CPU per call, 9 %, on the benchmark's
        # path); phones' contact status comes over ARI instead
        self._sink = sink
        await self.ari.start()
        if self.ami is not None:
            self._spawn(self._sweep_loop())
        if self.presence_poll_s > 0:
            self._spawn(self._presence_loop())

    async def close(self) -> None:
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        await self.ari.close()
        if self.ami is not None:
            await self.ami.close()

    async def wait_connected(self, timeout: float) -> bool:
        return await self.ari.wait_connected(timeout)

    async def info(self) -> SwitchInfo:
        return SwitchInfo("asterisk", self.version, self.ari.connected, len(self.legs))

    async def _emit(self, event: Event) -> None:
        if self._sink is not None:
            await self._sink(event)

    async def _on_connect(self) -> None:
        app = self.ari.config.app
        try:
            await self.ari.put(
                f"/applications/{app}/eventFilter",
                {"allowed": [{"type": t} for t in tr.WANTED_EVENTS]},
            )
        except (CommandRejected, NoSuchCall) as exc:  # older Asterisk: no filter, still fine
            logger.info("ARI event filter not applied: %s", exc)
        info = await self.ari.get("/asterisk/info", only="system")
        self.version = str((info or {}).get("system", {}).get("version", ""))
        logger.info("connected to Asterisk %s at %s", self.version, self.ari.config.url)
        await self._with_ami()
        await self._emit(SwitchConnected(switch="asterisk", version=self.version))

    async def _on_disconnect(self) -> None:
        self._reconciled = False
        self._presence = None  # after a reconnection, every phone's state is told again
        await self._emit(SwitchDisconnected(switch="asterisk", reason=self.ari.last_error))

    # ------------------------------------------------------------------ reconciliation
    async def reconcile(self) -> None:
        """Rebuild the leg table from the switch (SW-4). Legs we knew that are gone ended
        while we could not see them; legs still up keep going and stay controllable."""
        channels = await self.ari.get("/channels") or []
        live: dict[str, Channel] = {}
        for raw in channels:
            try:
                ch = Channel.from_json(raw)
            except ValueError:
                continue
            dialplan = raw.get("dialplan") or {}
            in_app = dialplan.get("app_name") == "Stasis" and str(
                dialplan.get("app_data", "")
            ).startswith(self.ari.config.app)
            if in_app or "CC_CALL_ID" in ch.vars:
                live[ch.id] = ch
        for leg_id in list(self.legs):
            if leg_id not in live:
                leg = self.legs.pop(leg_id)
                self._collectors.pop(leg_id, None)
                await self._emit(await self._ended_while_away(leg))
        for ch in live.values():
            if ch.id not in self.legs:
                self.legs[ch.id] = LegInfo(
                    ch.id, tr.call_id_of(ch), tr.role_of(ch), up=ch.state == "Up"
                )
        bridges = await self.ari.get("/bridges") or []
        for b in bridges:
            for member in b.get("channels", []):
                member_leg = self.legs.get(member)
                if member_leg is not None:
                    member_leg.bridge_id = b["id"]
                    self.bridges.setdefault(b["id"], member_leg.call_id)
        logger.info("reconciled: %d live legs, %d bridges", len(self.legs), len(bridges))
        if self.ami is not None and self.ami.connected:
            # what we needed is read; entries of legs we saw end live are of no use
            try:
                await self.ami.db_del_tree(END_FAMILY)
                self._swept_to = end_hour(time.time())
            except SwitchUnavailable as exc:
                logger.warning("AstDB %s not cleared: %s", END_FAMILY, exc)
        self._reconciled = True

    async def _with_ami(self) -> None:
        """Reconcile with an AMI session open for the while (AstDB reads and clean-up)."""
        if self.ami is None:
            await self.reconcile()
            return
        async with self._ami_lock:
            await self.ami.start()
            try:
                await self.reconcile()
            finally:
                await self.ami.close()

    async def sweep_end_records(self, now: float | None = None) -> int:
        """Drop the hours of end records older than ``END_KEEP_HOURS`` (their legs were
        seen ending live: we were connected and reconciled all along). Returns how many
        hours were dropped."""
        if self.ami is None or not (self.ari.connected and self._reconciled):
            return 0
        last = end_hour(now if now is not None else time.time()) - END_KEEP_HOURS
        first = max(self._swept_to, last - END_LOOKBACK_HOURS)
        if first > last:
            return 0
        async with self._ami_lock:
            await self.ami.start()
            try:
                if not await self.ami.wait_connected(5.0):
                    logger.warning("AMI unavailable: AstDB %s not swept", END_FAMILY)
                    return 0
                for hour in range(first, last + 1):
                    await self.ami.db_del_tree(f"{END_FAMILY}/{hour}")
                self._swept_to = last + 1
            except SwitchUnavailable as exc:
                logger.warning("AstDB %s not swept: %s", END_FAMILY, exc)
                return 0
            finally:
                await self.ami.close()
        return last + 1 - first

    async def _sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(END_SWEEP_S)
            try:
                await self.sweep_end_records()
            except Exception:  # the next round tries again; the loop must not die
                logger.exception("AstDB %s sweep failed", END_FAMILY)

    async def restore(self, legs: Sequence[KnownLeg]) -> None:
        """Seed the table with legs persisted before a restart; reconciled on connect."""
        for k in legs:
            self.legs.setdefault(
                k.leg_id, LegInfo(k.leg_id, k.call_id, k.role, bridge_id=k.bridge_id, up=k.up)
            )

    async def endpoint_online(self, endpoint: str) -> bool:
        try:
            info = await self.ari.get(f"/endpoints/{self.agent_tech}/{endpoint}")
        except NoSuchCall:  # no such endpoint
            return False
        return str((info or {}).get("state", "")) == "online"

    async def _presence_loop(self) -> None:
        while True:
            if self.ari.connected:
                try:
                    await self.poll_presence()
                except (CommandRejected, NoSuchCall, SwitchUnavailable) as exc:
                    logger.debug("presence not polled: %s", exc)
            await asyncio.sleep(self.presence_poll_s)

    async def poll_presence(self) -> None:
        """Tell which phones registered, unregistered or became (un)reachable since the
        last poll (every phone after a (re)connection). One ``GET /endpoints/{tech}`` per
        poll, whatever the call rate: cheaper for Asterisk than the endpoint events, which
        come only with a subscription that also brings every channel's messages."""
        states = tr.endpoint_states(await self.ari.get(f"/endpoints/{self.agent_tech}"))
        before, self._presence = self._presence, states
        for endpoint, online in states.items():
            if before is not None and before.get(endpoint) == online:
                continue
            if before is None and not online:
                continue  # the first poll tells the phones that are online
            await self._emit(EndpointStatusChanged(endpoint=endpoint, online=online))

    async def _ended_while_away(self, leg: LegInfo) -> CallEnded:
        """The switch's own record of when and why a leg ended (AstDB ``cc_end``, written
        by the dialplan's hangup handler); SWITCH_LOST at the time we noticed otherwise."""
        value = None
        if self.ami is not None and await self.ami.wait_connected(3.0):
            now = end_hour(time.time())
            try:
                # newest hour first: the leg ended while we were away, most likely lately
                for hour in range(now, now - END_LOOKBACK_HOURS - 1, -1):
                    value = await self.ami.db_get(f"{END_FAMILY}/{hour}", leg.leg_id)
                    if value:
                        break
            except (SwitchUnavailable, CommandRejected) as exc:
                logger.warning("end of leg %s not read from AstDB: %s", leg.leg_id, exc)
                value = None
            if value:
                stamp, _, code = value.partition(",")
                try:
                    at, q850 = float(stamp), int(code or 0)
                except ValueError:
                    pass
                else:
                    cause = cause_from_q850(q850)
                    return CallEnded(
                        call_id=leg.call_id, leg_id=leg.leg_id, at=at, cause=cause, cause_code=q850
                    )
        return CallEnded(call_id=leg.call_id, leg_id=leg.leg_id, cause=HangupCause.SWITCH_LOST)

    # ------------------------------------------------------------------ events
    def _await_stasis(self, leg_id: str) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._stasis_waiters[leg_id] = fut
        return fut

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _on_stasis_start(self, ev: AriEvent) -> None:
        ch = ev.channel
        if ch is None:
            return
        waiter = self._stasis_waiters.pop(ch.id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        known = self.legs.get(ch.id)
        if known is not None:
            # a leg we dialled enters the app when it answers (after ChannelStateChange Up);
            # joined in a task: addChannel waits for the channel to be in the bridge, and
            # the event stream must not wait with it (every call would queue behind it)
            if known.join_bridge:
                self._spawn(self._join(known))
            if known.internal:  # a snoop channel: created into the app, not dialled
                self._spawn(self._keep_subscribed(known))
            return
        result = tr.offered(ev, ch)
        if result is None:
            return
        leg, event = result
        self.legs[ch.id] = leg
        self._spawn(self._keep_subscribed(leg))
        await self._emit(event)

    async def _keep_subscribed(self, leg: LegInfo) -> None:
        """Subscribe the app to a leg that came in through the dialplan, so its
        ChannelDestroyed (the hangup cause) reaches us. Without ``subscribeAll`` the app
        is subscribed to such a channel only while it is in Stasis, and it leaves Stasis
        as it hangs up, before it is destroyed. (Legs we originate are subscribed by the
        originate itself.) If the channel is already gone, it ended now."""
        app = self.ari.config.app
        try:
            await self.ari.post(
                f"/applications/{app}/subscription", eventSource=f"channel:{leg.leg_id}"
            )
            return
        except (CommandRejected, NoSuchCall):
            pass
        except SwitchUnavailable:
            return  # reconciliation after the reconnection tells whether it ended
        if self.legs.get(leg.leg_id) is leg:
            try:
                await self.ari.get(f"/channels/{leg.leg_id}")
                logger.warning("leg %s: events not subscribed", leg.leg_id)
                return
            except NoSuchCall:
                pass
            except (CommandRejected, SwitchUnavailable):
                return
            if self.legs.get(leg.leg_id) is leg:
                await self._end_leg(leg, CallEnded(call_id=leg.call_id, leg_id=leg.leg_id))

    async def _on_leg_event(self, ev: AriEvent) -> None:
        ch = ev.channel
        if ch is None:
            return
        leg = self.legs.get(ch.id)
        if leg is None:
            return
        if ev.type == "ChannelDtmfReceived":
            q = self._collectors.get(ch.id)
            if q is not None:
                q.put_nowait(ev.get("digit"))
        elif ev.type == "ChannelDestroyed":
            if leg.moving is not None:
                # our addChannel/removeChannel for it is still unanswered: its reply
                # says whether the leg was bridged; end it after that, in order
                self._spawn(self._destroyed_after_move(leg, ev))
                return
            await self._end_leg(leg, tr.simple(ev, leg), at=ev.timestamp)
            return
        if leg.internal:
            return
        event = tr.simple(ev, leg)
        if event is not None:
            await self._emit(event)

    async def _end_leg(self, leg: LegInfo, ended: Event | None, at: float = 0.0) -> None:
        """The leg is gone: forget it; it left its bridge first (unbridged, then ended)."""
        self._forget(leg)
        if leg.bridge_id:
            await self._left_bridge(leg, at=at)
        if ended is not None and not leg.internal:
            await self._emit(ended)

    async def _destroyed_after_move(self, leg: LegInfo, ev: AriEvent) -> None:
        while leg.moving is not None:
            await asyncio.shield(leg.moving)
        if self.legs.get(leg.leg_id) is leg:
            await self._on_leg_event(ev)

    async def _join(self, leg: LegInfo) -> None:
        bridge_id, leg.join_bridge = leg.join_bridge, ""
        try:
            await self._move(leg, bridge_id)
        except (NoSuchCall, CommandRejected, SwitchUnavailable) as exc:  # (runs in a task)
            logger.warning("could not bridge answered leg [call %s]: %s", leg.call_id, exc)
            return
        await self._after_join(leg)

    def _forget(self, leg: LegInfo) -> None:
        self.legs.pop(leg.leg_id, None)
        self._collectors.pop(leg.leg_id, None)
        if leg.marked:
            self._clear_marker(leg.leg_id)
        if leg.companion:
            self._spawn(self._quiet_hangup(leg.companion))

    async def _entered_bridge(self, leg: LegInfo, bridge_id: str) -> None:
        """addChannel succeeded: Asterisk replies once the channel is in the bridge."""
        if self.legs.get(leg.leg_id) is not leg:  # it hung up meanwhile (and left)
            self._destroy_if_empty(bridge_id)
            return
        leg.bridge_id = bridge_id
        if not leg.internal:
            await self._emit(
                CallBridged(call_id=leg.call_id, leg_id=leg.leg_id, bridge_id=bridge_id)
            )

    async def _left_bridge(self, leg: LegInfo, at: float = 0.0) -> None:
        bridge_id, leg.bridge_id = leg.bridge_id, ""
        if not leg.internal:
            await self._emit(
                CallUnbridged(
                    call_id=leg.call_id,
                    leg_id=leg.leg_id,
                    bridge_id=bridge_id,
                    at=at or time.time(),
                )
            )
        self._destroy_if_empty(bridge_id)

    def _destroy_if_empty(self, bridge_id: str) -> None:
        """Our bridges live as long as one of our legs is in them (as Asterisk saw it
        when the last one left: a leg still ringing to join it finds it gone)."""
        if bridge_id in self.bridges and not any(
            x.bridge_id == bridge_id for x in self.legs.values()
        ):
            self._spawn(self._destroy_bridge(bridge_id))

    async def _destroy_bridge(self, bridge_id: str) -> None:
        self.bridges.pop(bridge_id, None)
        try:
            await self.ari.delete(f"/bridges/{bridge_id}")
        except (NoSuchCall, CommandRejected, SwitchUnavailable):
            pass

    async def _on_playback_finished(self, ev: AriEvent) -> None:
        event = tr.playback_finished(ev, self.legs)
        if event is not None:
            await self._emit(event)

    async def _on_recording_finished(self, ev: AriEvent) -> None:
        await self._emit(tr.recording_finished(ev, self.legs, self.bridges))

    # ------------------------------------------------------------------ one leg
    def _call_of(self, leg_id: str) -> str:
        leg = self.legs.get(leg_id)
        return leg.call_id if leg else leg_id

    async def answer(self, leg_id: str) -> None:
        await self.ari.post(f"/channels/{leg_id}/answer")

    async def hangup(self, leg_id: str, cause: HangupCause = HangupCause.NORMAL_CLEARING) -> None:
        code = CAUSE_TO_Q850.get(cause, 16)
        await self.ari.delete(f"/channels/{leg_id}", reason_code=code)

    async def play(self, leg_id: str, media: Sequence[str], playback_id: str = "") -> str:
        uris = [media_uri(m) for m in media]
        playback_id = playback_id or new_id()
        await self.ari.post(f"/channels/{leg_id}/play/{playback_id}", media=uris)
        return playback_id

    async def stop_playback(self, playback_id: str) -> None:
        await self.ari.delete(f"/playbacks/{playback_id}")

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
        if leg_id not in self.legs:
            raise NoSuchCall(f"no such leg {leg_id}")
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

    async def _quiet_stop(self, playback_id: str) -> None:
        try:
            await self.stop_playback(playback_id)
        except (NoSuchCall, CommandRejected, SwitchUnavailable):
            pass

    async def hold(self, leg_id: str) -> None:
        """The held party hears music and is not heard by the others in its bridge."""
        await self.ari.post(f"/channels/{leg_id}/moh", mohClass=self.moh_class)
        await self.ari.post(f"/channels/{leg_id}/mute", direction="in")
        await self._emit(CallHeld(call_id=self._call_of(leg_id), leg_id=leg_id))

    async def unhold(self, leg_id: str) -> None:
        await self.ari.delete(f"/channels/{leg_id}/moh")
        await self.ari.delete(f"/channels/{leg_id}/mute", direction="in")
        await self._emit(CallResumed(call_id=self._call_of(leg_id), leg_id=leg_id))

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
        params = {
            "name": name,
            "format": fmt,
            "maxDurationSeconds": max_duration,
            "beep": beep,
            "ifExists": "fail",
        }
        if bridge_id:
            await self.ari.post(f"/bridges/{bridge_id}/record", **params)
            call_id = self.bridges.get(bridge_id, "")
        elif leg_id:
            await self.ari.post(f"/channels/{leg_id}/record", **params)
            call_id = self._call_of(leg_id)
        else:
            raise CommandRejected("record needs a leg or a bridge")
        await self._emit(
            RecordingStarted(call_id=call_id, name=name, leg_id=leg_id, bridge_id=bridge_id)
        )

    async def stop_recording(self, name: str) -> None:
        await self.ari.post(f"/recordings/live/{name}/stop")

    async def fetch_recording(self, name: str, fmt: str = "wav") -> bytes:
        data = await self.ari.request_bytes("GET", f"/recordings/stored/{name}/file")
        return data

    # ------------------------------------------------------------------ several legs
    def _known(self, leg_id: str) -> LegInfo:
        leg = self.legs.get(leg_id)
        if leg is None:
            raise NoSuchCall(f"no such leg {leg_id}")
        return leg

    async def _ensure_bridge(self, bridge_id: str, call_id: str) -> None:
        if bridge_id not in self.bridges:
            await self.ari.post(f"/bridges/{bridge_id}", type="mixing")
            self.bridges[bridge_id] = call_id

    async def _move(self, leg: LegInfo, bridge_id: str) -> None:
        """Put a leg into a bridge, taking it out of the one it is in first."""
        if leg.bridge_id == bridge_id:
            return
        while leg.moving is not None:  # one move at a time per leg
            await asyncio.shield(leg.moving)
            if leg.bridge_id == bridge_id:  # the move we waited for put it there
                return
        done = leg.moving = asyncio.get_running_loop().create_future()
        try:
            if leg.bridge_id:
                try:
                    await self.ari.post(
                        f"/bridges/{leg.bridge_id}/removeChannel", channel=leg.leg_id
                    )
                except CommandRejected:
                    pass  # it is not in that bridge any more
                await self._left_bridge(leg)
            await self.ari.post(f"/bridges/{bridge_id}/addChannel", channel=leg.leg_id)
            await self._entered_bridge(leg, bridge_id)
        finally:
            leg.moving = None
            done.set_result(None)

    async def _after_join(self, leg: LegInfo) -> None:
        if leg.replace_leg:
            old, leg.replace_leg = leg.replace_leg, ""
            old_leg = self.legs.get(old)
            cause = (
                HangupCause.PICKED_OFF
                if old_leg and not old_leg.up
                else HangupCause.NORMAL_CLEARING
            )
            await self._quiet_hangup(old, cause)

    async def _quiet_hangup(
        self, leg_id: str, cause: HangupCause = HangupCause.NORMAL_CLEARING
    ) -> None:
        try:
            await self.hangup(leg_id, cause)
        except (NoSuchCall, CommandRejected, SwitchUnavailable):
            pass

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
    ) -> str:
        variables = dict(variables or {})
        call_id = variables.pop("CC_CALL_ID", "") or leg_id
        role = LegRole.AGENT if kind is EndpointKind.AGENT else LegRole.EXTERNAL
        role = LegRole(variables.pop("CC_ROLE", role))
        mark = variables.pop(MARK_VARIABLE, "") == "1"
        # (caller ID goes in ``callerId`` below, set as the channel is created: as
        # CALLERID() variables it would cost Asterisk a caller-id change and its events)
        chan_vars = {"CC_CALL_ID": call_id, "CC_ROLE": role.value, **variables}
        caller_id_name = safe_caller_name(caller_id_name)
        if leg_id in self.legs:
            raise CommandRejected(f"leg {leg_id} already exists (409)")
        leg = LegInfo(leg_id, call_id, role, join_bridge=join_bridge, marked=mark)
        self.legs[leg_id] = leg
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
            self.bridges.setdefault(join_bridge, call_id)
        # Offered before the request: the leg's first events (ringing, even answered) can
        # reach us over the websocket before the REST reply does.
        await self._emit(
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
            # one request: Asterisk dials at once; with subscribeAll we see every event of
            # the leg from its first ring, and it enters the app when answered
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
        except CommandRejected as exc:
            self.legs.pop(leg_id, None)
            if "409" in str(exc):  # the same leg id exists: a duplicate command
                raise
            cause = HangupCause.SUBSCRIBER_ABSENT  # e.g. the agent's phone is not registered
            await self._emit(CallEnded(call_id=call_id, leg_id=leg_id, cause=cause))
            raise OriginateFailed(cause.value, str(exc)) from exc
        except BaseException:
            self.legs.pop(leg_id, None)
            raise
        return leg_id

    def _clear_marker(self, leg_id: str) -> None:
        async def clear() -> None:
            try:
                await self.ari.post("/asterisk/variable", variable=marker(leg_id), value="")
            except (CommandRejected, NoSuchCall, SwitchUnavailable) as exc:
                logger.debug("marker of %s not cleared: %s", leg_id, exc)

        self._spawn(clear())

    async def leg_existed(self, leg_id: str) -> bool:
        if leg_id in self.legs:
            return True
        value = await self.ari.get("/asterisk/variable", variable=marker(leg_id))
        return str((value or {}).get("value", "")) == "1"

    async def list_legs(self) -> list[LegSnapshot]:
        channels = await self.ari.get("/channels") or []
        out = []
        for raw in channels:
            ch = Channel.from_json(raw)
            if ch.id in self.legs:
                out.append(
                    LegSnapshot(
                        ch.id,
                        ch.state.lower(),
                        ch.caller_number,
                        ch.exten,
                        ch.name,
                        self.legs[ch.id].bridge_id,
                        ch.creationtime or time.time(),
                    )
                )
        return out
