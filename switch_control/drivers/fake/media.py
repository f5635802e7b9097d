"""The fake switch's media: playbacks (what a party hears besides the call) and
recordings. Their events come from the switch's event task, like everything else."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ...contract import PlaybackFinished, RecordingFinished, RecordingStarted
from ...errors import CommandRejected, NoSuchCall

if TYPE_CHECKING:
    from .switch import FakeLeg, FakeSwitch


@dataclass
class Playback:
    playback_id: str
    leg_id: str
    endless: bool  # tones play until stopped


@dataclass
class Recording:
    started: float
    call_id: str
    leg_id: str
    bridge_id: str


class FakeMedia:
    def __init__(self, switch: FakeSwitch) -> None:
        self.switch = switch
        self.playbacks: dict[str, Playback] = {}
        self.recordings: dict[str, Recording] = {}
        self.finished_recordings: dict[str, bytes] = {}

    # ------------------------------------------------------------------ playbacks
    def play(self, leg: FakeLeg, media: Sequence[str], playback_id: str = "") -> str:
        """Non-tone media finish after the next turn of the switch; tones (``tone:``)
        play until stopped, as on Asterisk."""
        if not media:
            raise CommandRejected("nothing to play")
        for m in media:
            if ":" not in m:
                raise CommandRejected(f"bad media URI {m!r}")
        playback_id = playback_id or uuid.uuid4().hex
        endless = any(m.startswith("tone:") for m in media)
        self.playbacks[playback_id] = Playback(playback_id, leg.leg_id, endless)
        leg.played.extend(media)
        leg.playing.add(playback_id)
        if not endless:

            async def finish() -> None:
                self.finish(playback_id)

            self.switch.later(finish)
        return playback_id

    def finish(self, playback_id: str) -> None:
        playback = self.playbacks.pop(playback_id, None)
        if playback is None:
            return
        leg = self.switch.legs.get(playback.leg_id)
        if leg is not None:
            leg.playing.discard(playback_id)
            self.switch.emit(
                PlaybackFinished(call_id=leg.call_id, leg_id=leg.leg_id, playback_id=playback_id)
            )

    def stop(self, playback_id: str) -> None:
        if playback_id not in self.playbacks:
            raise NoSuchCall(f"no such playback {playback_id}")
        self.finish(playback_id)

    def leg_gone(self, leg: FakeLeg) -> None:
        for pid in leg.playing:
            self.playbacks.pop(pid, None)
        leg.playing.clear()

    # ------------------------------------------------------------------ recordings
    def record(self, name: str, leg_id: str, bridge_id: str) -> None:
        legs = self.switch.legs
        if leg_id:
            call_id = legs[leg_id].call_id
        elif bridge_id in self.switch.bridges:
            members = self.switch.bridges[bridge_id]
            call_id = next((legs[m].call_id for m in members if m in legs), "")
        else:
            raise NoSuchCall(f"no such bridge {bridge_id}")
        if name in self.recordings:
            raise CommandRejected(f"recording {name} already in progress")
        self.recordings[name] = Recording(time.time(), call_id, leg_id, bridge_id)
        self.switch.emit(
            RecordingStarted(call_id=call_id, name=name, leg_id=leg_id, bridge_id=bridge_id)
        )

    def stop_recording(self, name: str) -> None:
        try:
            rec = self.recordings.pop(name)
        except KeyError:
            raise NoSuchCall(f"no live recording {name}") from None
        self.finished_recordings[name] = b"RIFF"
        self.switch.emit(
            RecordingFinished(
                call_id=rec.call_id,
                name=name,
                leg_id=rec.leg_id,
                bridge_id=rec.bridge_id,
                duration=time.time() - rec.started,
            )
        )

    def fetch(self, name: str) -> bytes:
        try:
            return self.finished_recordings[name]
        except KeyError:
            raise NoSuchCall(f"no stored recording {name}") from None
