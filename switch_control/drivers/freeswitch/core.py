"""The core of the FreeSWITCH driver: configuration, connection, and the events every leg
produces (SW-1, SW-2, SW-4). The design is in the package docstring; ``sync`` adds
reconciliation, ``dialing`` originate, ``legs`` one-leg operations, ``driver`` the rest.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ...callcontrol import EventSink, SwitchInfo
from ...contract import (
    CallAnswered,
    CallBridged,
    CallRinging,
    CallUnbridged,
    EndpointStatusChanged,
    Event,
    HangupCause,
    SwitchConnected,
    SwitchDisconnected,
)
from ...errors import CommandRejected, NoSuchCall, SwitchUnavailable
from ...protocols.esl import EslClient, EslEvent
from . import translate as tr
from .media import MediaConfig, check_id
from .translate import FsLeg

logger = logging.getLogger(__name__)

# What the driver listens to (the client replays the subscription after reconnecting)
EVENTS = (
    "CHANNEL_CREATE CHANNEL_PROGRESS CHANNEL_PROGRESS_MEDIA CHANNEL_ANSWER CHANNEL_PARK "
    "CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE CHANNEL_HANGUP_COMPLETE DTMF RECORD_STOP "
    "BACKGROUND_JOB CUSTOM conference::maintenance sofia::register sofia::unregister "
    "sofia::expire"
)
CONFERENCE_EVENT = "conference::maintenance"
REGISTRATION_EVENTS = {"sofia::register": True, "sofia::unregister": False, "sofia::expire": False}


def marker(leg_id: str) -> str:
    """Global variable the leg sets on the switch when it is created (``api_on_originate``)."""
    return "cc_leg_" + "".join(ch if ch.isalnum() else "_" for ch in leg_id)


def end_marker(leg_id: str) -> str:
    """Global variable the leg's hangup hook sets: ``<end epoch>:<Q.850 cause>``."""
    return "cc_end_" + marker(leg_id).removeprefix("cc_leg_")


@dataclass(frozen=True, slots=True)
class FreeSwitchConfig:
    agent_dial: str = "user/{ext}"  # the directory's dial-string finds the registration
    gateway_dial: str = "sofia/gateway/carrier/{number}"
    conference_profile: str = "threeway"
    hold_music: str = "local_stream://moh"
    media: MediaConfig = field(default_factory=MediaConfig)
    originate_wait: float = 10.0  # how long originate waits for the switch to create the leg
    marker_ttl: float = 300.0  # a leg's markers outlive it this long (late redeliveries)
    reconnect_initial: float = 0.5
    reconnect_max: float = 30.0


