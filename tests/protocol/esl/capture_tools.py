"""Helpers shared by the ESL tests: locating and reading the real FreeSWITCH captures.

The captures live in ``shared/freeswitch-captures`` next to the repository checkout
(``<repo>/../shared``); tests must not silently skip when they are missing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from switch_control.protocols.esl import EslMessage, EslParser

REPO = Path(__file__).resolve().parents[3]
CAPTURES = REPO.parent / "shared" / "freeswitch-captures"
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def captures_dir() -> Path:
    if not (CAPTURES / "README.md").is_file():
        raise AssertionError(
            f"FreeSWITCH captures not found at {CAPTURES}: the checkout needs shared/ beside it "
            "(../shared/freeswitch-captures), as in CI"
        )
    return CAPTURES


def capture_files(pattern: str = "*.esl") -> list[Path]:
    base = captures_dir()
    return sorted(base.glob(pattern)) + sorted((base / "extra").glob(pattern))


def parse_capture(path: Path) -> list[EslMessage]:
    return EslParser(unicode_errors="strict").feed(path.read_bytes())


def timeline(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def sent_commands(stem: str) -> list[str]:
    """The commands of a capture's ``.tx``, in order, each with its trailing blank line."""
    entries = timeline(captures_dir() / f"{stem}.timeline.jsonl")
    return [str(e["text"]) for e in entries if e["dir"] == "tx"]


def md_event_counts(scenario: str) -> dict[str, tuple[int, dict[str, int]]]:
    """From ``scenario-NN.md``: per run file stem, (number of events, counts by name)."""
    text = (captures_dir() / f"{scenario}.md").read_text()
    result: dict[str, tuple[int, dict[str, int]]] = {}
    pattern = re.compile(
        r"\* received: `([^`]+)\.esl` \(\d+ bytes\), sent: [^\n]*?, (\d+) events\n"
        r"\* event counts: ([^\n]*)"
    )
    for match in pattern.finditer(text):
        counts = {}
        for item in match.group(3).split(", "):
            name, _, count = item.rpartition("×")
            counts[name] = int(count)
        result[match.group(1)] = (int(match.group(2)), counts)
    return result


@dataclass
class RawEvent:
    """An event as ordered (name, value) pairs, repeats kept (what FreeSWITCH sent)."""

    pairs: list[tuple[str, str]]
    body: str | None = None
    fields: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.fields = dict(self.pairs)

    @property
    def name(self) -> str:
        name = self.fields.get("Event-Name", "")
        sub = self.fields.get("Event-Subclass")
        return f"{name}/{sub}" if name == "CUSTOM" and sub else name

    @property
    def uuid(self) -> str:
        return self.fields.get("Unique-ID", "")


def split_frames(data: bytes) -> list[bytes]:
    """Well-formed ESL bytes -> one bytes object per frame."""
    frames: list[bytes] = []
    pos = 0
    while pos < len(data):
        if data[pos] == 10:
            pos += 1
            continue
        end = data.find(b"\n\n", pos)
        if end < 0:
            break
        length = 0
        for line in data[pos:end].split(b"\n"):
            if line.startswith(b"Content-Length: "):
                length = int(line[16:])
        frames.append(data[pos : end + 2 + length])
        pos = end + 2 + length
    return frames


def raw_events(data: bytes) -> list[RawEvent | EslMessage]:
    """Frames of a byte stream; events as :class:`RawEvent` (repeated headers preserved)."""
    result: list[RawEvent | EslMessage] = []
    for frame in split_frames(data):
        (message,) = EslParser().feed(frame)
        if message.event is None:
            result.append(message)
            continue
        body = frame[frame.find(b"\n\n") + 2 :]
        if message.content_type == "text/event-json":
            pairs = json.loads(body, object_pairs_hook=lambda p: p)
            inner = None
            if pairs and pairs[-1][0] == "_body":
                inner = pairs.pop()[1]
            items = [(k, v if isinstance(v, str) else "ARRAY::" + "|:".join(v)) for k, v in pairs]
            result.append(RawEvent(items, inner))
        else:
            sep = body.find(b"\n\n")
            head = body[:sep].decode()
            rest = body[sep + 2 :].decode() or None
            items = [
                (k, unquote(v)) for k, _, v in (line.partition(": ") for line in head.split("\n"))
            ]
            result.append(RawEvent(items, rest))
    return result


@dataclass(frozen=True)
class TapChunk:
    """One chunk of a ``.tap`` capture: ``@@ <epoch> <dir> <len>`` then ``len`` bytes;
    ``>`` sent to FreeSWITCH, ``<`` received from it, ``=`` a note of the proxy
    (``connection opened`` / ``connection closed``)."""

    at: float
    direction: str
    data: bytes


def read_tap(path: Path) -> list[TapChunk]:
    data = path.read_bytes()
    chunks: list[TapChunk] = []
    pos = 0
    while pos < len(data):
        if data[pos] == 10:  # the newline that separates chunks
            pos += 1
            continue
        end = data.index(b"\n", pos)
        head = data[pos:end].decode().split()
        if len(head) != 4 or head[0] != "@@" or head[2] not in "<>=" or not head[3].isdigit():
            raise ValueError(f"{path.name}: bad chunk header at byte {pos}: {head!r}")
        length = int(head[3])
        body = data[end + 1 : end + 1 + length]
        if len(body) != length:
            raise ValueError(f"{path.name}: chunk at byte {pos} is truncated")
        chunks.append(TapChunk(float(head[1]), head[2], body))
        pos = end + 1 + length
    return chunks


@dataclass
class TapConnection:
    """One ESL connection of a tap: what was received (bytes) and sent (commands)."""

    received: bytes = b""
    commands: list[str] = field(default_factory=list)


def tap_connections(chunks: list[TapChunk]) -> list[TapConnection]:
    connections: list[TapConnection] = []
    for chunk in chunks:
        if chunk.direction == "=":
            if chunk.data.strip() == b"connection opened":
                connections.append(TapConnection())
            continue
        conn = connections[-1]
        if chunk.direction == "<":
            conn.received += chunk.data
        else:
            text = chunk.data.decode()
            conn.commands += [c + "\n\n" for c in text.split("\n\n") if c.strip()]
    return connections
