"""asyncio client for the FreeSWITCH Event Socket, inbound mode (we connect to FreeSWITCH).

* Replies are matched to commands in order (FIFO of futures): FreeSWITCH answers
  every command, in the order received, with one ``command/reply`` or ``api/response``.
* ``bgapi`` sends its own ``Job-UUID`` so the result future exists before the
  ``BACKGROUND_JOB`` event can arrive.
* Events go to the registered handlers, in arrival order, from one dispatcher task
  (a handler may be a coroutine function; it may itself send commands).
* When an established connection drops, the client reconnects with capped
  exponential backoff and replays the subscriptions (``event``, ``nixevent``,
  ``filter``, ``myevents``, ``log``).  Commands issued while disconnected, and the
  ones in flight when the connection dropped, fail with ``SwitchUnavailable``.
* ``-ERR ...`` replies raise ``NoSuchCall`` / ``OriginateFailed`` /
  ``CommandRejected`` (see :func:`.errors.error_for_reply`).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import uuid
from collections import deque
from collections.abc import Awaitable, Callable

from switch_control.errors import SwitchUnavailable

from .client_commands import EslCommandsMixin
from .commands import encode_command
from .errors import EslAuthenticationError, EslProtocolError, connection_error, error_for_reply
from .jobs import BackgroundJob, Subscriptions
from .message import CT_AUTH_REQUEST, CT_DISCONNECT_NOTICE, CT_LOG_DATA, EslEvent, EslMessage
from .parser import EslParser

__all__ = ["EslClient", "EventHandler", "LogHandler"]

logger = logging.getLogger(__name__)

EventHandler = Callable[[EslEvent], Awaitable[None] | None]
LogHandler = Callable[[EslMessage], Awaitable[None] | None]
ConnectionHandler = Callable[[bool], Awaitable[None] | None]
Sleep = Callable[[float], Awaitable[None]]


class EslClient(EslCommandsMixin):
    """Inbound ESL connection with reconnect; see the module docstring."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8021,
        password: str = "ClueCon",  # noqa: S107 - FreeSWITCH's documented default
        *,
        connect_timeout: float = 5.0,
        command_timeout: float = 30.0,
        reconnect: bool = True,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        backoff_factor: float = 2.0,
        sleep: Sleep = asyncio.sleep,
        parser_factory: Callable[[], EslParser] = EslParser,
    ) -> None:
        self.host, self.port = host, port
        self._password = password
        self.connect_timeout, self.command_timeout = connect_timeout, command_timeout
        self.reconnect = reconnect
        self.backoff_initial, self.backoff_max = backoff_initial, backoff_max
        self.backoff_factor = backoff_factor
        self._sleep, self._parser_factory = sleep, parser_factory
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._pending: deque[tuple[str, asyncio.Future[EslMessage]]] = deque()
        self._jobs: dict[str, tuple[BackgroundJob, asyncio.Future[EslEvent]]] = {}
        self._event_handlers: list[EventHandler] = []
        self._log_handlers: list[LogHandler] = []
        self._connection_handlers: list[ConnectionHandler] = []
        self._queue: asyncio.Queue[tuple[Callable[..., object], object]] = asyncio.Queue()
        self._reader_task: asyncio.Task[None] | None = None
        self._dispatcher: asyncio.Task[None] | None = None
        self._reconnect_task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._closing = False
        self.subscriptions = Subscriptions()
        self.connection_count = 0  # successful (re)connections so far

    # -- registration -----------------------------------------------------------------

    def add_event_handler(self, handler: EventHandler) -> None:
        self._event_handlers.append(handler)

    def remove_event_handler(self, handler: EventHandler) -> None:
        self._event_handlers.remove(handler)

    def add_log_handler(self, handler: LogHandler) -> None:
        """Handlers of ``log/data`` messages (after ``log <level>``)."""
        self._log_handlers.append(handler)

    def add_connection_handler(self, handler: ConnectionHandler) -> None:
        """Called with ``True`` after each (re)connection+resubscription, ``False`` on loss."""
        self._connection_handlers.append(handler)

    # -- connection -------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def wait_connected(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(self._connected.wait(), timeout)

    async def connect(self) -> None:
        """Connect and authenticate (one attempt; raises ``SwitchUnavailable``/auth errors)."""
        self._closing = False
        if self._dispatcher is None or self._dispatcher.done():
            self._dispatcher = asyncio.create_task(self._dispatch_loop(), name="esl-dispatch")
        try:
            await self._open()
        except BaseException:
            self._dispatcher.cancel()
            raise
        self._connected.set()
        self._notify_connection(True)

    async def close(self) -> None:
        """Say ``exit`` (if connected), stop reconnecting and release everything."""
        self._closing = True
        if self._reconnect_task is not None:
            self._reconnect_task.cancel()
        if self.connected:
            with contextlib.suppress(Exception):
                await self.send("exit", timeout=2.0)
        self._drop_connection(connection_error("client closed"))
        for task in (self._reader_task, self._dispatcher, self._reconnect_task):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def __aenter__(self) -> EslClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _open(self) -> None:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), self.connect_timeout
            )
        except (OSError, TimeoutError) as exc:
            raise connection_error(f"cannot connect to {self.host}:{self.port}", exc) from exc
        self._reader, self._writer = reader, writer
        parser = self._parser_factory()
        greeted = asyncio.get_running_loop().create_future()
        self._reader_task = asyncio.create_task(self._read_loop(reader, parser, greeted))
        try:
            await asyncio.wait_for(asyncio.shield(greeted), self.connect_timeout)
            logger.debug("ESL send auth <password>")
            reply = await self._command(encode_command(f"auth {self._password}"), "auth")
        except (TimeoutError, SwitchUnavailable) as exc:
            self._drop_connection(connection_error("no auth/request greeting", exc))
            raise connection_error(f"handshake with {self.host}:{self.port} failed", exc) from exc
        if not reply.result_text.startswith("+OK"):
            self._drop_connection(connection_error("authentication failed"))
            raise EslAuthenticationError(f"auth <password>: {reply.result_text}")
        self.connection_count += 1
        logger.info("ESL connected to %s:%s", self.host, self.port)

    def _drop_connection(self, error: SwitchUnavailable) -> None:
        was_connected = self.connected
        self._connected.clear()
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
        while self._pending:
            _, future = self._pending.popleft()
            if not future.done():
                future.set_exception(error)
        for job, job_future in self._jobs.values():
            if not job_future.done():
                job_future.set_exception(connection_error(f"lost before job {job.job_uuid}"))
        self._jobs.clear()
        if was_connected:
            self._notify_connection(False)

    def _connection_lost(self, error: SwitchUnavailable) -> None:
        was_connected = self.connected
        self._drop_connection(error)
        if self._closing or not was_connected:
            return  # a failed handshake or reconnect attempt is retried by its caller
        logger.warning("ESL connection to %s:%s lost: %s", self.host, self.port, error)
        if self.reconnect and (self._reconnect_task is None or self._reconnect_task.done()):
            self._reconnect_task = asyncio.create_task(self._reconnect_loop())

    async def _reconnect_loop(self) -> None:
        delay = self.backoff_initial
        attempt = 0
        while not self._closing:
            await self._sleep(delay)
            attempt += 1
            try:
                await self._open()
                for line in self.subscriptions.replay():
                    await self._checked(line)
            except Exception as exc:  # any failure: back off and try again
                logger.warning("ESL reconnect attempt %d failed: %s", attempt, exc)
                self._drop_connection(connection_error("reconnect failed", exc))
                delay = min(delay * self.backoff_factor, self.backoff_max)
                continue
            logger.info("ESL reconnected after %d attempt(s)", attempt)
            self._connected.set()
            self._notify_connection(True)
            return

    # -- reading ----------------------------------------------------------------------

    async def _read_loop(
        self, reader: asyncio.StreamReader, parser: EslParser, greeted: asyncio.Future[None]
    ) -> None:
        error = connection_error("connection closed by FreeSWITCH")
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                try:
                    messages = parser.feed(data)
                except EslProtocolError as exc:
                    for message in exc.messages:
                        self._handle(message, greeted)
                    logger.error("ESL protocol error, dropping the connection: %s", exc)
                    error = connection_error("protocol error", exc)
                    break
                for message in messages:
                    self._handle(message, greeted)
        except (OSError, ConnectionError) as exc:
            error = connection_error("read failed", exc)
        finally:
            if not greeted.done():
                greeted.set_exception(error)
                greeted.exception()  # mark retrieved
            if self._reader is reader:
                self._connection_lost(error)

    def _handle(self, message: EslMessage, greeted: asyncio.Future[None]) -> None:
        event = message.event
        if event is not None:
            if event.name == "BACKGROUND_JOB":
                entry = self._jobs.pop(event.job_uuid or "", None)
                if entry is not None and not entry[1].done():
                    entry[1].set_result(event)
            for handler in self._event_handlers:
                self._queue.put_nowait((handler, event))
            return
        if message.is_reply:
            if not self._pending:
                logger.warning("ESL reply without a pending command: %r", message)
                return
            _, future = self._pending.popleft()
            if not future.done():
                future.set_result(message)
            return
        ctype = message.content_type
        if ctype == CT_AUTH_REQUEST:
            if not greeted.done():
                greeted.set_result(None)
        elif ctype == CT_LOG_DATA:
            for log_handler in self._log_handlers:
                self._queue.put_nowait((log_handler, message))
        elif ctype == CT_DISCONNECT_NOTICE:
            logger.info("ESL disconnect notice (%s)", message.headers.get("Content-Disposition"))
        else:
            logger.warning("ESL unexpected message %r", message)

    async def _dispatch_loop(self) -> None:
        while True:
            handler, item = await self._queue.get()
            try:
                result = handler(item)
                if inspect.isawaitable(result):
                    await result
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("ESL handler %r failed", handler)

    def _notify_connection(self, up: bool) -> None:
        for handler in self._connection_handlers:
            self._queue.put_nowait((handler, up))

    # -- commands ---------------------------------------------------------------------

    async def _command(
        self, payload: bytes, label: str, timeout: float | None = None
    ) -> EslMessage:
        writer = self._writer
        if writer is None or writer.is_closing():
            raise SwitchUnavailable(f"not connected to FreeSWITCH ({label})")
        future: asyncio.Future[EslMessage] = asyncio.get_running_loop().create_future()
        self._pending.append((label, future))
        writer.write(payload)  # appended and written in one step: replies stay in order
        try:
            await writer.drain()
        except (OSError, ConnectionError) as exc:
            raise connection_error(f"write failed ({label})", exc) from exc
        try:
            return await asyncio.wait_for(
                asyncio.shield(future), timeout if timeout is not None else self.command_timeout
            )
        except TimeoutError as exc:
            raise SwitchUnavailable(f"no reply to {label!r} in time") from exc

    async def send(
        self,
        command: str,
        headers: dict[str, str] | list[tuple[str, str]] | None = None,
        body: str | None = None,
        *,
        timeout: float | None = None,
    ) -> EslMessage:
        """Send a raw command; return its reply frame (no error mapping)."""
        payload = encode_command(command, headers, body)
        label = "auth <password>" if command.startswith("auth ") else command
        logger.debug("ESL send %s", label)
        return await self._command(payload, label, timeout)

    async def _checked(self, command: str, headers: list[tuple[str, str]] | None = None) -> str:
        reply = await self.send(command, headers)
        text = reply.result_text
        error = error_for_reply(command, text)
        if error is not None:
            raise error
        return text

    async def api(self, command: str, *, check: bool = True, timeout: float | None = None) -> str:
        """``api <command>``: the response body, verbatim (``-ERR`` raises when ``check``)."""
        reply = await self.send(f"api {command}", timeout=timeout)
        text = reply.result_text
        if check:
            error = error_for_reply(command, text)
            if error is not None:
                raise error
        return text

    async def bgapi(self, command: str, *, job_uuid: str | None = None) -> BackgroundJob:
        """``bgapi <command>``; ``await job.result()`` gives the output.

        The result comes as a BACKGROUND_JOB event, so the client subscribes to it
        when needed (and, when filters are active, lets it through one: FreeSWITCH
        delivers events matching any filter).
        """
        if not self.subscriptions.covers("BACKGROUND_JOB"):
            await self.subscribe("BACKGROUND_JOB", fmt=self.subscriptions.fmt or "plain")
        filters = self.subscriptions.filters
        if filters and ("Event-Name", "BACKGROUND_JOB") not in filters:
            await self.filter("Event-Name", "BACKGROUND_JOB")
        job_uuid = job_uuid or str(uuid.uuid4())
        future: asyncio.Future[EslEvent] = asyncio.get_running_loop().create_future()
        job = BackgroundJob(job_uuid, command, future)
        self._jobs[job_uuid] = (job, future)
        try:
            reply = await self.send(f"bgapi {command}", [("Job-UUID", job_uuid)])
        except BaseException:
            self._jobs.pop(job_uuid, None)
            raise
        job.reply = reply.result_text
        error = error_for_reply(f"bgapi {command}", job.reply)
        if error is not None:
            self._jobs.pop(job_uuid, None)
            raise error
        actual = reply.job_uuid
        if actual and actual != job_uuid:  # a server that ignored our Job-UUID
            self._jobs[actual] = self._jobs.pop(job_uuid)
            job.job_uuid = actual
        return job
