"""Replay a capture's commands against the fake FreeSWITCH and compare the outputs.

What is compared (see ``compare``), after dropping what is volatile by nature
(dates, sequence numbers, timestamps, random application/transfer/conference ids):

* every non-event frame (command replies, api responses, disconnect notices), in
  order: content type, headers and body (a few bodies that describe the machine
  rather than the protocol -- uptime, ``show channels`` tables read from
  FreeSWITCH's lagging core DB, ``uuid_dump`` values -- are compared by shape);
* for every channel (same UUIDs: the fake is told to use the capture's), the
  ordered list of its events, each with every non-``variable_*`` header name in
  order (repeats included) and every non-volatile value;
* system events (API, BACKGROUND_JOB, CUSTOM, PRESENCE_IN without channel), in
  order, with their non-volatile values.

Not compared: the interleaving of different channels' events (it depends on
FreeSWITCH's threads and differs between the plain and JSON runs of the same
scenario), ``variable_*`` headers (hundreds of SIP/RTP details), timer events
(HEARTBEAT, RE_SCHEDULE), log/data line texts, and the events listed as racy in
``RACY`` (seen in one run of a scenario but not in the other).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from switch_control.protocols.esl import EslMessage, EslParser

from .capture_tools import UUID_RE, RawEvent, captures_dir, raw_events, sent_commands

VOLATILE = {
    "Event-Date-Local",
    "Event-Date-GMT",
    "Event-Date-Timestamp",
    "Event-Sequence",
    "Application-UUID",
    "Conference-Unique-ID",
    "Up-Time",
    "Uptime-msec",
    "Idle-CPU",
    "DTMF-Duration",
}
_VOLATILE_SUFFIX = ("-Time", "-Last-Hold", "-Hold-Accum", "-Transfer-Source")
TIMER_EVENTS = {"HEARTBEAT", "RE_SCHEDULE"}


def volatile(name: str) -> bool:
    return name in VOLATILE or name.endswith(_VOLATILE_SUFFIX)


def event_signature(event: RawEvent) -> tuple[object, ...]:
    names = tuple(k for k, _ in event.pairs if not k.startswith("variable_"))
    values = tuple(
        (k, v) for k, v in event.pairs if not k.startswith("variable_") and not volatile(k)
    )
    if event.fields.get("Action") == "del-member":
        # members leave in thread order after ``hup all``: the size then is racy
        values = tuple(item for item in values if item[0] != "Conference-Size")
    body = event.body
    if body is not None and event.fields.get("Job-Command") == "status":
        body = re.sub(r"\d+ session\(s\)[^\n]*", "<sessions>", body.split("\n", 1)[-1])
        body = re.sub(r"min idle cpu [^\n]*", "<cpu>", body)
        values = tuple(item for item in values if item[0] != "Content-Length")
    return (event.name, names, values, body)


def reply_signature(message: EslMessage) -> tuple[object, ...]:
    body = message.body
    if body is not None:
        if body.startswith("UP "):
            body = "UP <uptime>" + body[body.index("\n") :]
            body = re.sub(r"\d+ session\(s\)[^\n]*", "<sessions>", body)
            body = re.sub(r"min idle cpu [^\n]*", "<cpu>", body)
        elif body.startswith("uuid,direction"):
            body = body.split("\n", 1)[0] + f" <{body.count(chr(10))} lines>"
        elif body.startswith('{"row_count":'):
            body = "<json rows={}>".format(body.count('"uuid":'))
        elif body.startswith(("Event-Name: CHANNEL_DATA", '{"Event-Name":"CHANNEL_DATA"')):
            body = "<uuid_dump>"
        elif body.startswith("[{"):
            body = re.sub(r'"(run_time|join_time)":\t\d+', r'"\1":\t0', body)
            body = re.sub(r'"conference_uuid":\t"[^"]+"', '"conference_uuid":\t"?"', body)
        body = re.sub(r"RUNNING \(\d+\)", "RUNNING (n)", body)
    headers = message.headers
    if message.content_type == "command/reply" and "Event-Name" in headers:
        # the outbound ``connect`` reply: compare the header names and stable values
        names = tuple(k for k in headers if not k.startswith("variable_"))
        values = tuple(
            (k, v) for k, v in headers.items() if not volatile(k) and not k.startswith("variable_")
        )
        return (message.content_type, names, values)
    items = tuple((k, v) for k, v in headers.items() if k != "Content-Length")
    return (message.content_type, items, body)


@dataclass
class Summary:
    replies: list[tuple[object, ...]] = field(default_factory=list)
    channels: dict[str, list[tuple[object, ...]]] = field(default_factory=dict)
    system: list[tuple[object, ...]] = field(default_factory=list)
    log_lines: int = 0


def racy_bridge_state(event: RawEvent) -> bool:
    """The B-leg's CS_CONSUME_MEDIA while uuid_bridge runs: some runs have it, some not."""
    fields = event.fields
    return (
        event.name == "CHANNEL_STATE"
        and fields.get("Channel-State") == "CS_CONSUME_MEDIA"
        and fields.get("Other-Type") == "originator"
    )


def racy_outbound_park(event: RawEvent) -> bool:
    """CHANNEL_PARK reaches the outbound socket only if it is queued before ``myevents``."""
    return event.name == "CHANNEL_PARK"


