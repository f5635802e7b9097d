"""A TCP proxy in front of the real Asterisk's HTTP port that can stall websocket upgrades.

A fault injector, not a fake: every byte of REST goes to the real switch and back. With
``stall_upgrades`` set, a connection whose first request is a websocket upgrade is
accepted and read but never forwarded nor answered, which is what a controller sees when
Asterisk's events-websocket upgrade hangs (issue 12, part 6). ``drop_websockets`` cuts
the websockets it did forward, as a switch dropping them would. Runs its own event loop
in a thread so that synchronous tests and controller subprocesses can use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any

from scripts.asterisk_sandbox import free_port


class StallProxy:
    def __init__(self, upstream_port: int, *, stall_upgrades: bool = False) -> None:
        self.upstream_port = upstream_port
        self.port = free_port()
        self.stall_upgrades = stall_upgrades
        self.stalled = 0  # upgrades held unanswered
        self.upgrades = 0  # upgrades passed to the switch
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._websockets: set[asyncio.StreamWriter] = set()
        self._held: set[asyncio.StreamWriter] = set()

    @property
    def ari_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/ari"

    def start(self) -> StallProxy:
        self._thread.start()
        self._server = self._call(asyncio.start_server(self._serve, "127.0.0.1", self.port))
        return self

    def stop(self) -> None:
        async def shutdown() -> None:
            assert self._server is not None
            self._server.close()
            for w in (*self._websockets, *self._held):
                w.transport.abort()

        self._call(shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def drop_websockets(self) -> int:
        """Abort every websocket passed to the switch; returns how many."""

        async def drop() -> int:
            n = len(self._websockets)
            for w in list(self._websockets):
                w.transport.abort()
            return n

        return int(self._call(drop()))

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        upgrade = b"upgrade: websocket" in head.lower()
        if upgrade and self.stall_upgrades:
            self.stalled += 1
            self._held.add(writer)
            try:  # read and drop whatever comes until the client gives up
                while await reader.read(65536):
                    pass
            except ConnectionError:
                pass
            finally:
                self._held.discard(writer)
                writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.transport.abort()
            return
        if upgrade:
            self.upgrades += 1
            self._websockets.add(writer)
        up_writer.write(head)
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            self._websockets.discard(writer)
            for w in (writer, up_writer):
                w.transport.abort()


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    try:
        while data := await src.read(65536):
            dst.write(data)
            await dst.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        # one direction ended: end the other too (the proxy is for whole connections)
        with contextlib.suppress(Exception):
            dst.transport.abort()
