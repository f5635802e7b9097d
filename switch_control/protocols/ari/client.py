"""asyncio ARI client: REST over keep-alive connections and the events websocket.

The events websocket and file downloads use aiohttp (rather than httpx, which cost ~3x
the CPU per request; DESIGN.md). JSON REST calls, ~9 per customer call, go through the
small keep-alive client in ``http.py``: ~25 us of CPU per request against aiohttp's ~85
(``bench/bench_ari_http.py``), or whatever ``RestTransport`` the client is given
(``transport.py``: aiohttp, or in memory for unit tests). REST errors map to
``switch_control.errors`` (a refusal is an ``AriRefused``, which keeps the status); the
websocket (``events.py``) reconnects with capped exponential backoff, says while the app
is not registered, and calls the ``on_connect`` hooks again so subscriptions are restored.
Never configures logging; never logs the password.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from ...errors import CommandRejected, NoSuchCall, SwitchControlError, SwitchUnavailable
from .events import EventStream
from .http import HttpPool, NotResent, encode_query
from .models import AriEvent, AriEventError, parse_event
from .transport import RestTransport, TransportFactory

logger = logging.getLogger(__name__)

Handler = Callable[[AriEvent], Awaitable[None]]
Hook = Callable[[], Awaitable[None]]


class AriRefused(CommandRejected):
    """ARI refused a request (400, 409, 412, 422, or a 5xx other than 502-504)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class AriUnanswered(SwitchUnavailable):
    """A request that is not idempotent got no answer on a connection the server closed
    (it may have acted on it): the transport did not resend it. Only a caller whose request
    is safe to repeat (originate with our own channel id: 409 tells) sends it again."""


@dataclass(frozen=True, slots=True)
class AriConfig:
    url: str  # http://127.0.0.1:8088/ari
    user: str
    password: str = field(repr=False)
    app: str = "callcenter"
    subscribe_all: bool = False
    backoff_initial: float = 0.2
    backoff_max: float = 10.0
    request_timeout: float = 10.0
    max_connections: int = 256  # why 256: ARI_MAX_CONNECTIONS in the settings


