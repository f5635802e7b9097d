"""The controller's command dispatcher: handlers registered by command type (issue 13).

Switch commands go to the executor; a feature (the ACD runtime, later the IVR runtime)
registers its own command types when it is composed into the daemon (STYLE.md "Feature
packages in the controller"), so a new command type never falls into "not supported by
the driver". A type nobody registered gets a ``CommandFailed`` that says so.

Ordering (DESIGN.md "One call's commands run in order; different calls' run
concurrently"): every command has an ordering key (its call, else the call of the leg it
names, else what it is about), and runs under that key's lock, the same lock the
controller's own decisions take (``Controller._run_batch``), so a bus command never runs
in the middle of the controller's own batch for that call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from . import contract as c

logger = logging.getLogger(__name__)

CommandHandler = Callable[[c.Command, bool], Awaitable[None]]
"""``handler(command, in_flight)``: ``in_flight`` when a previous process died handling
it (see the ledger in ``bus.consumer``). Failures are reported as ``CommandFailed``
events by the handler; ``SwitchUnavailable`` and Redis errors propagate (retried)."""

Emit = Callable[[c.Event], Awaitable[None]]
LegToCall = Callable[[str], str]

# fields naming a leg, in the order that decides which call a command is about
_LEG_FIELDS = ("leg_id", "agent_leg_id", "ringing_leg_id")


class KeyedLocks:
    """One ``asyncio.Lock`` per key, dropped when nobody holds or waits for it (a lock
    per call would otherwise outlive every call). FIFO per key, as ``asyncio.Lock``."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, list[int]]] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        entry = self._locks.get(key)
        if entry is None:
            entry = self._locks[key] = (asyncio.Lock(), [0])
        lock, users = entry
        users[0] += 1
        try:
            async with lock:
                yield
        finally:
            users[0] -= 1
            if users[0] == 0 and self._locks.get(key) is entry:
                del self._locks[key]

    def __len__(self) -> int:
        return len(self._locks)

    def busy(self, key: str) -> bool:
        return key in self._locks


@dataclass(frozen=True, slots=True)
class _Entry:
    handler: CommandHandler
    owner: str  # who registered it (for the log and the refusal's reason)


class Dispatcher:
    """Command type -> handler, with per-key ordering."""

    def __init__(self, emit: Emit, leg_to_call: LegToCall | None = None) -> None:
        self.emit = emit
        self.leg_to_call = leg_to_call or (lambda leg: leg)
        self.locks = KeyedLocks()
        self._handlers: dict[str, _Entry] = {}

    def register(
        self, types: Iterable[type[c.Command]], handler: CommandHandler, *, owner: str
    ) -> None:
        """Route these command types to ``handler``. A type has one handler: registering
        it twice is a wiring mistake and raises."""
        for cls in types:
            taken = self._handlers.get(cls.TYPE)
            if taken is not None:
                raise ValueError(f"{cls.TYPE} is already handled by {taken.owner}")
            self._handlers[cls.TYPE] = _Entry(handler, owner)

    def handles(self, type_name: str) -> bool:
        return type_name in self._handlers

    def key_of(self, cmd: c.Message) -> str:
        """The ordering key: the call the command is about (``call_id``, else the call of
        the leg it names), else its agent (``agent:<id>``) or queue, else one shared key."""
        call_id = getattr(cmd, "call_id", "")
        if isinstance(call_id, str) and call_id:
            return call_id
        for name in _LEG_FIELDS:
            leg = getattr(cmd, name, "")
            if isinstance(leg, str) and leg:
                return self.leg_to_call(leg)
        legs = getattr(cmd, "leg_ids", ())
        if legs and isinstance(legs[0], str):
            return self.leg_to_call(legs[0])
        for name, prefix in (("agent_id", "agent:"), ("queue_id", "queue:"), ("name", "rec:")):
            value = getattr(cmd, name, "")
            if isinstance(value, str) and value:
                return prefix + value
        return "-"

    async def dispatch(self, message: c.Message, in_flight: bool) -> None:
        """Run one bus command under its key's lock (the consumer's handler)."""
        if not isinstance(message, c.Command):  # the consumer decodes commands only
            raise TypeError(f"{message.TYPE} is not a command")
        entry = self._handlers.get(message.TYPE)
        if entry is None:
            await self._refuse(message)
            return
        async with self.locks.hold(self.key_of(message)):
            await entry.handler(message, in_flight)

    async def _refuse(self, cmd: c.Command) -> None:
        reason = f"no handler for {cmd.TYPE} in this controller"
        logger.warning("%s %s refused: %s", cmd.TYPE, cmd.id, reason)
        await self.emit(
            c.CommandFailed(
                command_id=cmd.id, command_type=cmd.TYPE, error="UnknownCommand", reason=reason
            )
        )
