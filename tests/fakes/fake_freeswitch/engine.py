"""The fake switch's core: channel registry, state transitions and their events.

Everything runs on one asyncio loop.  Methods that model something FreeSWITCH
does synchronously emit their events at once; things that take (media) time are
coroutines.  ``time_scale`` multiplies every media duration (0 = instant).

``list_lag`` models FreeSWITCH's core database, which ``show channels|calls`` read: it is
filled asynchronously, so a new channel is listed only ``list_lag[0]`` seconds after its
CHANNEL_CREATE (77-151 ms measured on FreeSWITCH 1.11), and a channel that hung up stays
listed ``list_lag[1]`` seconds after it is gone (``uuid_exists`` false), with the call
state it had before the hangup (e.g. ``ACTIVE``). Real seconds, not scaled.
"""

from __future__ import annotations

import asyncio
import time
import uuid as uuidlib
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

from .channels import CALLSTATE_NUMBERS, Channel, Profile, now_us
from .events import Event, EventFactory

Emit = Callable[[Event], None]
DEFAULT_LIST_LAG = (0.1, 0.3)  # seconds: (a new channel listed after, a gone one still listed)


class Engine:
    """Channels + event emission; the call flows live in the mixins built on it."""

    def __init__(
        self,
        factory: EventFactory,
        emit: Emit,
        *,
        time_scale: float = 0.0,
        list_lag: tuple[float, float] = DEFAULT_LIST_LAG,
    ) -> None:
        self.events = factory
        self._emit = emit
        self.time_scale = time_scale
        self.list_lag = list_lag
        self.channels: dict[str, Channel] = {}
        self.uuid_queue: deque[str] = deque()
        self.job_uuid_queue: deque[str] = deque()
        self.tasks: set[asyncio.Task[Any]] = set()
        self.session_counter = 0
        self.history: list[Event] = []

    # -- plumbing -----------------------------------------------------------------------

    def emit(self, event: Event) -> None:
        self.history.append(event)
        self._emit(event)

    def log(self, level: int, where: tuple[str, str, int], text: str, uuid: str = "") -> None:
        """A log line (the server sends it to listeners that asked for ``log``)."""

    def new_uuid(self) -> str:
        return self.uuid_queue.popleft() if self.uuid_queue else str(uuidlib.uuid4())

    def new_job_uuid(self) -> str:
        return self.job_uuid_queue.popleft() if self.job_uuid_queue else str(uuidlib.uuid4())

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def media_pause(self, seconds: float) -> None:
        """Let (scaled) media time pass; always yields to the loop."""
        await asyncio.sleep(max(0.0, seconds * self.time_scale))

    async def wait_hangup(self, *channels: Channel) -> None:
        """Until one of ``channels`` hangs up."""
        if any(not ch.alive for ch in channels):
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        for ch in channels:
            ch.hangup_waiters.append(waiter)
        try:
            await waiter
        finally:
            for ch in channels:
                ch.hangup_waiters.remove(waiter)

    def find(self, uuid: str) -> Channel | None:
        ch = self.channels.get(uuid.strip())
        return ch if ch is not None and not ch.gone else None

    # -- channel creation -----------------------------------------------------------------

    def create_channel(
        self,
        *,
        uuid: str | None,
        name: str,
        direction: str,
        profile: Profile,
        variables: dict[str, Any],
        **attrs: Any,
    ) -> Channel:
        uid = uuid or self.new_uuid()
        profile.unique_id = uid
        profile.channel_name = name
        self.session_counter += 1
        ch = Channel(uuid=uid, name=name, direction=direction, profile=profile, **attrs)
        ch.variables.update({"direction": direction, "uuid": uid, "call_uuid": uid})
        ch.variables["session_id"] = str(self.session_counter)
        ch.variables.update(variables)
        ch.created_mono = time.monotonic()
        self.channels[uid] = ch
        return ch

    def listed(self, ch: Channel) -> bool:
        """Whether ``show channels`` lists ``ch`` now (the core database lags, see above)."""
        now = time.monotonic()
        if now - ch.created_mono < self.list_lag[0]:
            return False
        return ch.gone_mono is None or now - ch.gone_mono < self.list_lag[1]

    # -- state changes ------------------------------------------------------------------

    def run_state(self, ch: Channel, state: str, *, number: str | None = None) -> None:
        """The state machine enters ``state`` (CHANNEL_STATE)."""
        ch.state = number or state
        ch.running_state = state
        self.emit(self.events.channel("CHANNEL_STATE", ch))

    def set_callstate(self, ch: Channel, callstate: str) -> None:
        original = ch.callstate
        ch.callstate = callstate
        pre = [
            ("Original-Channel-Call-State", original),
            ("Channel-Call-State-Number", str(CALLSTATE_NUMBERS[callstate])),
        ]
        self.emit(self.events.channel("CHANNEL_CALLSTATE", ch, pre=pre))

    def set_var(self, ch: Channel, name: str, value: Any) -> None:
        ch.variables.pop(name, None)  # FreeSWITCH re-adds a variable at the end
        ch.variables[name] = value

    def channel_event(self, name: str, ch: Channel, calling: str | None = None, **kw: Any) -> None:
        self.emit(self.events.channel(name, ch, calling, **kw))

    def codec_events(
        self, ch: Channel, *, real_read: bool = True, read_then_write: bool = False
    ) -> None:
        """CODEC events: read+write at media setup, one read event when the read codec changes.

        ``read_then_write``: a fresh channel setting its read codec, then its write codec
        (mod_loopback) -- the first event has no write codec yet.
        """
        ch.codec = True
        if read_then_write:
            ch.write_codec_set = False
        name, rate, bit_rate = ch.read_codec or ch.codec_spec
        read_post = [
            ("channel-read-codec-name", name),
            ("channel-read-codec-rate", rate),
            ("channel-read-codec-bit-rate", bit_rate),
        ]
        if real_read or read_then_write:
            calling = "CODEC_READ" if read_then_write else "CODEC_REAL_READ"
            self.channel_event("CODEC", ch, calling, post=read_post)
            ch.write_codec_set = True
            write_post = [
                ("Channel-Write-Codec-Name", name),
                ("Channel-Write-Codec-Rate", rate),
                ("Channel-Write-codec-bit-rate", bit_rate),
            ]
            self.channel_event("CODEC", ch, "CODEC_WRITE", post=write_post)
        else:
            self.channel_event("CODEC", ch, "CODEC_READ", post=read_post)

    def answer(self, ch: Channel) -> bool:
        """Mark answered (CHANNEL_ANSWER, then CALLSTATE -> ACTIVE); False if it already was."""
        if ch.answered:
            return False
        ch.answer_state = "answered"
        ch.profile.times["answered"] = now_us()
        self.set_var(ch, "endpoint_disposition", "ANSWER")
        self.channel_event("CHANNEL_ANSWER", ch)
        self.set_callstate(ch, "ACTIVE")
        return True

    def start_app(
        self,
        ch: Channel,
        app: str,
        data: str,
        app_uuid: str | None,
        *,
        calling: str = "CHANNEL_EXECUTE",
    ) -> list[tuple[str, str]]:
        """CHANNEL_EXECUTE; returns the application headers for the COMPLETE event."""
        if data:
            self.set_var(ch, "current_application_data", data)
        self.set_var(ch, "current_application", app)
        post = [("Application", app)]
        if data:
            post.append(("Application-Data", data))
        if app_uuid:
            post.append(("Application-UUID", app_uuid))
        self.channel_event("CHANNEL_EXECUTE", ch, calling, post=post)
        return post

    def complete_app(self, ch: Channel, post: list[tuple[str, str]], response: str) -> None:
        head = [item for item in post if item[0] != "Application-UUID"]
        tail = [item for item in post if item[0] == "Application-UUID"]
        self.set_var(ch, "current_application_response", response)
        self.channel_event(
            "CHANNEL_EXECUTE_COMPLETE", ch, post=[*head, ("Application-Response", response), *tail]
        )

    def mark_hangup(self, ch: Channel, cause: str) -> bool:
        """CHANNEL_HANGUP (first step of a hangup); False if already hung up."""
        if ch.hangup_cause or ch.gone:
            return False
        ch.hangup_cause = cause
        ch.listed_states = (ch.callstate, ch.running_state)  # the database's row lags
        for waiter in ch.hangup_waiters:
            if not waiter.done():
                waiter.set_result(None)
        ch.answer_state = "hangup"
        ch.state = "CS_HANGUP"
        ch.profile.times["hangup"] = now_us()
        self.set_var(ch, "hangup_cause", cause)
        self.channel_event("CHANNEL_HANGUP", ch)
        return True

    def hangup_states(self, ch: Channel) -> None:
        """CS_HANGUP + CALLSTATE HANGUP (second step)."""
        self.run_state(ch, "CS_HANGUP")
        self.set_callstate(ch, "HANGUP")

    def reporting(self, ch: Channel) -> None:
        """CS_REPORTING + CHANNEL_HANGUP_COMPLETE (third step)."""
        self.run_state(ch, "CS_REPORTING")
        pre = [("Hangup-Cause", ch.hangup_cause)]
        self.channel_event("CHANNEL_HANGUP_COMPLETE", ch, pre=pre)

    def destroy(self, ch: Channel) -> None:
        """CHANNEL_DESTROY + CS_DESTROY (last step)."""
        ch.state = "CS_DESTROY"
        self.channel_event("CHANNEL_DESTROY", ch)
        self.run_state(ch, "CS_DESTROY")
        ch.gone = True
        ch.gone_mono = time.monotonic()
        for waiter in ch.dtmf_waiters:
            if not waiter.done():
                waiter.cancel()
