"""The fake FreeSWITCH: an asyncio Event Socket server on 127.0.0.1 plus test controls."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid as uuidlib
from collections.abc import Callable, Coroutine
from typing import Any

from . import (
    api_calls,  # noqa: F401 - registers the call-control api commands
    api_platform,  # noqa: F401 - registers what the call-center driver uses beyond the captures
    wire,
)
from .channels import Channel
from .control import TestControls
from .engine import DEFAULT_LIST_LAG
from .events import Event, EventFactory
from .listener import Listener

DEFAULT_CORE_UUID = "87bbbdeb-0075-4403-8a2c-dd0a16b25052"
NO_REPLY = "-ERR no reply\n"  # mod_event_socket's answer to an api command with no output


class FakeFreeSwitch(TestControls):
    """A FreeSWITCH 1.11 look-alike on the Event Socket (inbound ESL on 127.0.0.1).

    ``async with FakeFreeSwitch() as fs:`` then connect to ``fs.port`` (password
    ``ClueCon``).  It models channels, bridges, conferences and registrations, and
    answers the commands of the captures (auth, event/nixevent/noevents/filter,
    log/nolog, linger, myevents, divert_events, api/bgapi, sendmsg, exit) with the
    replies, event sequences, header names/order and url-encoding FreeSWITCH uses.

    api: status, version, hostname, global_getvar, eval, show channels|calls
    [count] [as json], show registrations [as json], sofia status [profile lab reg],
    uuid_answer, uuid_kill, uuid_bridge, uuid_transfer [-both|-bleg], uuid_hold
    [off|toggle], uuid_record start|stop, uuid_broadcast, uuid_recv_dtmf,
    uuid_dump [json], uuid_exists, uuid_getvar, uuid_setvar, uuid_park, hupall,
    originate (user/N, sofia/..., error/..., loopback/...; {vars}; &app(args) or
    exten [dialplan] [context]), conference list|json_list|NAME list|mute|unmute|
    hup|kick.  sendmsg execute runs answer, hangup, park, playback,
    play_and_get_digits, conference, eavesdrop (others just complete).

    Test controls (what SIPp did in the lab):

    * ``inbound_call(caller, callee, caller_name=..., port=...)`` -> Channel: a call
      runs the lab dialplan (``9999`` tone+hangup, ``conf-NAME``, ``sock`` outbound
      socket to ``outbound_target``, anything else park);
    * ``agent_register(user)`` / ``agent_unregister(user)``;
    * ``set_endpoint(user_or_host, "answer"|"busy"|"no_answer"|"reject"|"ring")``,
      ``answer_ringing(key)`` for ``ring``;
    * ``send_dtmf(uuid, digits)``, ``hangup(uuid, cause)`` (far end hangs up),
      ``fail_media(uuid)`` (next uuid_answer fails like an RTP bind error);
    * ``heartbeat()``, ``drop_connections()``, ``pause()`` / ``start(port)``;
    * ``queue_uuids``, ``queue_job_uuids``, ``next_member_id``,
      ``conference_presence_counts`` to replay a capture with its identifiers.

    ``time_scale`` multiplies media/ringing durations (0: instant).  ``list_lag``
    (seconds, on by default like the real switch): ``show channels`` lists a new channel
    that long after its creation, and a gone one that long after it went (see
    ``engine``).  ``errors`` collects exceptions raised inside the fake (tests assert it
    stays empty).

    Like FreeSWITCH: originate ``{...}`` variables whose value contains ``${`` are
    dropped with a CRIT log line (unless ``origination_nested_vars=true``); an api
    command with no output answers ``-ERR no reply`` (``global_getvar`` of an unset
    variable); a hook (``api_reporting_hook``) runs with an event of its own, with no
    ``Event-Name``, carrying the channel's variables and ``API-Command``.
    """

    def __init__(
        self,
        *,
        password: str = "ClueCon",  # noqa: S107 - FreeSWITCH's default, a fake
        core_uuid: str = DEFAULT_CORE_UUID,
        hostname: str = "vm",
        time_scale: float = 0.0,
        first_sequence: int = 1,
        list_lag: tuple[float, float] = DEFAULT_LIST_LAG,
    ) -> None:
        factory = EventFactory(core_uuid, hostname=hostname, first_sequence=first_sequence)
        super().__init__(factory, self._broadcast, time_scale=time_scale, list_lag=list_lag)
        self.password = password
        self.listeners: set[Listener] = set()
        self.registrations = {}
        self.endpoints = {}
        self.conferences = {}
        self.next_member_id = 1  # conference member ids are global in FreeSWITCH
        self.conference_presence_counts = {}
        self.presence_counts = {}
        self.global_vars = {
            "hold_music": "tone_stream://%(2000,4000,440,480);loops=-1",
            "domain": "127.0.0.1",
        }
        self.started = time.monotonic()
        self.server: asyncio.Server | None = None
        self.port = 0
        self.outbound_target: tuple[str, int] | None = None
        self.app_locks: dict[str, asyncio.Lock] = {}
        self.connection_tasks: set[asyncio.Task[Any]] = set()
        self.errors: list[BaseException] = []  # exceptions inside the fake (tests assert none)
        self.conference_record_paths = {}  # conference uuid -> path -> recording
        self.record_started = {}  # (channel uuid, path) -> start (uuid_record)

    # -- server ---------------------------------------------------------------------------

    async def start(self, port: int = 0) -> FakeFreeSwitch:
        """Listen on 127.0.0.1 (``port`` 0: a free one, see ``self.port``)."""
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", port)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def pause(self) -> None:
        """Stop accepting and drop every connection (FreeSWITCH down); ``start(port)`` resumes."""
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None
        await self.drop_connections()

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
        await self.drop_connections()
        if self.connection_tasks:
            await asyncio.wait(list(self.connection_tasks), timeout=2)
        for task in list(self.tasks):
            task.cancel()
        for task in list(self.tasks):
            with contextlib.suppress(BaseException):
                await task
        if self.server is not None:
            with contextlib.suppress(Exception):
                await self.server.wait_closed()

    async def __aenter__(self) -> FakeFreeSwitch:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        listener = Listener(self, reader, writer)
        self.listeners.add(listener)
        task = asyncio.current_task()
        if task is not None:
            self.connection_tasks.add(task)
        try:
            await listener.run()
        finally:
            if task is not None:
                self.connection_tasks.discard(task)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = super().spawn(coro)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.errors.append(task.exception())  # type: ignore[arg-type]

    def _broadcast(self, event: Event) -> None:
        for listener in list(self.listeners):
            listener.deliver(event)

    def log(self, level: int, where: tuple[str, str, int], text: str, uuid: str = "") -> None:
        """A log line for listeners that asked for ``log <level>``."""
        names = {1: "ALERT", 2: "CRIT", 3: "ERR", 4: "WARNING", 5: "NOTICE", 6: "INFO", 7: "DEBUG"}
        stamp = (
            time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
            + f".{int(time.time() * 1e6) % 1_000_000:06d}"
        )
        line = f"{stamp} 99.00% [{names.get(level, 'DEBUG')}] {where[0]}:{where[2]} {text}\n"
        headers = [
            ("Log-Level", str(level)),
            ("Text-Channel", "3"),
            ("Log-File", where[0]),
            ("Log-Func", where[1]),
            ("Log-Line", str(where[2])),
            ("User-Data", uuid),
        ]
        for listener in list(self.listeners):
            listener.deliver_log(level, headers, line)

    def emit(self, event: Event) -> None:
        super().emit(event)
        if event.name == "CHANNEL_CREATE":
            name, uuid = event.get("Channel-Name") or "", event.uuid
            self.log(
                5,
                ("switch_channel.c", "switch_channel_set_name", 1143),
                f"New Channel {name} [{uuid}]",
                uuid,
            )
        elif event.name == "CHANNEL_ANSWER":
            name = event.get("Channel-Name") or ""
            self.log(
                5,
                ("switch_channel.c", "switch_channel_perform_mark_answered", 3914),
                f"Channel [{name}] has been answered",
                event.uuid,
            )
        elif event.name == "CHANNEL_HANGUP":
            name, cause = event.get("Channel-Name") or "", event.get("Hangup-Cause") or ""
            self.log(
                5,
                ("switch_channel.c", "switch_channel_perform_hangup", 3432),
                f"Hangup {name} [CS_EXECUTE] [{cause}]",
                event.uuid,
            )
        elif event.name == "CHANNEL_DESTROY":
            name = event.get("Channel-Name") or ""
            self.log(
                5,
                ("switch_core_session.c", "switch_core_session_perform_destroy", 1766),
                f"Close Channel {name} [CS_DESTROY]",
                event.uuid,
            )

    # -- command dispatch -------------------------------------------------------------------

    async def handle_command(
        self,
        conn: Listener,
        line: str,
        headers: list[tuple[str, str]],
        body: str,
        raw: str,
    ) -> None:
        cmd, _, rest = line.partition(" ")
        args = rest.split()
        if not conn.authed:
            if cmd == "auth" and rest == self.password:
                conn.authed = True
                conn.reply(wire.command_reply("+OK accepted"))
            elif cmd == "auth":
                conn.reply(wire.command_reply("-ERR invalid"))
                await conn.close(wire.disconnect_notice())
            else:
                conn.reply(wire.command_reply("-ERR command not found"))
            return
        simple: dict[str, Callable[[], bytes]] = {
            "event": lambda: conn.subscribe(args),
            "nixevent": lambda: conn.nix(args),
            "noevents": conn.noevents,
            "filter": lambda: conn.filter(args),
        }
        if cmd in simple:
            conn.reply(simple[cmd]())
        elif cmd == "api":
            conn.reply(wire.api_response(await self.run_api(rest) or NO_REPLY))
        elif cmd == "bgapi":
            job = dict(headers).get("Job-UUID") or self.new_job_uuid()
            conn.reply(wire.command_reply(f"+OK Job-UUID: {job}", [("Job-UUID", job)]))
            self.spawn(self.run_api(rest, job))
        elif cmd == "sendmsg":
            conn.reply(self.sendmsg(conn, rest.strip(), headers, raw))
        elif cmd == "exit":
            conn.reply(wire.command_reply("+OK bye"))
            session = (conn.session.uuid, conn.session.name) if conn.session else None
            await conn.close(wire.disconnect_notice(session=session))
        else:
            conn.reply(self.session_command(conn, cmd, args))

    def session_command(self, conn: Listener, cmd: str, args: list[str]) -> bytes:
        reply = wire.command_reply
        if cmd == "log":
            level = int(args[0]) if args and args[0].isdigit() else 7
            conn.log_level = level
            return reply(f"+OK log level {level} [{level}]")
        if cmd == "nolog":
            conn.log_level = None
            return reply("+OK no longer logging")
        if cmd == "linger":
            conn.linger = int(args[0]) if args and args[0].isdigit() else 600
            return reply(f"+OK will linger {conn.linger} seconds")
        if cmd == "nolinger":
            conn.linger = None
            return reply("+OK will not linger")
        if cmd == "divert_events":
            return reply("-ERR not controlling a session.")
        if cmd == "myevents":
            uuid = conn.session.uuid if conn.session else (args[0] if args else "")
            fmt = [a for a in args if a in ("plain", "json", "xml")]
            if not uuid or self.find(uuid) is None:
                return reply("-ERR invalid uuid")
            conn.myevents, conn.fmt = uuid, (fmt[0] if fmt else "plain")
            return reply("+OK Events Enabled")
        if cmd == "getvar" and conn.session is not None:
            return reply(conn.session.get_var(args[0]) or "" if args else "")
        if cmd == "connect" and conn.session is not None:
            return self.connect_reply(conn.session)
        return reply("-ERR command not found")

    def sendmsg(self, conn: Listener, uuid: str, headers: list[tuple[str, str]], raw: str) -> bytes:
        ch = self.find(uuid) if uuid else conn.session
        if ch is None or not ch.alive:
            return wire.command_reply(f"-ERR invalid session id [{uuid}]")
        fields = dict(headers)
        command = fields.get("call-command", "")
        if command == "hangup":
            cause = fields.get("hangup-cause", "NORMAL_CLEARING")
            self.spawn(self._later(lambda: self.remote_hangup(ch, cause)))
        elif command == "execute":
            app = fields.get("execute-app-name", "")
            arg = fields.get("execute-app-arg", "")
            loops = int(fields["loops"]) if fields.get("loops", "").isdigit() else 1
            lock = None
            if fields.get("event-lock", "").lower() == "true":
                lock = [("Command", raw), *headers]
            app_uuid = fields.get("Event-UUID") or str(uuidlib.uuid4())
            self.spawn(self._queued_app(ch, app, arg, app_uuid, loops, lock, ch.flushes))
        return wire.command_reply("+OK")

    async def _later(self, action: Callable[[], object]) -> None:
        await asyncio.sleep(0)
        action()

    async def _queued_app(
        self,
        ch: Channel,
        app: str,
        arg: str,
        app_uuid: str,
        loops: int,
        lock: list[tuple[str, str]] | None,
        flushes: int = 0,
    ) -> None:
        async with self.app_locks.setdefault(ch.uuid, asyncio.Lock()):
            if ch.flushes != flushes:  # ``uuid_break <uuid> all`` dropped the queue
                return
            for _ in range(loops):
                await self.run_app(ch, app, arg, app_uuid, lock_headers=lock)
            self.finish_if_hung_up(ch)