class FreeSwitchCore:
    kind = "freeswitch"

    def __init__(self, esl: EslClient, config: FreeSwitchConfig | None = None) -> None:
        self.esl = esl
        self.config = config or FreeSwitchConfig()
        self.legs: dict[str, FsLeg] = {}
        self.bridges: dict[str, str] = {}  # bridge id -> call id
        self.version = ""
        self.domain = ""
        self._sink: EventSink | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._timers: dict[str, asyncio.TimerHandle] = {}  # leg id -> its markers' clearing
        self._ready = asyncio.Event()
        self._handled_connection = 0
        self._connection_lock = asyncio.Lock()
        self._starter: asyncio.Task[None] | None = None
        self._closing = False
        self._joined = asyncio.Condition()
        self._handlers: dict[str, Callable[[EslEvent, FsLeg], Awaitable[None]]] = {
            "CHANNEL_CREATE": self._on_create,
            "CHANNEL_PROGRESS": self._on_progress,
            "CHANNEL_PROGRESS_MEDIA": self._on_progress,
            "CHANNEL_ANSWER": self._on_answer,
            "CHANNEL_HANGUP_COMPLETE": self._on_hangup,
            "DTMF": self._on_dtmf,
            "CHANNEL_EXECUTE": self._on_execute,
            "CHANNEL_EXECUTE_COMPLETE": self._on_execute_complete,
            "RECORD_STOP": self._on_record_stop,
        }
        esl.add_event_handler(self._on_event)
        esl.add_connection_handler(self._on_connection)

    # ------------------------------------------------------------------ lifecycle
    async def start(self, sink: EventSink) -> None:
        self._sink = sink
        self._starter = asyncio.create_task(self._connect_loop(), name="freeswitch-connect")

    async def _connect_loop(self) -> None:
        """The first connection, retried with backoff (the client reconnects after that)."""
        delay = self.config.reconnect_initial
        while True:
            try:
                await self.esl.connect()
                break
            except (SwitchUnavailable, CommandRejected) as exc:  # refused, or bad password
                logger.warning("FreeSWITCH not reachable (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.config.reconnect_max)
        await self._connected()

    async def close(self) -> None:
        self._closing = True
        for handle in self._timers.values():
            handle.cancel()  # those markers stay on the switch (harmless, see the docstring)
        tasks = [t for t in (self._starter, *self._background) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.esl.close()

    async def wait_connected(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def info(self) -> SwitchInfo:
        return SwitchInfo("freeswitch", self.version, self._ready.is_set(), len(self.legs))

    async def _emit(self, event: Event) -> None:
        if self._sink is not None:
            await self._sink(event)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _on_connection(self, up: bool) -> None:
        if up:
            await self._connected()
        elif self._ready.is_set() and not self._closing:
            self._ready.clear()
            logger.warning("lost the event socket of FreeSWITCH")
            await self._emit(SwitchDisconnected(switch="freeswitch", reason="connection lost"))

    async def _connected(self) -> None:
        """Once per (re)connection: subscribe, read the version, reconcile, announce."""
        async with self._connection_lock:
            count = self.esl.connection_count
            if count == self._handled_connection or not self.esl.connected:
                return
            self._handled_connection = count
            try:
                if not self.esl.subscriptions.events:  # later connections: replayed
                    await self.esl.subscribe(EVENTS, fmt="json")
                words = (await self.esl.api("version")).split()
                self.version = words[2] if words[:2] == ["FreeSWITCH", "Version"] else ""
                self.domain = (await self.esl.api("global_getvar domain", check=False)).strip()
                await self.reconcile()
            except (SwitchUnavailable, CommandRejected, ValueError) as exc:
                logger.warning("FreeSWITCH connection setup failed: %s", exc)
                return
            self._ready.set()
            logger.info("connected to FreeSWITCH %s (%d legs)", self.version, len(self.legs))
            await self._emit(SwitchConnected(switch="freeswitch", version=self.version))

    async def reconcile(self) -> None:
        """Rebuild the leg table from the switch (``sync``)."""

    # ------------------------------------------------------------------ events
    async def _on_event(self, ev: EslEvent) -> None:
        try:
            if ev.name == "CUSTOM":
                await self._on_custom(ev)
            elif ev.name == "CHANNEL_PARK":
                await self._on_park(ev)
            else:
                handler = self._handlers.get(ev.name)
                leg = self.legs.get(ev.unique_id or "")
                if handler is not None and leg is not None:
                    await handler(ev, leg)
        except (KeyError, ValueError, TypeError) as exc:
            logger.warning(
                "skipped a malformed %s event (leg %s): %r", ev.name, ev.unique_id or "-", exc
            )

    async def _on_custom(self, ev: EslEvent) -> None:
        if ev.subclass == CONFERENCE_EVENT:
            await self._on_conference(ev)
        elif ev.subclass in REGISTRATION_EVENTS:
            user = ev.get("from-user") or ev["user"]  # (sofia::expire names it "user")
            online = REGISTRATION_EVENTS[ev.subclass]
            contact = (ev.get("contact") or "") if online else ""
            await self._emit(EndpointStatusChanged(endpoint=user, online=online, contact=contact))

    async def _on_park(self, ev: EslEvent) -> None:
        if ev["Unique-ID"] in self.legs:
            return  # one of ours parked again (after a conference, or &park())
        leg, event = tr.offered(ev)
        self.legs[leg.leg_id] = leg
        logger.info("[call %s] offered %s -> %s", leg.call_id, leg.caller_number, leg.callee_number)
        await self._emit(event)
        self._spawn(self._keep_end(leg))

    async def _keep_end(self, leg: FsLeg) -> None:
        """Ask the switch to keep the end time and cause of a leg the dialplan gave us."""
        try:
            hook = self.hangup_hook(leg)
            await self.esl.api(f"uuid_setvar {leg.leg_id} api_reporting_hook {hook}")
        except (NoSuchCall, CommandRejected, SwitchUnavailable) as exc:
            logger.debug("[call %s] no hangup hook on %s: %s", leg.call_id, leg.leg_id, exc)

    def hangup_hook(self, leg: FsLeg) -> str:
        return f"global_setvar {end_marker(leg.leg_id)}=${{end_epoch}}:${{hangup_cause_q850}}"

    async def _on_create(self, ev: EslEvent, leg: FsLeg) -> None:
        leg.created = True
        leg.channel_name = ev.get("Channel-Name") or leg.channel_name
        await self._offer(leg)
        self._created(leg)

    def _created(self, leg: FsLeg) -> None:
        """Hook: the switch created a leg we are dialling (``dialing``)."""

    async def _offer(self, leg: FsLeg) -> None:
        if not leg.offered:
            leg.offered = True
            await self._emit(tr.outbound_offered(leg))

    async def _on_progress(self, ev: EslEvent, leg: FsLeg) -> None:
        if not leg.ringing and not leg.up:
            leg.ringing = True
            at = tr.event_time(ev)
            await self._emit(CallRinging(call_id=leg.call_id, leg_id=leg.leg_id, at=at))

    async def _on_answer(self, ev: EslEvent, leg: FsLeg) -> None:
        if not leg.up:
            leg.up = True
            at = tr.event_time(ev)
            await self._emit(CallAnswered(call_id=leg.call_id, leg_id=leg.leg_id, at=at))

    async def _on_hangup(self, ev: EslEvent, leg: FsLeg) -> None:
        self._forget(leg)
        event = tr.ended(ev, leg)
        logger.info("[call %s] leg %s ended: %s", leg.call_id, leg.leg_id, event.cause.value)
        await self._emit(event)

    async def _on_conference(self, ev: EslEvent) -> None:
        action = ev.get("Action") or ""
        bridge_id = tr.bridge_of_conference(ev.get("Conference-Name") or "")
        if bridge_id is None:
            return
        if action == "conference-destroy":
            self.bridges.pop(bridge_id, None)
        elif action in ("start-recording", "stop-recording"):
            await self._on_conference_recording(ev, action)
        elif (leg := self.legs.get(ev.unique_id or "")) is None:
            return  # the recorder, or a channel that is not ours
        elif action == "add-member":
            await self._joined_bridge(ev, leg, bridge_id)
        elif action == "del-member" and leg.bridge_id == bridge_id:
            leg.bridge_id = leg.member_id = ""
            leg.held = False
            at = tr.event_time(ev)
            await self._emit(
                CallUnbridged(call_id=leg.call_id, leg_id=leg.leg_id, bridge_id=bridge_id, at=at)
            )

    async def _joined_bridge(self, ev: EslEvent, leg: FsLeg, bridge_id: str) -> None:
        leg.bridge_id, leg.member_id = bridge_id, ev["Member-ID"]
        if leg.join_bridge == bridge_id:
            leg.join_bridge = ""
        self.bridges.setdefault(bridge_id, leg.call_id)
        at = tr.event_time(ev)
        await self._emit(
            CallBridged(call_id=leg.call_id, leg_id=leg.leg_id, bridge_id=bridge_id, at=at)
        )
        async with self._joined:
            self._joined.notify_all()
        if leg.replace_leg:
            self._spawn(self._replace(leg))

    async def _replace(self, leg: FsLeg) -> None:
        """The new leg is in: the one it replaces (intercept, pickup) drops."""
        old_id, leg.replace_leg = leg.replace_leg, ""
        old = self.legs.get(old_id)
        ringing = old is not None and not old.up
        await self._quiet_hangup(
            old_id, HangupCause.PICKED_OFF if ringing else HangupCause.NORMAL_CLEARING
        )

    def _forget(self, leg: FsLeg) -> None:
        self.legs.pop(leg.leg_id, None)
        names = [end_marker(leg.leg_id)] + ([marker(leg.leg_id)] if leg.originated else [])
        loop = asyncio.get_running_loop()
        self._timers[leg.leg_id] = loop.call_later(
            self.config.marker_ttl, self._clear_markers, leg.leg_id, names
        )

    def _clear_markers(self, leg_id: str, names: list[str]) -> None:
        self._timers.pop(leg_id, None)

        async def clear() -> None:
            for name in names:
                try:
                    await self.esl.api(f"global_setvar {name}=")
                except (CommandRejected, SwitchUnavailable) as exc:
                    logger.debug("marker %s not cleared: %s", name, exc)

        self._spawn(clear())

    # hooks of the subclasses (media, recordings, supervision)
    async def _on_dtmf(self, ev: EslEvent, leg: FsLeg) -> None: ...

    async def _on_execute(self, ev: EslEvent, leg: FsLeg) -> None: ...

    async def _on_execute_complete(self, ev: EslEvent, leg: FsLeg) -> None: ...

    async def _on_record_stop(self, ev: EslEvent, leg: FsLeg) -> None: ...

    async def _on_conference_recording(self, ev: EslEvent, action: str) -> None: ...

    # ------------------------------------------------------------------ helpers
    async def _quiet_hangup(self, leg_id: str, cause: HangupCause) -> None:
        try:
            await self.esl.api(f"uuid_kill {leg_id} {tr.fs_cause(cause)}")
        except (NoSuchCall, CommandRejected, SwitchUnavailable):
            pass

    def _known(self, leg_id: str) -> FsLeg:
        leg = self.legs.get(leg_id)
        if leg is None:
            raise NoSuchCall(f"no such leg {leg_id}")
        return leg

    def conference(self, bridge_id: str) -> str:
        return tr.CONFERENCE_PREFIX + check_id(bridge_id, "bridge id")

    def join_target(self, bridge_id: str) -> str:
        """Inline extension that puts a channel in the bridge (and parks it if it leaves)."""
        return f"conference:{self.conference(bridge_id)}@{self.config.conference_profile},park"

    async def wait_member(self, leg: FsLeg, timeout: float = 5.0) -> str:
        """The leg's conference member id, waiting for a join that is on its way."""
        try:
            async with self._joined:
                await asyncio.wait_for(
                    self._joined.wait_for(lambda: bool(leg.member_id) or not leg.join_bridge),
                    timeout,
                )
        except TimeoutError:
            pass
        if not leg.member_id:
            raise CommandRejected(f"leg {leg.leg_id} is not in a bridge")
        return leg.member_id

    def now(self) -> float:
        return time.monotonic()

    def new_id(self) -> str:
        return uuid.uuid4().hex
