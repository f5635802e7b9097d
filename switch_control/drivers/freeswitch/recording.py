"""Recordings on FreeSWITCH (REC-1): one leg (``uuid_record``) or a whole bridge (its
conference's own ``recording``); files under ``recordings_dir``, read back from the same
host."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

from ...contract import RecordingFinished, RecordingStarted
from ...errors import CommandRejected, NoSuchCall, SwitchUnavailable
from ...protocols.esl import EslEvent
from .core import Switch
from .events import LegEvents
from .legs import LegOps
from .media import check_id
from .table import LegTable
from .translate import FsLeg

logger = logging.getLogger(__name__)


@dataclass
class Recording:
    name: str
    path: str
    fmt: str
    call_id: str
    leg_id: str = ""
    bridge_id: str = ""
    started: float = 0.0


class Recorder:
    """``record`` / ``stop_recording`` / ``fetch_recording`` and RecordingFinished."""

    def __init__(self, switch: Switch, table: LegTable, events: LegEvents, leg_ops: LegOps) -> None:
        self.switch = switch
        self.config = switch.config
        self.esl = switch.esl
        self.table = table
        self.leg_ops = leg_ops
        self.recordings: dict[str, Recording] = {}
        events.add("RECORD_STOP", self._on_record_stop)
        events.conference_recording.append(self._on_conference_recording)

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
                await self.leg_ops.conference_api(bridge_id, "play tone_stream://%(250,0,1000)")
            await self.leg_ops.conference_api(bridge_id, f"recording start {path}")
            call_id = self.table.bridges.get(bridge_id, "")
        elif leg_id:
            call_id = self.table.known(leg_id).call_id
            if beep:
                await self.leg_ops.play(leg_id, ["tone:beep"])
            limit = f" {max_duration}" if max_duration else ""
            await self.switch.leg_api(leg_id, f"uuid_record {leg_id} start {path}{limit}")
        else:
            raise CommandRejected("record needs a leg or a bridge")
        self.recordings[name] = Recording(
            name, path, fmt, call_id, leg_id, bridge_id, self.switch.now()
        )
        if bridge_id and max_duration:
            self.switch.spawn(self._stop_later(name, max_duration))
        logger.info("[call %s] recording %s", call_id or "-", name)
        await self.switch.emit(
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
            await self.leg_ops.conference_api(rec.bridge_id, f"recording stop {rec.path}")
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
        await self.switch.emit(
            RecordingFinished(
                call_id=rec.call_id,
                name=rec.name,
                format=rec.fmt,
                leg_id=rec.leg_id,
                bridge_id=rec.bridge_id,
                duration=duration if duration is not None else self.switch.now() - rec.started,
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