def summarize(data: bytes, racy: Callable[[RawEvent], bool] = racy_bridge_state) -> Summary:
    summary = Summary()
    for item in raw_events(data):
        if isinstance(item, EslMessage):
            if item.content_type == "log/data":
                summary.log_lines += 1
            else:
                summary.replies.append(reply_signature(item))
            continue
        if item.name in TIMER_EVENTS:
            continue
        if racy(item):
            continue
        sig = event_signature(item)
        if item.uuid:  # channel events, conference member events included
            summary.channels.setdefault(item.uuid, []).append(sig)
        else:
            summary.system.append(sig)
    return summary


def compare(
    expected: bytes, actual: bytes, racy: Callable[[RawEvent], bool] = racy_bridge_state
) -> list[str]:
    """Differences between a capture and the fake's output (empty list: faithful)."""
    exp, act = summarize(expected, racy), summarize(actual, racy)
    problems: list[str] = []
    problems += _diff_lists("replies", exp.replies, act.replies)
    for uuid in sorted(set(exp.channels) | set(act.channels)):
        problems += _diff_lists(
            f"channel {uuid}", exp.channels.get(uuid, []), act.channels.get(uuid, [])
        )
    problems += _diff_lists("system events", exp.system, act.system)
    if bool(exp.log_lines) != bool(act.log_lines):
        problems.append(f"log/data: capture {exp.log_lines} lines, fake {act.log_lines}")
    return problems


def _diff_lists(
    what: str, exp: list[tuple[object, ...]], act: list[tuple[object, ...]]
) -> list[str]:
    out = []
    for index in range(max(len(exp), len(act))):
        e = exp[index] if index < len(exp) else None
        a = act[index] if index < len(act) else None
        if e != a:
            out.append(f"{what} #{index}:\n  capture: {_short(e)}\n  fake:    {_short(a)}")
            out.append(_detail(e, a))
            break
    if len(exp) != len(act):
        out.append(f"{what}: capture has {len(exp)}, fake {len(act)}")
    return out


def _short(sig: tuple[object, ...] | None) -> str:
    if sig is None:
        return "<none>"
    return str(sig[0]) + " " + str(sig[-1])[:100]


def _detail(e: tuple[object, ...] | None, a: tuple[object, ...] | None) -> str:
    if e is None or a is None or len(e) < 3:
        return ""
    lines = []
    for part_e, part_a in zip(e, a, strict=False):
        if part_e != part_a and isinstance(part_e, tuple) and isinstance(part_a, tuple):
            only_e = [x for x in part_e if x not in part_a]
            only_a = [x for x in part_a if x not in part_e]
            lines.append(f"    only capture: {only_e[:12]}\n    only fake:    {only_a[:12]}")
            if not only_e and not only_a:
                order_e, order_a = list(part_e)[:80], list(part_a)[:80]
                lines.append(f"    order: capture {order_e}\n           fake    {order_a}")
    return "\n".join(lines)


class RawClient:
    """A bare ESL connection recording every byte the fake sends."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.data = bytearray()
        self.messages: list[EslMessage] = []
        self.parser = EslParser()
        self.changed = asyncio.Event()
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while True:
            chunk = await self.reader.read(65536)
            if not chunk:
                break
            self.data += chunk
            self.messages += self.parser.feed(chunk)
            self.changed.set()
        self.changed.set()

    def send(self, text: str) -> None:
        self.writer.write(text.encode())

    async def wait(
        self, predicate: Callable[[EslMessage], bool], count: int = 1, timeout: float = 5.0
    ) -> None:
        async def until() -> None:
            while sum(1 for m in self.messages if predicate(m)) < count:
                if self.task.done():
                    raise AssertionError("connection closed while waiting")
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(until(), timeout)

    def replies(self) -> int:
        return sum(1 for m in self.messages if m.is_reply)


def is_event(name: str, uuid: str | None = None, **values: str) -> Callable[[EslMessage], bool]:
    def check(message: EslMessage) -> bool:
        ev = message.event
        if ev is None or ev.full_name != name or (uuid is not None and ev.unique_id != uuid):
            return False
        return all(ev.headers.get(k.replace("_", "-")) == v for k, v in values.items())

    return check


@dataclass
class CaptureInfo:
    stem: str
    data: bytes
    commands: list[str]
    channel_uuids: list[str]
    job_uuids: list[str]
    events: list[RawEvent]

    @classmethod
    def load(cls, stem: str) -> CaptureInfo:
        data = (captures_dir() / f"{stem}.esl").read_bytes()
        events = [e for e in raw_events(data) if isinstance(e, RawEvent)]
        uuids: list[str] = []
        for event in events:
            uuid = event.uuid
            if uuid and uuid not in uuids:
                uuids.append(uuid)
        commands = sent_commands(stem)
        jobs = []
        for message in raw_events(data):
            if isinstance(message, EslMessage) and message.job_uuid:
                jobs.append(message.job_uuid)
        sent_jobs = {m.group(0) for c in commands if "Job-UUID" in c for m in UUID_RE.finditer(c)}
        return cls(stem, data, commands, uuids, [j for j in jobs if j not in sent_jobs], events)

    def first(self, name: str, uuid: str | None = None) -> RawEvent:
        for event in self.events:
            if event.name == name and (uuid is None or event.uuid == uuid):
                return event
        raise KeyError(name)
