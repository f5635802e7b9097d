"""What one leg hears and does on Asterisk: answer, prompts, digits, hold, recordings
(SW-2, IVR-2, REC-1)."""

from __future__ import annotations

from collections.abc import Sequence

from ...contract import CallHeld, CallResumed, RecordingStarted
from ...contract.base import new_id
from ...errors import CommandRejected, NoSuchCall, SwitchUnavailable
from .. import dtmf
from .legs import LegTable

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


class LegMedia:
    def __init__(self, table: LegTable, *, moh_class: str = "default") -> None:
        self.table = table
        self.ari = table.ari
        self.moh_class = moh_class

    async def answer(self, leg_id: str) -> None:
        await self.ari.post(f"/channels/{leg_id}/answer")

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
        if leg_id not in self.table.legs:
            raise NoSuchCall(f"no such leg {leg_id}")
        return await dtmf.collect_on_leg(
            self.table.collectors,
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
        await self.table.emit(CallHeld(call_id=self.table.call_of(leg_id), leg_id=leg_id))

    async def unhold(self, leg_id: str) -> None:
        await self.ari.delete(f"/channels/{leg_id}/moh")
        await self.ari.delete(f"/channels/{leg_id}/mute", direction="in")
        await self.table.emit(CallResumed(call_id=self.table.call_of(leg_id), leg_id=leg_id))

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
            call_id = self.table.bridges.get(bridge_id, "")
        elif leg_id:
            await self.ari.post(f"/channels/{leg_id}/record", **params)
            call_id = self.table.call_of(leg_id)
        else:
            raise CommandRejected("record needs a leg or a bridge")
        await self.table.emit(
            RecordingStarted(call_id=call_id, name=name, leg_id=leg_id, bridge_id=bridge_id)
        )

    async def stop_recording(self, name: str) -> None:
        await self.ari.post(f"/recordings/live/{name}/stop")

    async def fetch_recording(self, name: str, fmt: str = "wav") -> bytes:
        return await self.ari.request_bytes("GET", f"/recordings/stored/{name}/file")
