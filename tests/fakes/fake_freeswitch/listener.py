"""One Event Socket connection of the fake (inbound, or outbound for the ``socket`` app)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from . import wire
from .channels import Channel
from .events import Event

if TYPE_CHECKING:
    from .server import FakeFreeSwitch

# Events a ``myevents`` listener gets (mod_event_socket's session event list).
MYEVENTS = frozenset(
    "CHANNEL_ANSWER CHANNEL_APPLICATION CHANNEL_BRIDGE CHANNEL_CREATE CHANNEL_DATA "
    "CHANNEL_DESTROY CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE CHANNEL_HANGUP "
    "CHANNEL_HANGUP_COMPLETE CHANNEL_ORIGINATE CHANNEL_OUTGOING CHANNEL_PARK CHANNEL_PROGRESS "
    "CHANNEL_PROGRESS_MEDIA CHANNEL_STATE CHANNEL_UNBRIDGE CHANNEL_UNPARK DETECTED_SPEECH DTMF "
    "SESSION_HEARTBEAT".split()
)
_FORMATS = ("plain", "json", "xml")


class Listener:
    """Subscription state + command handling for one socket."""

    def __init__(
        self,
        fake: FakeFreeSwitch,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        session: Channel | None = None,
    ) -> None:
        self.fake = fake
        self.reader = reader
        self.writer = writer
        self.session = session  # outbound socket: the controlled channel
        self.authed = session is not None
        self.fmt = "plain"
        self.all_events = False
        self.events: set[str] = set()
        self.custom: set[str] = set()
        self.nixed: set[str] = set()
        self.filters: list[tuple[str, str]] = []
        self.myevents: str | None = None
        self.log_level: int | None = None
        self.linger: int | None = None
        self.hold = 0
        self.pending: list[bytes] = []
        self.closed = False
        self.detached = False
        self.received: list[str] = []  # command lines, for tests

    # -- output ---------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        if self.closed:
            return
        if self.hold:
            self.pending.append(data)
        else:
            self.writer.write(data)

    def reply(self, data: bytes) -> None:
        """A command's reply goes out before the events its execution produced."""
        if not self.closed:
            self.writer.write(data)

    def release(self) -> None:
        self.hold -= 1
        if self.hold == 0 and self.pending:
            data, self.pending = b"".join(self.pending), []
            if not self.closed:
                self.writer.write(data)

    def wants(self, event: Event) -> bool:
        if self.myevents is not None:
            if event.uuid != self.myevents or event.event_id not in MYEVENTS:
                return False
        elif not (self.all_events or event.event_id in self.events):
            return False
        if event.name == "CUSTOM" and not self.all_events and self.myevents is None:
            if self.custom and event.subclass not in self.custom:
                return False
        if event.name in self.nixed:
            return False
        if self.filters:
            return any(event.get(name) == value for name, value in self.filters)
        return True

    def deliver(self, event: Event) -> None:
        if self.authed and not self.detached and self.wants(event):
            self.write(wire.serialize_event(self.fmt, event.headers, event.body))
            if self.session is not None and event.name == "CHANNEL_HANGUP_COMPLETE":
                self.detached = True  # the socket app is done with the session

    def deliver_log(self, level: int, headers: list[tuple[str, str]], line: str) -> None:
        if self.log_level is not None and level <= self.log_level:
            self.write(wire.log_data(headers, line))

    async def close(self, notice: bytes | None = None) -> None:
        if self.closed:
            return
        if self.pending:
            self.writer.write(b"".join(self.pending))
            self.pending = []
        if notice is not None:
            self.writer.write(notice)
        self.closed = True
        with contextlib.suppress(Exception):
            await self.writer.drain()
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()

    # -- input ----------------------------------------------------------------------------

    async def run(self) -> None:
        try:
            if self.session is None:
                self.writer.write(wire.auth_request())
            while not self.closed:
                try:
                    block = await self.reader.readuntil(b"\n\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    break
                raw = block.decode("utf-8", "replace").lstrip("\n")
                text = raw.rstrip("\n")
                if not text:
                    continue
                lines = text.split("\n")
                headers = [tuple(line.split(": ", 1)) for line in lines[1:] if ": " in line]
                body = ""
                length = dict(headers).get("Content-Length")
                if length and length.isdigit():
                    body = (await self.reader.readexactly(int(length))).decode("utf-8", "replace")
                self.received.append(lines[0])
                self.hold += 1
                try:
                    await self.fake.handle_command(self, lines[0], headers, body, raw)  # type: ignore[arg-type]
                except Exception as exc:  # a bug in the fake: keep it visible to the test
                    self.fake.errors.append(exc)
                    self.reply(wire.command_reply(f"-ERR fake error: {exc!r}"))
                finally:
                    self.release()
                with contextlib.suppress(ConnectionError):
                    await self.writer.drain()
        finally:
            self.fake.listeners.discard(self)
            if not self.closed:
                self.closed = True
                self.writer.close()

    # -- subscription commands ---------------------------------------------------------------

    def subscribe(self, args: list[str]) -> bytes:
        if not args or args[0] not in _FORMATS:
            return wire.command_reply("-ERR invalid format")
        self.fmt = args[0]
        names = args[1:] or ["ALL"]
        custom = False
        for name in names:
            if name == "ALL":
                self.all_events = True
            elif custom:  # FreeSWITCH: every name after CUSTOM is a subclass
                self.custom.add(name)
            elif name == "CUSTOM":
                custom = True
                self.events.add(name)
            else:
                self.events.add(name)
            self.nixed.discard(name)
        return wire.command_reply(f"+OK event listener enabled {self.fmt}")

    def nix(self, args: list[str]) -> bytes:
        for name in args:
            if name in self.events:
                self.events.discard(name)
            else:
                self.nixed.add(name)
        return wire.command_reply("+OK events nixed")

    def noevents(self) -> bytes:
        self.all_events = False
        self.events.clear()
        self.custom.clear()
        self.nixed.clear()
        return wire.command_reply("+OK no longer listening for events")

    def filter(self, args: list[str]) -> bytes:
        if args and args[0] == "delete":
            header = args[1] if len(args) > 1 else ""
            value = " ".join(args[2:])
            if header == "all":
                self.filters.clear()
            else:
                self.filters = [
                    (h, v)
                    for h, v in self.filters
                    if not (h == header and (not value or v == value))
                ]
            return wire.command_reply(f"+OK filter deleted. [{header}][{value}]")
        if len(args) < 2:
            return wire.command_reply("-ERR invalid syntax")
        header, value = args[0], " ".join(args[1:])
        self.filters.append((header, value))
        return wire.command_reply(f"+OK filter added. [{header}]=[{value}]")
