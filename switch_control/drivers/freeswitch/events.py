"""What FreeSWITCH's events mean for our legs (SW-1, SW-2): offered, ringing, answered,
ended, in and out of bridges, phones registering. Other parts add handlers for the events
of their own operations (``add``); one bad event is logged and skipped."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from ...contract import (
    CallAnswered,
    CallBridged,
    CallRinging,
    CallUnbridged,
    EndpointStatusChanged,
    HangupCause,
)
from ...protocols.esl import EslEvent
from . import translate as tr
from .core import Switch
from .ends import EndRecords
from .table import LegTable
from .translate import FsLeg

logger = logging.getLogger(__name__)

CONFERENCE_EVENT = "conference::maintenance"
REGISTRATION_EVENTS = {"sofia::register": True, "sofia::unregister": False, "sofia::expire": False}

LegHandler = Callable[[EslEvent, FsLeg], Awaitable[None]]
RecordingHandler = Callable[[EslEvent, str], Awaitable[None]]


class LegEvents:
    """Dispatches the switch's events to the handlers of the leg they are about."""

    def __init__(self, switch: Switch, table: LegTable, ends: EndRecords) -> None:
        self.switch = switch
        self.table = table
        self.ends = ends
        self.created: list[Callable[[FsLeg], None]] = []  # the switch created a leg we dial
        self.conference_recording: list[RecordingHandler] = []
        self.handlers: dict[str, list[LegHandler]] = {
            "CHANNEL_CREATE": [self._on_create],
            "CHANNEL_PROGRESS": [self._on_progress],
            "CHANNEL_PROGRESS_MEDIA": [self._on_progress],
            "CHANNEL_ANSWER": [self._on_answer],
            "CHANNEL_HANGUP_COMPLETE": [self._on_hangup],
        }
        switch.esl.add_event_handler(self.on_event)

    def add(self, name: str, handler: LegHandler) -> None:
        self.handlers.setdefault(name, []).append(handler)

    async def on_event(self, ev: EslEvent) -> None:
        try:
            if ev.name == "CUSTOM":
                await self._on_custom(ev)
            elif ev.name == "CHANNEL_PARK":
                await self._on_park(ev)
            else:
                leg = self.table.legs.get(ev.unique_id or "")
                if leg is not None:
                    for handler in self.handlers.get(ev.name, ()):
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
            await self.switch.emit(
                EndpointStatusChanged(endpoint=user, online=online, contact=contact)
            )

    async def _on_park(self, ev: EslEvent) -> None:
        if ev["Unique-ID"] in self.table.legs:
            return  # one of ours parked again (after a conference, or &park())
        leg, event = tr.offered(ev)
        self.table.legs[leg.leg_id] = leg
        logger.info("[call %s] offered %s -> %s", leg.call_id, leg.caller_number, leg.callee_number)
        await self.switch.emit(event)
        self.switch.spawn(self.ends.keep(leg))

    async def _on_create(self, ev: EslEvent, leg: FsLeg) -> None:
        if leg.originated and not leg.created:
            self.switch.spawn(self.ends.keep(leg))
        leg.created = True
        leg.channel_name = ev.get("Channel-Name") or leg.channel_name
        await self.offer(leg)
        for created in self.created:
            created(leg)

    async def offer(self, leg: FsLeg) -> None:
        if not leg.offered:
            leg.offered = True
            await self.switch.emit(tr.outbound_offered(leg))

    async def _on_progress(self, ev: EslEvent, leg: FsLeg) -> None:
        if not leg.ringing and not leg.up:
            leg.ringing = True
            at = tr.event_time(ev)
            await self.switch.emit(CallRinging(call_id=leg.call_id, leg_id=leg.leg_id, at=at))

    async def _on_answer(self, ev: EslEvent, leg: FsLeg) -> None:
        if not leg.up:
            leg.up = True
            at = tr.event_time(ev)
            await self.switch.emit(CallAnswered(call_id=leg.call_id, leg_id=leg.leg_id, at=at))

    async def _on_hangup(self, ev: EslEvent, leg: FsLeg) -> None:
        self.ends.forget(leg)
        event = tr.ended(ev, leg)
        logger.info("[call %s] leg %s ended: %s", leg.call_id, leg.leg_id, event.cause.value)
        await self.switch.emit(event)

    async def _on_conference(self, ev: EslEvent) -> None:
        action = ev.get("Action") or ""
        bridge_id = tr.bridge_of_conference(ev.get("Conference-Name") or "")
        if bridge_id is None:
            return
        if action == "conference-destroy":
            self.table.bridges.pop(bridge_id, None)
        elif action in ("start-recording", "stop-recording"):
            for handler in self.conference_recording:
                await handler(ev, action)
        elif (leg := self.table.legs.get(ev.unique_id or "")) is None:
            return  # the recorder, or a channel that is not ours
        elif action == "add-member":
            await self._joined_bridge(ev, leg, bridge_id)
        elif action == "del-member" and leg.bridge_id == bridge_id:
            leg.bridge_id = leg.member_id = ""
            leg.held = False
            at = tr.event_time(ev)
            await self.switch.emit(
                CallUnbridged(call_id=leg.call_id, leg_id=leg.leg_id, bridge_id=bridge_id, at=at)
            )

    async def _joined_bridge(self, ev: EslEvent, leg: FsLeg, bridge_id: str) -> None:
        leg.bridge_id, leg.member_id = bridge_id, ev["Member-ID"]
        if leg.join_bridge == bridge_id:
            leg.join_bridge = ""
        self.table.bridges.setdefault(bridge_id, leg.call_id)
        at = tr.event_time(ev)
        await self.switch.emit(
            CallBridged(call_id=leg.call_id, leg_id=leg.leg_id, bridge_id=bridge_id, at=at)
        )
        await self.table.joined()
        if leg.replace_leg:
            self.switch.spawn(self._replace(leg))

    async def _replace(self, leg: FsLeg) -> None:
        """The new leg is in: the one it replaces (intercept, pickup) drops."""
        old_id, leg.replace_leg = leg.replace_leg, ""
        old = self.table.legs.get(old_id)
        ringing = old is not None and not old.up
        await self.switch.quiet_hangup(
            old_id, HangupCause.PICKED_OFF if ringing else HangupCause.NORMAL_CLEARING
        )
