"""A small HTTP/1.1 keep-alive client for ARI's REST calls (SW-1).

Why not aiohttp's ``ClientSession`` here: on the call path every customer call makes ~9
REST calls, and aiohttp spent ~85 us of CPU on each one against a local server, against
~25 us for this client (``bench/bench_ari_http.py``). aiohttp stays for the events
websocket and for file downloads (``AriClient.request_bytes``).

What it does, and nothing more: a pool of persistent connections to one server
(``http://`` or ``https://``), requests with an optional body, responses framed by
``Content-Length``, chunked transfer coding or the end of the connection. One request at a
time per connection (no pipelining). A connection the server closed while idle (Asterisk's
``session_keep_alive``) is noticed and replaced; an idempotent request (RFC 9112 §9.3.1)
whose reused connection closes before any byte of the answer is sent once more on a new
one, as browsers and aiohttp do. Any other one fails: the server may have acted on it (a
``POST /channels`` sent twice dials twice); only the caller knows if a resend is safe.

Errors are ``ConnectionError`` (an ``OSError``), ``TimeoutError`` or ``HttpProtocolError``
(also an ``OSError``: a peer that does not speak HTTP is unavailable, not a bad command).
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections import deque
from dataclasses import dataclass
from typing import cast
from urllib.parse import quote, urlsplit

MAX_HEADER_BYTES = 64 * 1024
# may be re-sent after an unanswered close: repeated, they do what one does (RFC 9110 9.2.2)
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"})


class HttpProtocolError(ConnectionError):
    """The peer's answer is not HTTP/1.x we can frame."""


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    body: bytes
    content_type: str = ""


class NotResent(ConnectionError):
    """A request that is not idempotent met a reused connection the server closed before
    any byte of the answer: it may or may not have reached the server, so it is not sent
    again here (RFC 9112 9.3.1); a caller whose request is safe to repeat may resend it."""


class _Closed(ConnectionError):
    """The server closed the connection before the answer was complete (``fresh``: no
    byte of the answer had arrived; on a reused connection that is most likely the
    server's idle close crossing our request, unread, but the server may also have acted
    on it and died)."""

    def __init__(self, message: str, *, fresh: bool) -> None:
        super().__init__(message)
        self.fresh = fresh


