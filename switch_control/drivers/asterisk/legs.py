"""The legs and bridges the Asterisk driver owns, and bridge membership (SW-1, SW-2).

Every bridge is ours and every move goes through ``LegTable.move``, so nothing else
changes membership: the app has no ``subscribeAll`` and gets no bridge events, so
``CallBridged``/``CallUnbridged`` come from our own addChannel/removeChannel replies
(Asterisk answers addChannel once the channel is in the bridge) and from the
``ChannelDestroyed`` of a bridged leg. A bridge is deleted when the last of our legs
leaves it. The table is also where the driver's parts share the event sink and their
background tasks.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine, Sequence
from typing import Any

from ...callcontrol import EventSink
from ...contract import CAUSE_TO_Q850, CallBridged, CallUnbridged, Event, HangupCause
from ...contract.base import new_id
from ...errors import CommandRejected, NoSuchCall, SwitchUnavailable
from ...protocols.ari import AriClient, AriRefused
from .translate import LegInfo, marker

logger = logging.getLogger(__name__)


class LegTable:
    def __init__(self, ari: AriClient) -> None:
        self.ari = ari
        self.legs: dict[str, LegInfo] = {}
        self.bridges: dict[str, str] = {}  # bridge id -> call id
        self.collectors: dict[str, asyncio.Queue[str]] = {}  # leg -> digits (collect_digits)
        self.background: set[asyncio.Task[None]] = set()
        self.sink: EventSink | None = None

    # ------------------------------------------------------------------ shared plumbing
    async def emit(self, event: Event) -> None:
        if self.sink is not None:
            await self.sink(event)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    async def settle(self) -> None:
        """Until the background tasks (and those they start) are done (tests; a task's
        failure is raised here)."""
        while self.background:
            await asyncio.gather(*self.background)
            await asyncio.sleep(0)  # (their done-callbacks leave the set)

    async def cancel_background(self) -> None:
        for task in list(self.background):
            task.cancel()
        await asyncio.gather(*self.background, return_exceptions=True)

    # ------------------------------------------------------------------ legs
    def known(self, leg_id: str) -> LegInfo:
        leg = self.legs.get(leg_id)
        if leg is None:
            raise NoSuchCall(f"no such leg {leg_id}")
        return leg

    def call_of(self, leg_id: str) -> str:
        leg = self.legs.get(leg_id)
        return leg.call_id if leg else leg_id

    def members(self, bridge_id: str) -> list[LegInfo]:
        return [x for x in self.legs.values() if x.bridge_id == bridge_id and not x.internal]

    def forget(self, leg: LegInfo) -> None:
        self.legs.pop(leg.leg_id, None)
        self.collectors.pop(leg.leg_id, None)
        if leg.marked:
            self.spawn(self._clear_marker(leg.leg_id))
        if leg.companion:
            self.spawn(self.quiet_hangup(leg.companion))

    async def end_leg(self, leg: LegInfo, ended: Event | None, at: float = 0.0) -> None:
        """The leg is gone: forget it; it left its bridge first (unbridged, then ended)."""
        self.forget(leg)
        if leg.bridge_id:
            await self.left_bridge(leg, at=at)
        if ended is not None and not leg.internal:
            await self.emit(ended)

    async def _clear_marker(self, leg_id: str) -> None:
        try:
            await self.ari.post("/asterisk/variable", variable=marker(leg_id), value="")
        except (CommandRejected, NoSuchCall, SwitchUnavailable) as exc:
            logger.debug("marker of %s not cleared: %s", leg_id, exc)

    async def hangup(self, leg_id: str, cause: HangupCause = HangupCause.NORMAL_CLEARING) -> None:
        code = CAUSE_TO_Q850.get(cause, 16)
        await self.ari.delete(f"/channels/{leg_id}", reason_code=code)

    async def quiet_hangup(
        self, leg_id: str, cause: HangupCause = HangupCause.NORMAL_CLEARING
    ) -> None:
        try:
            await self.hangup(leg_id, cause)
        except (NoSuchCall, CommandRejected, SwitchUnavailable):
            pass

    # ------------------------------------------------------------------ bridges
    async def bridge(self, leg_ids: Sequence[str], bridge_id: str = "") -> str:
        bridge_id = bridge_id or new_id()
        legs = [self.known(x) for x in leg_ids]
        await self.ensure_bridge(bridge_id, legs[0].call_id if legs else "")
        for leg in legs:
            await self.move(leg, bridge_id)
        return bridge_id

    async def ensure_bridge(self, bridge_id: str, call_id: str) -> None:
        if bridge_id not in self.bridges:
            try:
                await self.ari.post(f"/bridges/{bridge_id}", type="mixing")
            except AriRefused as exc:
                if exc.status != 409:
                    raise
                # our own id exists already: made by an earlier attempt of this command,
                # or left by a controller that died; it is ours to use
                logger.info("bridge %s existed already (409): used", bridge_id)
            self.bridges[bridge_id] = call_id

    async def move(self, leg: LegInfo, bridge_id: str) -> None:
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
                await self.left_bridge(leg)
            await self.ari.post(f"/bridges/{bridge_id}/addChannel", channel=leg.leg_id)
            await self._entered_bridge(leg, bridge_id)
        finally:
            leg.moving = None
            done.set_result(None)

    def start_join(self, leg: LegInfo) -> None:
        """A leg we dialled answered in the app: join the bridge it was dialled for, in a
        task (addChannel waits for the channel to be in the bridge, and the event stream
        must not wait with it: every call would queue behind it). Once only."""
        bridge_id, leg.join_bridge = leg.join_bridge, ""
        if bridge_id:
            self.spawn(self._join(leg, bridge_id))

    async def _join(self, leg: LegInfo, bridge_id: str) -> None:
        try:
            await self.move(leg, bridge_id)
        except (NoSuchCall, CommandRejected, SwitchUnavailable) as exc:  # (runs in a task)
            logger.warning("could not bridge answered leg [call %s]: %s", leg.call_id, exc)
            return
        if leg.replace_leg:  # intercept, pickup: the leg it replaces goes once it is in
            old, leg.replace_leg = leg.replace_leg, ""
            old_leg = self.legs.get(old)
            cause = (
                HangupCause.PICKED_OFF
                if old_leg and not old_leg.up
                else HangupCause.NORMAL_CLEARING
            )
            await self.quiet_hangup(old, cause)

    async def _entered_bridge(self, leg: LegInfo, bridge_id: str) -> None:
        """addChannel succeeded: Asterisk replies once the channel is in the bridge."""
        if self.legs.get(leg.leg_id) is not leg:  # it hung up meanwhile (and left)
            self._destroy_if_empty(bridge_id)
            return
        leg.bridge_id = bridge_id
        if not leg.internal:
            await self.emit(
                CallBridged(call_id=leg.call_id, leg_id=leg.leg_id, bridge_id=bridge_id)
            )

    async def left_bridge(self, leg: LegInfo, at: float = 0.0) -> None:
        bridge_id, leg.bridge_id = leg.bridge_id, ""
        if not leg.internal:
            await self.emit(
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
            self.spawn(self._destroy_bridge(bridge_id))

    async def _destroy_bridge(self, bridge_id: str) -> None:
        self.bridges.pop(bridge_id, None)
        try:
            await self.ari.delete(f"/bridges/{bridge_id}")
        except (NoSuchCall, CommandRejected, SwitchUnavailable):
            pass
