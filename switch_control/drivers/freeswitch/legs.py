"""One-leg operations on FreeSWITCH: answer, hangup, media, digits, hold, recording
(SW-2, REC-1). Applications run on a leg through ``sendmsg`` (``execute`` with our own
``Event-UUID``, which comes back as ``Application-UUID`` in CHANNEL_EXECUTE_COMPLETE)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ...contract import (
    CallHeld,
    CallResumed,
    HangupCause,
    PlaybackFinished,
    RecordingFinished,
    RecordingStarted,
)
from ...errors import CommandRejected, NoSuchCall, SwitchUnavailable
from ...protocols.esl import EslClient, EslEvent
from .. import dtmf
from . import translate as tr
from .core import FreeSwitchConfig
from .dialing import FreeSwitchDialing
from .media import check_id, media_app
from .translate import FsLeg

logger = logging.getLogger(__name__)


@dataclass
class Playback:
    playback_id: str
    leg_id: str
    pending: set[str] = field(default_factory=set)  # Application-UUIDs still to complete


@dataclass
class Recording:
    name: str
    path: str
    fmt: str
    call_id: str
    leg_id: str = ""
    bridge_id: str = ""
    started: float = 0.0


class FreeSwitchLegs(FreeSwitchDialing):
    """Operations on one leg, and the events they produce."""

    def __init__(self, esl: EslClient, config: FreeSwitchConfig | None = None) -> None:
        super().__init__(esl, config)
        self.playbacks: dict[str, Playback] = {}
        self._apps: dict[str, str] = {}  # Application-UUID -> playback id
        self._collectors: dict[str, asyncio.Queue[str]] = {}
        self.recordings: dict[str, Recording] = {}

    def _forget(self, leg: FsLeg) -> None:
        super()._forget(leg)
        for playback in [p for p in self.playbacks.values() if p.leg_id == leg.leg_id]:
            self._drop_playback(playback)  # its CallEnded ends whatever waited for it

    async def _leg_api(self, leg_id: str, command: str) -> str:
        """An api command on a leg; an error reply for a leg that no longer exists (some
        commands just say ``-ERROR``) is ``NoSuchCall``."""
        try:
            return await self.esl.api(command)
        except CommandRejected as exc:
            gone = await self.esl.api(f"uuid_exists {leg_id}", check=False)
            if gone.strip() == "false":
                raise NoSuchCall(f"no such leg {leg_id}") from exc
            raise

    async def answer(self, leg_id: str) -> None:
        await self._leg_api(leg_id, f"uuid_answer {check_id(leg_id, 'leg id')}")

    async def hangup(self, leg_id: str, cause: HangupCause = HangupCause.NORMAL_CLEARING) -> None:
        await self.esl.api(f"uuid_kill {check_id(leg_id, 'leg id')} {tr.fs_cause(cause)}")

    # ------------------------------------------------------------------ media
    async def execute(self, leg_id: str, app: str, arg: str, app_uuid: str) -> None:
        await self.esl.sendmsg(check_id(leg_id, "leg id"), app=app, arg=arg, event_uuid=app_uuid)

    async def play(self, leg_id: str, media: Sequence[str], playback_id: str = "") -> str:
        apps = [media_app(item, self.config.media) for item in media]
        if not apps:
            raise CommandRejected("nothing to play")
        playback_id = playback_id or self.new_id()
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
        leg = self.legs.get(playback.leg_id)
        if leg is not None:
            await self._emit(
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
        await self._emit(event)

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
        self._known(leg_id)
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
        leg = self._known(leg_id)
        if leg.bridge_id or leg.join_bridge:
            member = await self.wait_member(leg)
            await self.conference_api(leg.bridge_id, f"hold {member} {self.config.hold_music}")
        else:
            await self.execute(leg_id, "playback", self.config.hold_music, f"hold/{leg_id}")
        leg.held = True
        await self._emit(CallHeld(call_id=leg.call_id, leg_id=leg_id))

    async def unhold(self, leg_id: str) -> None:
        leg = self._known(leg_id)
        if leg.bridge_id:
            member = await self.wait_member(leg)
            await self.conference_api(leg.bridge_id, f"unhold {member}")
        else:
            await self.esl.api(f"uuid_break {leg_id}")
        leg.held = False
        await self._emit(CallResumed(call_id=leg.call_id, leg_id=leg_id))

    async def conference_api(self, bridge_id: str, command: str) -> str:
        """``conference cc-<bridge> <command>``; a missing room or member is ``NoSuchCall``."""
        text = await self.esl.api(f"conference {self.conference(bridge_id)} {command}", check=False)
        lowered = text.lower()
        if "not found" in lowered or "non-existant" in lowered or "no such" in lowered:
            raise NoSuchCall(f"bridge {bridge_id}: {text.strip()}")
        if text.startswith("-"):
            raise CommandRejected(f"conference {command.split()[0]}: {text.strip()}")
        return text

    # ------------------------------------------------------------------ recording
    def recording_path(self, name: str, fmt: str) -> str:
        check_id(name, "recording name")
        if not fmt.isalnum():
            raise CommandRejected(f"invalid format {fmt!r}")
        return f"{self.config.media.recordings_dir.rstrip('/')}/{name}.{fmt}"

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
        """A leg (``uuid_record``) or a bridge (the conference's own recording)."""
        path = self.recording_path(name, fmt)
        if name in self.recordings:
            raise CommandRejected(f"recording {name} is already running")
        if bridge_id:
            if beep:
                await self.conference_api(bridge_id, "play tone_stream://%(250,0,1000)")
            await self.conference_api(bridge_id, f"recording start {path}")
            call_id = self.bridges.get(bridge_id, "")
        elif leg_id:
            call_id = self._known(leg_id).call_id
            if beep:
                await self.play(leg_id, ["tone:beep"])
            limit = f" {max_duration}" if max_duration else ""
            await self._leg_api(leg_id, f"uuid_record {leg_id} start {path}{limit}")
        else:
            raise CommandRejected("record needs a leg or a bridge")
        self.recordings[name] = Recording(name, path, fmt, call_id, leg_id, bridge_id, self.now())
        if bridge_id and max_duration:
            self._spawn(self._stop_later(name, max_duration))
        logger.info("[call %s] recording %s", call_id or "-", name)
        await self._emit(
            RecordingStarted(call_id=call_id, name=name, leg_id=leg_id, bridge_id=bridge_id)
        )

    async def _stop_later(self, name: str, seconds: int) -> None:
        await asyncio.sleep(seconds)
        try:
            await self.stop_recording(name)
        except (NoSuchCall, CommandRejected, SwitchUnavailable):
            pass

    async def stop_recording(self, name: str) -> None:
        rec = self.recordings.get(name)
        if rec is None:
            raise NoSuchCall(f"no such recording {name}")
        if rec.bridge_id:
            await self.conference_api(rec.bridge_id, f"recording stop {rec.path}")
        else:
            await self.esl.api(f"uuid_record {rec.leg_id} stop {rec.path}")

    async def fetch_recording(self, name: str, fmt: str = "wav") -> bytes:
        """The file, read where FreeSWITCH wrote it (the controller runs on its host)."""
        path = Path(self.recording_path(name, fmt))
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError as exc:
            raise NoSuchCall(f"no such recording {name}") from exc

    async def _finish_recording(self, path: str, duration: float | None) -> None:
        rec = next((r for r in self.recordings.values() if r.path == path), None)
        if rec is None:
            return
        del self.recordings[rec.name]
        await self._emit(
            RecordingFinished(
                call_id=rec.call_id,
                name=rec.name,
                format=rec.fmt,
                leg_id=rec.leg_id,
                bridge_id=rec.bridge_id,
                duration=duration if duration is not None else self.now() - rec.started,
            )
        )

    async def _on_record_stop(self, ev: EslEvent, leg: FsLeg) -> None:
        ms = ev.variable("record_ms") or ""
        await self._finish_recording(
            ev["Record-File-Path"], int(ms) / 1000 if ms.isdigit() else None
        )

    async def _on_conference_recording(self, ev: EslEvent, action: str) -> None:
        if action == "stop-recording":
            ms = ev.get("Milliseconds-Elapsed") or ""
            await self._finish_recording(ev["Path"], int(ms) / 1000 if ms.isdigit() else None)
