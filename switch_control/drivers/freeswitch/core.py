"""What every part of the FreeSWITCH driver shares: the configuration and the link to the
switch (ESL client, event sink, background tasks, (re)connection) (SW-1, SW-4).

The driver is composed of small parts, each with one job (see ``driver``): ``table`` the
legs and bridges, ``ends`` end records and markers, ``events`` what every leg's events
mean, ``sync`` reconciliation, ``dialing`` originate and the queries, ``legs`` one-leg
operations, ``recording`` recordings, ``calls`` operations over several legs. The design
is in the package docstring.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ...callcontrol import EventSink
from ...contract import Event, HangupCause, SwitchConnected, SwitchDisconnected
from ...errors import CommandRejected, NoSuchCall, SwitchUnavailable
from ...protocols.esl import EslClient
from ...protocols.esl.errors import is_error_reply
from . import translate as tr
from .media import MediaConfig

logger = logging.getLogger(__name__)

# What the driver listens to (the client replays the subscription after reconnecting)
EVENTS = (
    "CHANNEL_CREATE CHANNEL_PROGRESS CHANNEL_PROGRESS_MEDIA CHANNEL_ANSWER CHANNEL_PARK "
    "CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE CHANNEL_HANGUP_COMPLETE DTMF RECORD_STOP "
    "BACKGROUND_JOB CUSTOM conference::maintenance sofia::register sofia::unregister "
    "sofia::expire"
)


def marker(leg_id: str) -> str:
    """Global variable the leg sets on the switch when it is created (``api_on_originate``)."""
    return "cc_leg_" + "".join(ch if ch.isalnum() else "_" for ch in leg_id)


def end_marker(leg_id: str) -> str:
    """Global variable the leg's hangup hook sets: ``<end epoch>:<Q.850 cause>``."""
    return "cc_end_" + marker(leg_id).removeprefix("cc_leg_")


@dataclass(frozen=True, slots=True)
class FreeSwitchConfig:
    agent_dial: str = "user/{ext}"  # the directory's dial-string finds the registration
    gateway_dial: str = "sofia/gateway/carrier/{number}"
    conference_profile: str = "threeway"
    hold_music: str = "local_stream://moh"
    media: MediaConfig = field(default_factory=MediaConfig)
    originate_wait: float = 10.0  # how long originate waits for the switch to create the leg
    marker_ttl: float = 300.0  # a leg's markers outlive it this long (late redeliveries)
    reconnect_initial: float = 0.5
    reconnect_max: float = 30.0
    # ``show channels`` lists a new leg up to ~150 ms late: after a (re)connection, legs
    # it did not list yet are adopted by a second look this much later
    list_settle: float = 0.5


async def _nothing(*_: Any) -> None:
    return None


class Switch:
    """The link to FreeSWITCH: ESL, configuration, the sink events go to, background
    tasks, and what each (re)connection does (subscribe, version, domain, then the
    ``reconcile`` and ``after_connected`` the driver plugs in)."""

    def __init__(self, esl: EslClient, config: FreeSwitchConfig) -> None:
        self.esl = esl
        self.config = config
        self.version = ""
        self.domain = ""
        self.reconcile: Callable[[], Awaitable[None]] = _nothing
        self.after_connected: Callable[[int], Awaitable[None]] = _nothing
        self._sink: EventSink | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._ready = asyncio.Event()
        self._handled_connection = 0
        self._connection_lock = asyncio.Lock()
        self._starter: asyncio.Task[None] | None = None
        self._closing = False
        esl.add_connection_handler(self._on_connection)

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    # ------------------------------------------------------------------ lifecycle
    async def start(self, sink: EventSink) -> None:
        self._sink = sink
        self._starter = asyncio.create_task(self._connect_loop(), name="freeswitch-connect")

    async def _connect_loop(self) -> None:
        """The first connection, retried with backoff (the client reconnects after that)."""
        delay = self.config.reconnect_initial
        while True:
            try:
                await self.esl.connect()
                break
            except (SwitchUnavailable, CommandRejected) as exc:  # refused, or bad password
                logger.warning("FreeSWITCH not reachable (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.config.reconnect_max)
        await self._connected()

    async def close(self) -> None:
        self._closing = True
        tasks = [t for t in (self._starter, *self._background) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.esl.close()

    async def wait_connected(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def emit(self, event: Event) -> None:
        if self._sink is not None:
            await self._sink(event)

    def spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _on_connection(self, up: bool) -> None:
        if up:
            await self._connected()
        elif self._ready.is_set() and not self._closing:
            self._ready.clear()
            logger.warning("lost the event socket of FreeSWITCH")
            await self.emit(SwitchDisconnected(switch="freeswitch", reason="connection lost"))

    async def _connected(self) -> None:
        """Once per (re)connection: subscribe, read the version, reconcile, announce."""
        async with self._connection_lock:
            count = self.esl.connection_count
            if count == self._handled_connection or not self.esl.connected:
                return
            self._handled_connection = count
            try:
                if not self.esl.subscriptions.events:  # later connections: replayed
                    await self.esl.subscribe(EVENTS, fmt="json")
                words = (await self.esl.api("version")).split()
                self.version = words[2] if words[:2] == ["FreeSWITCH", "Version"] else ""
                self.domain = await self.global_var("domain")
                await self.reconcile()
            except (SwitchUnavailable, CommandRejected, ValueError) as exc:
                logger.warning("FreeSWITCH connection setup failed: %s", exc)
                return
            self._ready.set()
            logger.info("connected to FreeSWITCH %s", self.version)
            await self.emit(SwitchConnected(switch="freeswitch", version=self.version))
            self.spawn(self.after_connected(count))

    # ------------------------------------------------------------------ asking the switch
    async def exists(self, leg_id: str) -> bool:
        """Whether the switch has that channel now (``uuid_exists``: the core, no lag)."""
        return (await self.esl.api(f"uuid_exists {leg_id}", check=False)).strip() == "true"

    async def global_var(self, name: str) -> str:
        """A global variable of the switch; ``""`` when it is unset (FreeSWITCH answers
        ``-ERR no reply`` for an api command with no output)."""
        value = (await self.esl.api(f"global_getvar {name}", check=False)).strip()
        return "" if is_error_reply(value) else value

    async def leg_api(self, leg_id: str, command: str) -> str:
        """An api command on a leg; an error reply for a leg that no longer exists (some
        commands just say ``-ERROR``) is ``NoSuchCall``."""
        try:
            return await self.esl.api(command)
        except CommandRejected as exc:
            gone = await self.esl.api(f"uuid_exists {leg_id}", check=False)
            if gone.strip() == "false":
                raise NoSuchCall(f"no such leg {leg_id}") from exc
            raise

    async def quiet_hangup(self, leg_id: str, cause: HangupCause) -> None:
        try:
            await self.esl.api(f"uuid_kill {leg_id} {tr.fs_cause(cause)}")
        except (NoSuchCall, CommandRejected, SwitchUnavailable):
            pass

    def now(self) -> float:
        return time.monotonic()

    def new_id(self) -> str:
        return uuid.uuid4().hex
