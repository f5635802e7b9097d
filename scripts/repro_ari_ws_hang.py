"""Try to reproduce the ARI events-websocket hang (issue 12, part 6).

Seen in long test runs on Asterisk 22: after many connect/close cycles of
``/ari/events?app=<name>``, the app's old websocket stays in CLOSE-WAIT on Asterisk's
side and every new upgrade for that app name hangs (REST still answers).

This script opens and closes the events websocket of one app name in several ways, many
times, against a running Asterisk (e.g. ``python -m scripts.asterisk_sandbox start --env
/tmp/ast.env``), and after every cycle it checks:

- whether an upgrade for the same app name still completes (``101``) within
  ``--probe-timeout`` seconds,
- how many of Asterisk's HTTP sockets sit in CLOSE-WAIT (``ss``),
- whether the app is still listed by ``GET /ari/applications``.

It stops at the first hang and prints what led to it. Ways of closing (``--modes``):

``clean``      upgrade, send a close frame, wait for Asterisk's close, close the socket
``abrupt``     upgrade, close the TCP connection without a close frame (FIN)
``rst``        upgrade, reset the connection (SO_LINGER 0)
``midhs``      send the upgrade request and close before reading the answer
``midhs_rst``  the same with a reset
``pending``    upgrade, have Asterisk queue events (user events) unread, close abruptly
``overlap``    open a second upgrade for the same app while the first is open, then
               close the first abruptly and the second cleanly
``stall``      upgrade with a tiny receive buffer, stop reading while Asterisk sends
               events until its writes block, then replace it with a second upgrade
               and close both
``aiohttp``    what the controller does: aiohttp ``ws_connect``, then cancel the task

Usage::

    python -m scripts.repro_ari_ws_hang --env /tmp/ast.env --cycles 300
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import socket
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

MODES = (
    "clean",
    "abrupt",
    "rst",
    "midhs",
    "midhs_rst",
    "pending",
    "overlap",
    "stall",
    "aiohttp",
)


@dataclass
class Target:
    host: str
    port: int
    user: str
    password: str
    app: str

    @property
    def auth(self) -> str:
        return base64.b64encode(f"{self.user}:{self.password}".encode()).decode()

    def upgrade_request(self) -> bytes:
        key = base64.b64encode(os.urandom(16)).decode()
        q = urllib.parse.urlencode({"app": self.app, "subscribeAll": "false"})
        return (
            f"GET /ari/events?{q} HTTP/1.1\r\n"
            f"Host: {self.host}:{self.port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Authorization: Basic {self.auth}\r\n\r\n"
        ).encode()

    def rest(self, method: str, path: str, timeout: float = 3.0) -> object:
        req = urllib.request.Request(
            f"http://{self.host}:{self.port}/ari{path}",
            method=method,
            headers={"Authorization": f"Basic {self.auth}"},
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - loopback
            body = resp.read()
        return json.loads(body) if body else None


@dataclass
class Stats:
    cycles: dict[str, int] = field(default_factory=dict)
    upgrade_ms: list[float] = field(default_factory=list)
    max_close_wait: int = 0


class Hang(Exception):
    pass


async def _upgrade(t: Target, timeout: float) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(t.host, t.port)
    writer.write(t.upgrade_request())
    await writer.drain()
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
    except TimeoutError:
        writer.transport.abort()
        raise Hang(f"no answer to the upgrade within {timeout}s") from None
    if not head.startswith(b"HTTP/1.1 101"):
        writer.close()
        raise RuntimeError(f"upgrade refused: {head[:200]!r}")
    return reader, writer


def _close_frame() -> bytes:
    mask = os.urandom(4)
    payload = struct.pack("!H", 1000)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x88, 0x80 | len(payload)]) + mask + masked


def _rst(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _drain_until_close(reader: asyncio.StreamReader, timeout: float) -> None:
    with contextlib.suppress(TimeoutError, ConnectionError, asyncio.IncompleteReadError):
        async with asyncio.timeout(timeout):
            while await reader.read(65536):
                pass


async def cycle(t: Target, mode: str, timeout: float) -> None:
    if mode in ("midhs", "midhs_rst"):
        reader, writer = await asyncio.open_connection(t.host, t.port)
        writer.write(t.upgrade_request())
        await writer.drain()
        if mode == "midhs_rst":
            _rst(writer)
        else:
            writer.close()
        return
    if mode == "aiohttp":
        import aiohttp

        url = f"ws://{t.host}:{t.port}/ari/events?app={t.app}&subscribeAll=false"
        async with aiohttp.ClientSession(headers={"Authorization": f"Basic {t.auth}"}) as session:

            async def run() -> None:
                async with session.ws_connect(url, heartbeat=20.0) as ws:
                    connected.set()
                    async for _ in ws:
                        pass

            connected = asyncio.Event()
            task = asyncio.create_task(run())
            try:
                await asyncio.wait_for(connected.wait(), timeout)
            except TimeoutError:
                task.cancel()
                raise Hang(f"aiohttp: no upgrade within {timeout}s") from None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        return
    reader, writer = await _upgrade(t, timeout)
    if mode == "clean":
        writer.write(_close_frame())
        await writer.drain()
        await _drain_until_close(reader, 2.0)
        writer.close()
    elif mode == "abrupt":
        writer.close()
    elif mode == "rst":
        _rst(writer)
    elif mode == "pending":
        for i in range(50):
            await asyncio.to_thread(t.rest, "POST", f"/events/user/repro{i}?application={t.app}")
        writer.close()
    elif mode == "stall":
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
        writer.transport.pause_reading()
        for i in range(200):
            await asyncio.to_thread(t.rest, "POST", f"/events/user/stall{i}?application={t.app}")
        reader2, writer2 = await _upgrade(t, timeout)
        writer.close()
        writer2.write(_close_frame())
        await writer2.drain()
        await _drain_until_close(reader2, 2.0)
        writer2.close()
    elif mode == "overlap":
        reader2, writer2 = await _upgrade(t, timeout)
        writer.close()
        writer2.write(_close_frame())
        await writer2.drain()
        await _drain_until_close(reader2, 2.0)
        writer2.close()
    else:
        raise ValueError(mode)


def close_wait(port: int) -> int:
    out = subprocess.run(
        ["ss", "-Htan", "state", "close-wait", f"( sport = :{port} )"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return len([line for line in out.splitlines() if line.strip()])


async def probe(t: Target, timeout: float) -> float:
    """One clean connect/close; returns the upgrade's time in ms, raises Hang."""
    t0 = time.monotonic()
    reader, writer = await _upgrade(t, timeout)
    ms = (time.monotonic() - t0) * 1000
    writer.write(_close_frame())
    await writer.drain()
    await _drain_until_close(reader, 2.0)
    writer.close()
    return ms


