"""asyncio ARI client: REST over keep-alive connections and the events websocket.

The events websocket and file downloads use aiohttp (rather than httpx, which cost ~3x
the CPU per request; DESIGN.md). JSON REST calls, ~9 per customer call, go through the
small keep-alive client in ``http.py``: ~25 us of CPU per request against aiohttp's ~85
(``bench/bench_ari_http.py``). REST errors map to ``switch_control.errors``; the
websocket reconnects with capped exponential backoff and calls the ``on_connect`` hooks
again so subscriptions are restored. Never configures logging; never logs the password.
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
from .http import HttpPool, encode_query
from .models import AriEvent, AriEventError, parse_event

logger = logging.getLogger(__name__)

Handler = Callable[[AriEvent], Awaitable[None]]
Hook = Callable[[], Awaitable[None]]


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
    def __init__(self, config: AriConfig) -> None:
        self.config = config
        self._handlers: dict[str, list[Handler]] = defaultdict(list)
        self._any: list[Handler] = []
        self._on_connect: list[Hook] = []
        self._on_disconnect: list[Hook] = []
        self._session: aiohttp.ClientSession | None = None
        self._http: HttpPool | None = None
        self._ws_task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._closing = False
        self.last_error: str = ""
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

    def _ensure_http(self) -> HttpPool:
        if self._closing:
            raise SwitchUnavailable("ARI client is closed")
        if self._http is None:
            self._http = HttpPool(
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
            raise CommandRejected(detail)
        if status in (401, 403):
            raise SwitchUnavailable(detail + " (check ARI_USER/ARI_PASSWORD)")
        if status in (502, 503, 504):
            raise SwitchUnavailable(detail)
        if status >= 500:  # Asterisk is there but failed the operation
            raise CommandRejected(detail)
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
    def _ws_url(self) -> str:
        base = self.config.url.replace("http://", "ws://").replace("https://", "wss://")
        sub = "true" if self.config.subscribe_all else "false"
        return f"{base}/events?app={self.config.app}&subscribeAll={sub}"

    async def _ws_loop(self) -> None:
        backoff = self.config.backoff_initial
        while not self._closing:
            session = self._ensure_session()
            try:
                # the handshake has its own deadline: a switch that accepts the TCP
                # connection but never answers the upgrade must not hang us for good
                ws = await asyncio.wait_for(
                    session.ws_connect(
                        self._ws_url(),
                        heartbeat=20.0,
                        max_msg_size=16 * 1024 * 1024,
                        timeout=aiohttp.ClientWSTimeout(ws_close=5.0),
                    ),
                    self.config.request_timeout,
                )
                async with ws:
                    if self.last_error:
                        logger.info("ARI events reconnected to %s", self.config.url)
                    self.last_error = ""
                    backoff = self.config.backoff_initial
                    # hooks (event filter, reconciliation) run before anyone is told
                    # we are connected; events meanwhile wait in the socket
                    await self._run_hooks(self._on_connect, "on_connect")
                    self._connected.set()
                    async for msg in ws:
                        if msg.type == aiohttp.WSMsgType.TEXT:
                            await self._dispatch_raw(msg.data)
                        elif msg.type in (aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSED):
                            break
                reason = "websocket closed"
            except asyncio.CancelledError:
                raise
            except aiohttp.WSServerHandshakeError as exc:
                reason = f"handshake refused ({exc.status}); check ARI credentials/app"
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                reason = f"{exc.__class__.__name__}: {exc}"
            if self._connected.is_set() or not self.last_error:
                was_connected = self._connected.is_set()
                self._connected.clear()
                if was_connected:
                    await self._run_hooks(self._on_disconnect, "on_disconnect")
            if self._closing:
                break
            if reason != self.last_error:
                # one clear line per distinct failure, not a traceback per retry
                logger.warning(
                    "ARI events at %s unavailable: %s; retrying with backoff",
                    self.config.url,
                    reason,
                )
            self.last_error = reason
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.config.backoff_max)

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