class _Conn(asyncio.Protocol):
    """One persistent connection; at most one request in flight."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.reused = False
        self._buf = bytearray()
        self._waiter: asyncio.Future[HttpResponse] | None = None
        # status, Content-Length (-1: none), chunked, Connection: close, Content-Type
        self._head: tuple[int, int, bool, bool, str] | None = None
        self._keep = True
        self._no_body = False
        self._answered = False  # a byte of the answer arrived (a 1xx counts)
        self._closed_here = False

    # -------------------------------------------------------------- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        if self._waiter is None:  # bytes nobody asked for: the connection is unusable
            self._abort()
            return
        self._answered = True
        self._buf += data
        try:
            self._parse()
        except HttpProtocolError as exc:
            self._fail(exc)

    def eof_received(self) -> bool:
        waiter = self._waiter
        if waiter is not None and not waiter.done() and self._head is not None:
            status, length, chunked, _, ctype = self._head
            if length < 0 and not chunked:  # the body ran to the end of the connection
                self._waiter = None
                self._keep = False
                waiter.set_result(HttpResponse(status, bytes(self._buf), ctype))
        self.closed = True
        return False  # let the transport close

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            if self._closed_here:
                waiter.set_exception(ConnectionError("HTTP client closed"))
                return
            why = f": {exc}" if exc else ""
            waiter.set_exception(
                _Closed(f"connection closed by the server{why}", fresh=not self._answered)
            )

    # -------------------------------------------------------------- requests
    def send(self, data: bytes, *, no_body: bool, deadline: float) -> asyncio.Future[HttpResponse]:
        """Write one request; the future has its answer, or TimeoutError at ``deadline``
        (loop time; the connection is then dropped: a late answer must not be taken for
        the next request's)."""
        assert self.transport is not None and self._waiter is None
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        timer = loop.call_at(deadline, self._expire, waiter)
        waiter.add_done_callback(lambda _: timer.cancel())
        self._buf.clear()
        self._head = None
        self._answered = False
        self._no_body = no_body
        self.transport.write(data)
        return waiter

    def _expire(self, waiter: asyncio.Future[HttpResponse]) -> None:
        if self._waiter is waiter:
            self._fail(TimeoutError("no answer in time"))

    @property
    def reusable(self) -> bool:
        return self._keep and not self.closed and self._waiter is None

    def close(self) -> None:
        self.closed = self._closed_here = True
        if self.transport is not None:
            self.transport.close()

    def _abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    def _fail(self, exc: Exception) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        self._abort()

    # -------------------------------------------------------------- framing
    def _parse(self) -> None:
        buf = self._buf
        if self._head is None:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEADER_BYTES:
                    raise HttpProtocolError("HTTP header too long")
                return
            self._head = self._parse_head(bytes(buf[:end]))
            del buf[: end + 4]
        status, length, chunked, close, ctype = self._head
        if 100 <= status < 200:  # an interim answer (100 Continue): the real one follows
            self._head = None
            if buf:
                self._parse()
            return
        if self._no_body or status in (204, 304):
            body = b""
        elif chunked:
            decoded = _dechunk(buf)
            if decoded is None:
                return
            body = decoded
        elif length >= 0:
            if len(buf) < length:
                return
            body = bytes(buf[:length])
            del buf[:length]
        else:
            return  # until the end of the connection (eof_received)
        waiter, self._waiter = self._waiter, None
        if close or buf:
            self._keep = False
        assert waiter is not None
        if not waiter.done():
            waiter.set_result(HttpResponse(status, body, ctype))

    @staticmethod
    def _parse_head(head: bytes) -> tuple[int, int, bool, bool, str]:
        eol = head.find(b"\r\n")
        first = head if eol < 0 else head[:eol]
        parts = first.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise HttpProtocolError(f"not an HTTP/1.x status line: {first[:80]!r}")
        status = int(parts[1])
        low = head.lower()  # header names are case-insensitive; look up the few we need
        length = -1
        v = _header(low, b"\r\ncontent-length:")
        if v is not None:
            if not v.isdigit():
                raise HttpProtocolError(f"bad Content-Length: {v[:40]!r}")
            length = int(v)
        te = _header(low, b"\r\ntransfer-encoding:")
        chunked = te is not None and b"chunked" in te
        conn = _header(low, b"\r\nconnection:")
        if conn is None:
            close = parts[0] == b"HTTP/1.0"
        else:
            close = b"close" in conn or (parts[0] == b"HTTP/1.0" and b"keep-alive" not in conn)
        ctype = _header(head, b"\r\ncontent-type:", low)
        return status, length, chunked, close, "" if ctype is None else ctype.decode("latin-1")


def _header(text: bytes, key: bytes, low: bytes | None = None) -> bytes | None:
    """The stripped value of header ``key`` (``\\r\\nname:``, lower case) in a response
    head; ``low`` is the head in lower case when ``text`` is not."""
    i = (text if low is None else low).find(key)
    if i < 0:
        return None
    start = i + len(key)
    end = text.find(b"\r\n", start)
    return (text[start:] if end < 0 else text[start:end]).strip()


def _dechunk(buf: bytearray) -> bytes | None:
    """The body of a complete chunked message in ``buf`` (consumed), or None if incomplete."""
    out = bytearray()
    pos = 0
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None
        size_text = bytes(buf[pos:eol]).split(b";", 1)[0].strip()
        if not _HEX(size_text):  # int() would take "-6", "+5" or "0x5"
            raise HttpProtocolError(f"bad chunk size: {size_text[:20]!r}")
        size = int(size_text, 16)
        pos = eol + 2
        if size == 0:
            end = buf.find(b"\r\n\r\n", pos - 2)  # trailers, then the empty line
            if end < 0:
                return None
            del buf[: end + 4]
            return bytes(out)
        if len(buf) < pos + size + 2:
            return None
        if buf[pos + size : pos + size + 2] != b"\r\n":
            raise HttpProtocolError("chunk data not followed by CRLF")
        out += buf[pos : pos + size]
        pos += size + 2


_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}").fullmatch
_PLAIN = re.compile(r"[A-Za-z0-9_.~/,:@-]*").fullmatch


def quote_path(path: str) -> str:
    """Percent-encode a URL path (``/`` kept; ``%`` kept, so an encoded path stays as is)."""
    return path if _PLAIN(path) else quote(path, safe="/%:@!$&'()*+,;=-._~")