def app_listed(t: Target) -> str:
    try:
        apps = t.rest("GET", "/applications", timeout=3.0)
    except (urllib.error.URLError, TimeoutError) as exc:
        return f"GET /applications failed: {exc}"
    names = [a.get("name") for a in apps] if isinstance(apps, list) else apps
    return f"apps listed: {names}"


async def main_async(args: argparse.Namespace, t: Target) -> int:
    stats = Stats()
    modes = args.modes.split(",")
    start = time.monotonic()
    for n in range(args.cycles):
        mode = modes[n % len(modes)]
        try:
            await cycle(t, mode, args.probe_timeout)
            stats.cycles[mode] = stats.cycles.get(mode, 0) + 1
            if args.settle:
                await asyncio.sleep(args.settle)
            stats.upgrade_ms.append(await probe(t, args.probe_timeout))
        except Hang as exc:
            cw = close_wait(t.port)
            print(
                f"HANG after {n} cycles ({time.monotonic() - start:.1f}s), in mode {mode}: "
                f"{exc}; CLOSE-WAIT sockets on :{t.port}: {cw}; {app_listed(t)}"
            )
            print(f"cycles done per mode: {stats.cycles}")
            return 2
        cw = close_wait(t.port)
        stats.max_close_wait = max(stats.max_close_wait, cw)
        if args.verbose or n % 50 == 0:
            print(f"cycle {n} {mode}: CLOSE-WAIT {cw}; upgrade {stats.upgrade_ms[-1]:.1f} ms")
    ms = sorted(stats.upgrade_ms)
    print(
        f"no hang in {args.cycles} cycles ({time.monotonic() - start:.1f}s): {stats.cycles}; "
        f"max CLOSE-WAIT {stats.max_close_wait}; upgrade median {ms[len(ms) // 2]:.1f} ms, "
        f"max {ms[-1]:.1f} ms; {app_listed(t)}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--env", help="KEY=VALUE file from `asterisk_sandbox start --env`")
    ap.add_argument("--cycles", type=int, default=200)
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--app", help="app name (default: ARI_APP)")
    ap.add_argument("--probe-timeout", type=float, default=5.0)
    ap.add_argument("--settle", type=float, default=0.0, help="pause after each cycle (s)")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    env = dict(os.environ)
    if args.env:
        for line in open(args.env, encoding="utf-8"):
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                env[k] = v
    url = urllib.parse.urlsplit(env.get("ARI_URL", "http://127.0.0.1:8088/ari"))
    t = Target(
        url.hostname or "127.0.0.1",
        url.port or 80,
        env.get("ARI_USER", "callcenter"),
        env["ARI_PASSWORD"],
        args.app or env.get("ARI_APP", "callcenter"),
    )
    return asyncio.run(main_async(args, t))


if __name__ == "__main__":
    sys.exit(main())
