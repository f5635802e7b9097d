"""One-leg operations on FreeSWITCH: answer, hangup, media, digits, hold (SW-2).
Applications run on a leg through ``sendmsg`` (``execute`` with our own ``Event-UUID``,
which comes back as ``Application-UUID`` in CHANNEL_EXECUTE_COMPLETE)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from ...contract import CallHeld, CallResumed, HangupCause, PlaybackFinished
from ...errors import CommandRejected, NoSuchCall, SwitchUnavailable
from ...protocols.esl import EslEvent
from .. import dtmf
from . import translate as tr
from .core import Switch
from .ends import EndRecords
from .events import LegEvents
from .media import check_id, media_app
from .table import LegTable
from .translate import FsLeg

logger = logging.getLogger(__name__)


@dataclass
class Playback:
    playback_id: str
    leg_id: str
    pending: set[str] = field(default_factory=set)  # Application-UUIDs still to complete


class LegOps:
    """Operations on one leg, and the events they produce."""

    def __init__(
        self, switch: Switch, table: LegTable, events: LegEvents, ends: EndRecords
    ) -> None:
        self.switch = switch
        self.config = switch.config
        self.esl = switch.esl
        self.table = table
        self.playbacks: dict[str, Playback] = {}
        self._apps: dict[str, str] = {}  # Application-UUID -> playback id
        self._collectors: dict[str, asyncio.Queue[str]] = {}
        events.add("DTMF", self._on_dtmf)
        events.add("CHANNEL_EXECUTE_COMPLETE", self._on_execute_complete)
        ends.forgotten.append(self._forget)

    def _forget(self, leg: FsLeg) -> None:
        for playback in [p for p in self.playbacks.values() if p.leg_id == leg.leg_id]:
            self._drop_playback(playback)  # its CallEnded ends whatever waited for it

    async def answer(self, leg_id: str) -> None:
        await self.switch.leg_api(leg_id, f"uuid_answer {check_id(leg_id, 'leg id')}")

    async def hangup(self, leg_id: str, cause: HangupCause = HangupCause.NORMAL_CLEARING) -> None:
        await self.esl.api(f"uuid_kill {check_id(leg_id, 'leg id')} {tr.fs_cause(cause)}")

    # ------------------------------------------------------------------ media
    async def execute(self, leg_id: str, app: str, arg: str, app_uuid: str) -> None:
        await self.esl.sendmsg(check_id(leg_id, "leg id"), app=app, arg=arg, event_uuid=app_uuid)

    async def play(self, leg_id: str, media: Sequence[str], playback_id: str = "") -> str:
        apps = [media_app(item, self.config.media) for item in media]
        if not apps:
            raise CommandRejected("nothing to play")
        playback_id = playback_id or self.switch.new_id()
        uuids = [f"{playback_id}/{i}" for i in range(len(apps))]
        playback = Playback(playback_id, leg_id, set(uuids))
        self.playbacks[playback_id] = playback
        self._apps.update(dict.fromkeys(uuids, playback_id))
        try:
            for (app, arg), app_uuid in zip(apps, uuids, strict=True):
                await self.execute(leg_id, app, arg, app_uuid)
        except BaseException:
            self._drop_playback(playback)
            raise
        return playback_id

    def _drop_playback(self, playback: Playback) -> None:
        self.playbacks.pop(playback.playback_id, None)
        for app_uuid in playback.pending:
            self._apps.pop(app_uuid, None)

    async def _finish_playback(self, playback: Playback) -> None:
        self._drop_playback(playback)
        leg = self.table.legs.get(playback.leg_id)
        if leg is not None:
            await self.switch.emit(
                PlaybackFinished(
                    call_id=leg.call_id, leg_id=leg.leg_id, playback_id=playback.playback_id
                )
            )

    async def stop_playback(self, playback_id: str) -> None:
        playback = self.playbacks.get(playback_id)
        if playback is None:
            raise NoSuchCall(f"no such playback {playback_id}")
        # "all": also drops the items still queued behind the current one
        await self.esl.api(f"uuid_break {playback.leg_id} all")
        await self._finish_playback(playback)

    async def _on_execute_complete(self, ev: EslEvent, leg: FsLeg) -> None:
        playback_id = self._apps.pop(ev.get("Application-UUID") or "", None)
        playback = self.playbacks.get(playback_id or "")
        if playback is not None:
            playback.pending.discard(ev["Application-UUID"])
            if not playback.pending:
                await self._finish_playback(playback)

    async def _on_dtmf(self, ev: EslEvent, leg: FsLeg) -> None:
        event = tr.dtmf(ev, leg)
        queue = self._collectors.get(leg.leg_id)
        if queue is not None:
            queue.put_nowait(event.digit)
        await self.switch.emit(event)

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
        self.table.known(leg_id)
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

    # ------------------------------------------------------------------ hold
    async def hold(self, leg_id: str) -> None:
        """The held party hears music and is not heard by the others: in a bridge, the
        conference's member hold; alone, music played to the leg."""
        leg = self.table.known(leg_id)
        if leg.bridge_id or leg.join_bridge:
            member = await self.table.wait_member(leg)
            await self.conference_api(leg.bridge_id, f"hold {member} {self.config.hold_music}")
        else:
            await self.execute(leg_id, "playback", self.config.hold_music, f"hold/{leg_id}")
        leg.held = True
        await self.switch.emit(CallHeld(call_id=leg.call_id, leg_id=leg_id))

    async def unhold(self, leg_id: str) -> None:
        leg = self.table.known(leg_id)
        if leg.bridge_id:
            member = await self.table.wait_member(leg)
            await self.conference_api(leg.bridge_id, f"unhold {member}")
        else:
            await self.esl.api(f"uuid_break {leg_id}")
        leg.held = False
        await self.switch.emit(CallResumed(call_id=leg.call_id, leg_id=leg_id))

    async def conference_api(self, bridge_id: str, command: str) -> str:
        """``conference cc-<bridge> <command>``; a missing room or member is ``NoSuchCall``."""
        text = await self.esl.api(
            f"conference {self.table.conference(bridge_id)} {command}", check=False
        )
        lowered = text.lower()
        if "not found" in lowered or "non-existant" in lowered or "no such" in lowered:
            raise NoSuchCall(f"bridge {bridge_id}: {text.strip()}")
        if text.startswith("-"):
            raise CommandRejected(f"conference {command.split()[0]}: {text.strip()}")
        return text