def quote_value(value: str) -> str:
    """Percent-encode a query value (``,:/@`` kept). ``+`` is encoded: Asterisk decodes a
    bare one as a space."""
    return value if _PLAIN(value) else quote(value, safe=",:/@")


def encode_query(params: dict[str, str]) -> str:
    """``k=v&...`` with keys and values percent-encoded (``quote_value``)."""
    return "&".join(f"{quote_value(k)}={quote_value(v)}" for k, v in params.items())


class HttpPool:
    """Persistent connections to one HTTP server, at most ``limit`` at a time."""

    def __init__(
        self,
        base_url: str,
        *,
        headers: dict[str, str] | None = None,
        limit: int = 64,
        timeout: float = 10.0,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.ssl: ssl.SSLContext | None = (
            ssl.create_default_context() if parts.scheme == "https" else None
        )
        self.base_path = parts.path.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        default_port = 443 if self.ssl else 80
        host_header = host if self.port == default_port else f"{host}:{self.port}"
        fixed = {"Host": host_header, **(headers or {})}
        self._fixed = "".join(f"{k}: {v}\r\n" for k, v in fixed.items()).encode()
        self.timeout = timeout
        self._idle: deque[_Conn] = deque()
        self._slots = asyncio.Semaphore(limit)
        self._all: set[_Conn] = set()
        self._closed = False

    async def request(
        self,
        method: str,
        path: str,
        query: str = "",
        body: bytes | None = None,
        content_type: str = "application/json",
    ) -> HttpResponse:
        """``path`` under the base URL (quoted here), ``query`` already encoded."""
        if self._closed:
            raise ConnectionError("HTTP client is closed")
        target = self.base_path + quote_path(path)
        if query:
            target += "?" + query
        head = f"{method} {target} HTTP/1.1\r\n".encode() + self._fixed
        if body is not None:
            head += f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            data = head + body
        else:
            data = head + (b"Content-Length: 0\r\n\r\n" if method in ("POST", "PUT") else b"\r\n")
        no_body = method == "HEAD"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        if self._slots.locked():  # all connections busy: wait for one, within the deadline
            async with asyncio.timeout(self.timeout):  # (wait_for could lose an acquired slot)
                await self._slots.acquire()
        else:
            await self._slots.acquire()
        try:
            for _ in range(2):
                if self._closed:  # closed while this request waited
                    raise ConnectionError("HTTP client is closed")
                conn = await self._acquire(deadline - loop.time())
                try:
                    resp = await conn.send(data, no_body=no_body, deadline=deadline)
                except _Closed as exc:
                    self._discard(conn)
                    if not (exc.fresh and conn.reused) or self._closed:
                        raise
                    if method in IDEMPOTENT_METHODS:
                        continue  # most likely the server's idle close: send it again
                    raise NotResent(f"{exc}; {method} not sent again") from exc
                except BaseException:
                    self._discard(conn)  # timed out or cancelled mid-answer: unusable
                    raise
                if conn.reusable:
                    conn.reused = True
                    self._idle.append(conn)
                else:
                    self._discard(conn)
                return resp
            raise ConnectionError("connection closed by the server twice")
        finally:
            self._slots.release()

    async def _acquire(self, timeout: float) -> _Conn:
        while self._idle:
            conn = self._idle.pop()  # the most recently used: least likely timed out
            if conn.reusable:
                return conn
            self._discard(conn)
        loop = asyncio.get_running_loop()
        _, conn = await asyncio.wait_for(
            loop.create_connection(
                _Conn,
                self.host,
                self.port,
                ssl=self.ssl,
                server_hostname=self.host if self.ssl else None,
            ),
            max(timeout, 0.001),
        )
        if self._closed:  # closed while connecting
            conn.close()
            raise ConnectionError("HTTP client is closed")
        self._all.add(conn)
        return conn

    def _discard(self, conn: _Conn) -> None:
        conn.close()
        self._all.discard(conn)

    @property
    def open_connections(self) -> int:
        return sum(1 for conn in self._all if not conn.closed)

    async def close(self) -> None:
        self._closed = True
        for conn in list(self._all):
            conn.close()
        self._all.clear()
        self._idle.clear()
        await asyncio.sleep(0)  # let the transports run their close callbacks
