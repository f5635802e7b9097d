"""Typed models of the ARI events we use. Unknown event types still parse (``AriEvent``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class AriEventError(ValueError):
    """An ARI event that cannot be understood (not an object, no type, bad fields)."""


def _s(d: dict[str, Any], key: str) -> str:
    v = d.get(key, "")
    return v if isinstance(v, str) else str(v)


def parse_time(value: str) -> float:
    """ARI timestamps look like ``2026-11-22T07:39:44.897+0000``."""
    if not value:
        return 0.0
    try:
        # in C, ~20x faster than strptime (which cost 6 % of the controller's CPU)
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        try:
            return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
        except ValueError:
            return 0.0


@dataclass(frozen=True, slots=True)
class Channel:
    id: str
    name: str
    state: str  # Down, Rsrvd, OffHook, Dialing, Ring, Ringing, Up, Busy, ...
    caller_number: str = ""
    caller_name: str = ""
    connected_number: str = ""
    exten: str = ""
    context: str = ""
    creationtime: float = 0.0
    vars: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, d: Any) -> Channel:
        if not isinstance(d, dict) or not isinstance(d.get("id"), str):
            raise AriEventError("channel without id")
        caller = d.get("caller") or {}
        connected = d.get("connected") or {}
        dialplan = d.get("dialplan") or {}
        cvars = d.get("channelvars") or {}
        return cls(
            id=d["id"],
            name=_s(d, "name"),
            state=_s(d, "state"),
            caller_number=_s(caller, "number") if isinstance(caller, dict) else "",
            caller_name=_s(caller, "name") if isinstance(caller, dict) else "",
            connected_number=_s(connected, "number") if isinstance(connected, dict) else "",
            exten=_s(dialplan, "exten") if isinstance(dialplan, dict) else "",
            context=_s(dialplan, "context") if isinstance(dialplan, dict) else "",
            creationtime=parse_time(_s(d, "creationtime")),
            vars={str(k): str(v) for k, v in cvars.items()} if isinstance(cvars, dict) else {},
        )


@dataclass(frozen=True, slots=True)
class AriEvent:
    """One event from the websocket. ``channel`` is set for channel events; ``raw`` keeps
    the rest (bridge, playback, recording, digit…) for the few handlers that need it."""

    type: str
    timestamp: float
    channel: Channel | None
    raw: dict[str, Any]

    def get(self, *path: str) -> str:
        cur: Any = self.raw
        for key in path:
            if not isinstance(cur, dict):
                return ""
            cur = cur.get(key)
        if cur is None:
            return ""
        return cur if isinstance(cur, str) else str(cur)

    @property
    def args(self) -> list[str]:
        a = self.raw.get("args")
        return [str(x) for x in a] if isinstance(a, list) else []


def parse_event(data: Any) -> AriEvent:
    """Validate the envelope of one decoded websocket message."""
    if not isinstance(data, dict):
        raise AriEventError(f"event is not an object: {type(data).__name__}")
    etype = data.get("type")
    if not isinstance(etype, str) or not etype:
        raise AriEventError("event without a type")
    channel = Channel.from_json(data["channel"]) if "channel" in data else None
    return AriEvent(
        type=etype,
        timestamp=parse_time(_s(data, "timestamp")),
        channel=channel,
        raw=data,
    )
