"""Client-side bookkeeping: ``bgapi`` jobs and the subscription state replayed on reconnect."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from .errors import error_for_reply
from .message import EslEvent

__all__ = ["BackgroundJob", "Subscriptions"]


class BackgroundJob:
    """A ``bgapi`` command accepted by FreeSWITCH; its result arrives as a BACKGROUND_JOB event."""

    __slots__ = ("_future", "command", "job_uuid", "reply")

    def __init__(self, job_uuid: str, command: str, future: asyncio.Future[EslEvent]) -> None:
        self.job_uuid = job_uuid
        self.command = command
        self.reply = ""
        self._future = future

    def done(self) -> bool:
        return self._future.done()

    @property
    def event(self) -> EslEvent | None:
        """The BACKGROUND_JOB event, once it arrived."""
        if self._future.done() and not self._future.cancelled() and not self._future.exception():
            return self._future.result()
        return None

    async def wait(self, timeout: float | None = None) -> EslEvent:
        """The BACKGROUND_JOB event (raises ``TimeoutError`` or a connection error)."""
        return await asyncio.wait_for(asyncio.shield(self._future), timeout)

    async def result(self, timeout: float | None = None, *, check: bool = True) -> str:
        """The job's output (the event body); with ``check``, ``-ERR``... raise mapped errors."""
        event = await self.wait(timeout)
        text = event.body or ""
        if check:
            error = error_for_reply(self.command, text)
            if error is not None:
                raise error
        return text

    def __repr__(self) -> str:
        state = "done" if self.done() else "pending"
        return f"<BackgroundJob {self.job_uuid} {self.command[:40]!r} {state}>"


@dataclass
class Subscriptions:
    """What the client asked FreeSWITCH to send, so that it can be asked again after a reconnect."""

    fmt: str | None = None
    events: list[str] = field(default_factory=list)
    custom: list[str] = field(default_factory=list)  # CUSTOM subclasses (sofia::register...)
    nixed: list[str] = field(default_factory=list)
    filters: list[tuple[str, str]] = field(default_factory=list)
    myevents: str | None = None  # the myevents command line, if any
    log_level: str | None = None

    def add_events(self, fmt: str, names: list[str]) -> None:
        """Record ``event <fmt> <names>`` (as FreeSWITCH: names after CUSTOM are subclasses)."""
        self.fmt = fmt
        custom = False
        for name in names or ["ALL"]:
            if custom:
                if name not in self.custom:
                    self.custom.append(name)
                continue
            if name in self.nixed:
                self.nixed.remove(name)
            if name == "CUSTOM":
                custom = True
            elif name not in self.events:
                self.events.append(name)

    def covers(self, name: str) -> bool:
        return name not in self.nixed and ("ALL" in self.events or name in self.events)

    def nix(self, names: list[str]) -> None:
        for name in names:
            if name in self.events:
                self.events.remove(name)
            elif "ALL" in self.events and name not in self.nixed:
                self.nixed.append(name)

    def clear_events(self) -> None:
        self.events.clear()
        self.custom.clear()
        self.nixed.clear()

    def add_filter(self, header: str, value: str) -> None:
        if (header, value) not in self.filters:
            self.filters.append((header, value))

    def delete_filter(self, header: str, value: str | None) -> None:
        if header == "all":
            self.filters.clear()
            return
        self.filters[:] = [
            (h, v) for h, v in self.filters if not (h == header and (value is None or v == value))
        ]

    def replay(self) -> list[str]:
        """The commands restoring this state on a fresh connection, in order."""
        commands: list[str] = []
        names = self.events + (["CUSTOM", *self.custom] if self.custom else [])
        if names and self.fmt:
            commands.append(f"event {self.fmt} {' '.join(names)}")
        if self.nixed:
            commands.append("nixevent " + " ".join(self.nixed))
        commands.extend(f"filter {header} {value}" for header, value in self.filters)
        if self.myevents:
            commands.append(self.myevents)
        if self.log_level is not None:
            commands.append(f"log {self.log_level}")
        return commands
