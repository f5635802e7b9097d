"""A raw HTTP/1.1 server on 127.0.0.1 whose answers each test scripts byte for byte: for
the ARI REST client's own HTTP code (``switch_control/protocols/ari/http.py``), where a
real server (or aiohttp.web) could not produce the closes, framings and malformed answers
the client must survive. One ``Script`` runs per accepted connection; the server counts
connections and records every request it read."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any


class Peer:
    """One accepted connection, as a script sees it."""

    def __init__(
        self, server: RawServer, number: int, reader: asyncio.StreamReader, writer: Any
    ) -> None:
        self.server = server
        self.number = number  # 1 for the first connection the server accepted
        self.reader = reader
        self.writer: asyncio.StreamWriter = writer

    async def read_request(self) -> bytes | None:
        """The next request's raw bytes (head, and a body framed by Content-Length), also
        recorded in ``server.requests``; None once the client has closed the connection."""
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if exc.partial:
                raise AssertionError(f"truncated request: {exc.partial!r}") from None
            return None
        except ConnectionError:
            return None
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        body = await self.reader.readexactly(length) if length else b""
        raw = head + body
        self.server.requests.append((self.number, raw))
        return raw

    async def send(self, data: bytes, *, piece: int = 0) -> None:
        """Write ``data`` at once, or ``piece`` bytes at a time, each drained and followed by
        a turn of the loop so the client reads it on its own."""
        if not piece:
            self.writer.write(data)
            await self.writer.drain()
            return
        for i in range(0, len(data), piece):
            self.writer.write(data[i : i + piece])
            await self.writer.drain()
            await asyncio.sleep(0)

    async def until_client_closes(self) -> None:
        with contextlib.suppress(ConnectionError):
            await self.reader.read()  # to EOF


Script = Callable[[Peer], Awaitable[None]]


class RawServer:
    """``asyncio.start_server`` running ``script`` for every connection; it counts the
    connections (all, open now, most open at once) and records every request read."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        self.open_now = 0
        self.max_open = 0
        self.requests: list[tuple[int, bytes]] = []  # (connection number, raw request)
        self.errors: list[BaseException] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._writers: list[asyncio.StreamWriter] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/ari"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()
        for writer in self._writers:
            writer.close()  # a script reading the socket ends on its own
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=0.2)
        for task in list(self._tasks):
            task.cancel()  # one still sleeping
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.append(writer)
        self.connections += 1
        self.open_now += 1
        self.max_open = max(self.max_open, self.open_now)
        try:
            await self.script(Peer(self, self.connections, reader, writer))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            pass  # stop() ends a script still waiting; the task must end quietly
        except Exception as exc:
            self.errors.append(exc)
        finally:
            self.open_now -= 1
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()
            self._tasks.discard(task)

    def on(self, number: int) -> list[bytes]:
        """The requests read on connection ``number``."""
        return [raw for n, raw in self.requests if n == number]


def response(
    body: bytes = b"", status: str = "200 OK", *, headers: str = "", length: bool = True
) -> bytes:
    head = f"HTTP/1.1 {status}\r\n{headers}"
    if length:
        head += f"Content-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


def answering(
    reply: Callable[[Peer, bytes], bytes | Awaitable[bytes]] | bytes,
) -> Script:
    """Answer every request on every connection, keeping the connection open."""

    async def script(peer: Peer) -> None:
        while (raw := await peer.read_request()) is not None:
            data = reply if isinstance(reply, bytes) else reply(peer, raw)
            if not isinstance(data, bytes):
                data = await data
            await peer.send(data)

    return script


def echo_target(peer: Peer, raw: bytes) -> bytes:
    """200 with the request target as the body."""
    return response(raw.split(b" ", 2)[1], headers="Content-Type: text/plain\r\n")


def parse_request(raw: bytes) -> tuple[bytes, dict[str, str], bytes]:
    """(request line, headers by lower-case name, body); a header sent twice fails."""
    head, _, body = raw.partition(b"\r\n\r\n")
    first, *lines = head.decode().split("\r\n")
    headers: dict[str, str] = {}
    for line in lines:
        name, _, value = line.partition(":")
        assert name.lower() not in headers, f"header {name} sent twice"
        headers[name.lower()] = value.strip()
    return first.encode(), headers, body