class AriClient:
    def __init__(self, config: AriConfig, *, transport: TransportFactory = HttpPool) -> None:
        """``transport`` builds what carries the REST calls (at the first one, and again
        after ``close``); the events websocket and downloads always use aiohttp."""
        self.config = config
        self._transport = transport
        self._handlers: dict[str, list[Handler]] = defaultdict(list)
        self._any: list[Handler] = []
        self._on_connect: list[Hook] = []
        self._on_disconnect: list[Hook] = []
        self._session: aiohttp.ClientSession | None = None
        self._http: RestTransport | None = None
        self._ws_task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._closing = False
        # the events websocket and whether our app is registered (events.py)
        self.events = EventStream(
            config,
            connected=self._connected,
            session=self._ensure_session,
            closing=lambda: self._closing,
            opened=lambda: self._run_hooks(self._on_connect, "on_connect"),
            lost=lambda: self._run_hooks(self._on_disconnect, "on_disconnect"),
            text=self._dispatch_raw,
            ping=lambda: self.get("/asterisk/ping"),
        )
        self.on("ApplicationReplaced", self._on_replaced)
        self.events_received = 0
        self.bad_events = 0

    # ---------------------------------------------------------------- registration
    def on(self, event_type: str, handler: Handler) -> None:
        """Several handlers per event type are allowed; they run in registration order."""
        self._handlers[event_type].append(handler)

    def on_any(self, handler: Handler) -> None:
        self._any.append(handler)

    def on_connect(self, hook: Hook) -> None:
        self._on_connect.append(hook)

    def on_disconnect(self, hook: Hook) -> None:
        self._on_disconnect.append(hook)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def wait_connected(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._connected.wait(), timeout)
        except TimeoutError:
            return False
        return True

    # ---------------------------------------------------------------- lifecycle
    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._closing:
            raise SwitchUnavailable("ARI client is closed")
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers={
                    "Authorization": aiohttp.encode_basic_auth(
                        self.config.user, self.config.password
                    )
                },
                connector=aiohttp.TCPConnector(limit=self.config.max_connections),
                timeout=aiohttp.ClientTimeout(total=self.config.request_timeout),
                json_serialize=lambda o: orjson.dumps(o).decode(),
            )
        return self._session

    def _ensure_http(self) -> RestTransport:
        if self._closing:
            raise SwitchUnavailable("ARI client is closed")
        if self._http is None:
            self._http = self._transport(
                self.config.url,
                headers={
                    "Authorization": aiohttp.encode_basic_auth(
                        self.config.user, self.config.password
                    )
                },
                limit=self.config.max_connections,
                timeout=self.config.request_timeout,
            )
        return self._http

    async def start(self) -> None:
        self._closing = False
        self._ensure_session()
        if self._ws_task is None or self._ws_task.done():
            self._ws_task = asyncio.create_task(self._ws_loop(), name="ari-events")

    async def close(self) -> None:
        self._closing = True
        await self.events.close()  # a close frame: Asterisk then drops its side at once
        if self._ws_task is not None:
            self._ws_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ws_task
            self._ws_task = None
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._http is not None:
            await self._http.close()
            self._http = None
        self._connected.clear()

    # ---------------------------------------------------------------- REST
    async def request(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        body: Any = None,
    ) -> Any:
        """One REST call; returns decoded JSON (or None for 204)."""
        http = self._ensure_http()
        query = ""
        if params:
            query = encode_query(
                {k: _param(v) for k, v in params.items() if v is not None and v != ""}
            )
        payload = None if body is None else orjson.dumps(body)
        try:
            resp = await http.request(method, path, query, payload)
        except NotResent as exc:
            raise AriUnanswered(f"ARI {method} {path}: {exc}") from exc
        except (TimeoutError, OSError) as exc:
            raise SwitchUnavailable(
                f"ARI {method} {path}: {exc.__class__.__name__}: {exc}"
            ) from exc
        data, status = resp.body, resp.status
        if status < 300:
            if not data:
                return None
            try:
                return orjson.loads(data)
            except orjson.JSONDecodeError:
                return data.decode(errors="replace")
        message = _error_message(data)
        detail = f"ARI {method} {path} -> {status}: {message}"
        if status == 404:
            if not data.lstrip().startswith(b"{"):
                # Asterisk's HTTP server answers before res_ari is loaded (starting up)
                raise SwitchUnavailable(detail + " (ARI not loaded yet)")
            raise NoSuchCall(detail)
        if status in (400, 409, 412, 422):
            raise AriRefused(detail, status)
        if status in (401, 403):
            raise SwitchUnavailable(detail + " (check ARI_USER/ARI_PASSWORD)")
        if status in (502, 503, 504):
            raise SwitchUnavailable(detail)
        if status >= 500:  # Asterisk is there but failed the operation
            raise AriRefused(detail, status)
        raise SwitchControlError(detail)

    async def request_bytes(self, method: str, path: str) -> bytes:
        """A REST call whose answer is a file (recordings)."""
        session = self._ensure_session()
        try:
            async with session.request(method, self.config.url + path) as resp:
                data = await resp.read()
                status = resp.status
        except (aiohttp.ClientConnectionError, TimeoutError, OSError) as exc:
            raise SwitchUnavailable(f"ARI {method} {path}: {exc}") from exc
        if status == 404:
            raise NoSuchCall(f"ARI {method} {path} -> 404")
        if status >= 300:
            raise CommandRejected(f"ARI {method} {path} -> {status}: {_error_message(data)}")
        return data

    async def get(self, path: str, **params: Any) -> Any:
        return await self.request("GET", path, params)

    async def post(self, path: str, body: Any = None, **params: Any) -> Any:
        return await self.request("POST", path, params, body)

    async def delete(self, path: str, **params: Any) -> Any:
        return await self.request("DELETE", path, params)

    async def put(self, path: str, body: Any = None, **params: Any) -> Any:
        return await self.request("PUT", path, params, body)

    # ---------------------------------------------------------------- events
    @property
    def last_error(self) -> str:
        """Why the events websocket is not up ("" while it is)."""
        return self.events.last_error

    def app_registration(self) -> dict[str, Any]:
        """Whether our Stasis app is registered, since when not and why (SW-4)."""
        return self.events.registration.snapshot()

    async def _on_replaced(self, event: AriEvent) -> None:
        """Another websocket registered our app name: Asterisk sends this one no more
        events (calls go to the other). Two controllers sharing one ``ARI_APP`` would
        silently deafen each other: alarm, and do not take it back (that would ping-pong)."""
        self.events.replaced(
            f"another connection registered ARI app {self.config.app!r} (ApplicationReplaced): "
            "is a second controller using the same ARI_APP?"
        )

    async def _ws_loop(self) -> None:
        await self.events.run()

    async def _run_hooks(self, hooks: list[Hook], what: str) -> None:
        for hook in hooks:
            try:
                await hook()
            except Exception:
                logger.exception("ARI %s hook failed", what)

    async def _dispatch_raw(self, text: str | bytes) -> None:
        try:
            event = parse_event(orjson.loads(text))
        except (orjson.JSONDecodeError, AriEventError) as exc:
            self.bad_events += 1
            logger.warning("ARI: skipped malformed event (%s): %.200r", exc, text)
            return
        await self.dispatch(event)

    async def dispatch(self, event: AriEvent) -> None:
        """Run the handlers of one event; a failing handler is logged, never fatal."""
        self.events_received += 1
        for handler in (*self._handlers.get(event.type, ()), *self._any):
            try:
                await handler(event)
            except Exception:
                call = event.channel.id if event.channel else "-"
                logger.exception("ARI handler for %s failed [call %s]", event.type, call)


def _param(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list | tuple):
        return ",".join(str(x) for x in v)
    return str(v)


def _error_message(data: bytes) -> str:
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        return data.decode(errors="replace")[:200]
    if isinstance(parsed, dict) and "message" in parsed:
        return str(parsed["message"])
    return str(parsed)[:200]
