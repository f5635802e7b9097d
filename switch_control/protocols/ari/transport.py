"""The seam under ``AriClient``'s REST calls (SW-1): one request in, one ``HttpResponse``
out, whatever carries it.

``AriClient`` encodes the query and the JSON body, hands them to a ``RestTransport`` and
maps the answer (status, JSON) to results and ``switch_control.errors``. Three transports:

- ``HttpPool`` (``http.py``), the default: our keep-alive HTTP/1.1 client, ~25 us of CPU
  per request;
- ``AiohttpTransport``: aiohttp's ``ClientSession`` (~85 us), the reference to compare the
  own client with;
- ``MemoryTransport``: no socket, a handler answers each request; for unit tests of the
  layers above (they swap the transport instead of patching ``AriClient.request``).

A transport raises ``OSError`` (``ConnectionError``) or ``TimeoutError`` when the server
cannot be reached or did not answer, and re-sends a request on its own only when its
method is idempotent (``http.IDEMPOTENT_METHODS``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qsl

import aiohttp
import orjson
from yarl import URL

from .http import HttpResponse, quote_path


class RestTransport(Protocol):
    async def request(
        self, method: str, path: str, query: str = "", body: bytes | None = None
    ) -> HttpResponse:
        """``path`` under the base URL (unquoted), ``query`` already encoded, ``body``
        JSON bytes or None."""
        ...

    async def close(self) -> None: ...


class TransportFactory(Protocol):
    """Builds the transport of one ``AriClient`` (called like ``HttpPool``)."""

    def __call__(
        self, base_url: str, *, headers: dict[str, str], limit: int, timeout: float
    ) -> RestTransport: ...


class AiohttpTransport:
    """REST over an aiohttp ``ClientSession`` of its own (opened at the first request)."""

    def __init__(
        self, base_url: str, *, headers: dict[str, str], limit: int = 64, timeout: float = 10.0
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = headers
        self._limit = limit
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    async def request(
        self, method: str, path: str, query: str = "", body: bytes | None = None
    ) -> HttpResponse:
        if self._closed:
            raise ConnectionError("HTTP client is closed")
        if self._session is None:
            self._session = aiohttp.ClientSession(
                headers=self._headers,
                connector=aiohttp.TCPConnector(limit=self._limit),
                timeout=aiohttp.ClientTimeout(total=self._timeout),
            )
        url = self.base_url + quote_path(path) + ("?" + query if query else "")
        headers = {"Content-Type": "application/json"} if body is not None else None
        try:
            async with self._session.request(
                method, URL(url, encoded=True), data=body, headers=headers
            ) as resp:
                data = await resp.read()
                return HttpResponse(resp.status, data, resp.content_type)
        except aiohttp.ClientError as exc:  # (ClientOSError is an OSError already)
            raise ConnectionError(f"{exc.__class__.__name__}: {exc}") from exc

    async def close(self) -> None:
        self._closed = True
        if self._session is not None:
            await self._session.close()
            self._session = None


@dataclass(frozen=True, slots=True)
class MemoryRequest:
    """A request as ``MemoryTransport``'s handler sees it: query decoded, JSON parsed."""

    method: str
    path: str
    params: dict[str, str]
    body: Any = None


# a handler returns (or, as a coroutine, resolves to) an HttpResponse, sent as is; None,
# sent as 204; or anything else, sent as 200 with it as JSON
MemoryHandler = Callable[[MemoryRequest], Any]


def json_response(data: Any, status: int = 200) -> HttpResponse:
    return HttpResponse(status, orjson.dumps(data), "application/json")


def ari_error(status: int, message: str) -> HttpResponse:
    """An error the way ARI words one (``{"message": ...}``)."""
    return json_response({"message": message}, status)


class MemoryTransport:
    """No network: ``handler`` answers every request, at once (no turn of the loop)
    unless it returns an awaitable; it may raise ``ConnectionError``/``TimeoutError`` for
    a switch that is away. Every request is kept in ``requests``. Pass ``factory`` to
    ``AriClient(transport=...)``."""

    def __init__(self, handler: MemoryHandler | None = None) -> None:
        self.handler: MemoryHandler = handler or (lambda request: None)
        self.requests: list[MemoryRequest] = []
        self.headers: dict[str, str] = {}
        self.closed = 0

    def factory(
        self, base_url: str, *, headers: dict[str, str], limit: int, timeout: float
    ) -> MemoryTransport:
        self.headers = headers
        return self

    async def request(
        self, method: str, path: str, query: str = "", body: bytes | None = None
    ) -> HttpResponse:
        req = MemoryRequest(
            method,
            path,
            dict(parse_qsl(query, keep_blank_values=True)),
            None if body is None else orjson.loads(body),
        )
        self.requests.append(req)
        reply = self.handler(req)
        if inspect.isawaitable(reply):
            reply = await reply
        if isinstance(reply, HttpResponse):
            return reply
        if reply is None:
            return HttpResponse(204, b"")
        return json_response(reply)

    async def close(self) -> None:
        self.closed += 1

    def sent(self, method: str = "", path: str = "") -> list[MemoryRequest]:
        """The requests with that method and path (either left out: any)."""
        return [
            r
            for r in self.requests
            if (not method or r.method == method) and (not path or r.path == path)
        ]
