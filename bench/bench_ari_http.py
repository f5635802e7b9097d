"""Benchmark: CPU per ARI REST request, aiohttp's ClientSession against ``HttpPool``.

The controller makes ~9 REST calls per customer call (SW-1). This measures what one
costs the client process, nothing else: a small HTTP/1.1 server in a separate process
(answers every request with Asterisk's headers and a short JSON body, keep-alive) and the
client in this one, ``--concurrency`` requests in flight, ``--requests`` in all. CPU is
this process's time (user + system) divided by the requests; both clients send the same
requests (a POST with query parameters, a POST with a JSON body, a DELETE) and decode the
JSON answer. Alternating rounds, best and median reported; the ratio is of medians.

Rewrites the ``ari-http`` section of ``bench/RESULTS.md`` (``--no-write``: don't).

    .venv/bin/python bench/bench_ari_http.py [--requests 20000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import socket
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402
import orjson  # noqa: E402

from bench.results import run_header, write_section  # noqa: E402
from switch_control.protocols.ari import AriClient, AriConfig  # noqa: E402

BODY = b'{"id":"1763822400.123","name":"PJSIP/1001-00000001","state":"Down"}'
ANSWER = (
    b"HTTP/1.1 200 OK\r\nServer: Asterisk/22.10.1\r\nDate: Sun, 22 Nov 2026 20:00:00 GMT\r\n"
    b"Cache-Control: no-cache, no-store\r\nContent-Type: application/json\r\n"
    b"Content-Length: " + str(len(BODY)).encode() + b"\r\n\r\n" + BODY
)


def serve(port: int) -> None:
    """A keep-alive server that frames requests by Content-Length and answers each."""

    class Proto(asyncio.Protocol):
        def connection_made(self, transport: Any) -> None:
            self.t = transport
            self.buf = b""

        def data_received(self, data: bytes) -> None:
            self.buf += data
            while True:
                end = self.buf.find(b"\r\n\r\n")
                if end < 0:
                    return
                length = 0
                for line in self.buf[:end].split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                if len(self.buf) < end + 4 + length:
                    return
                self.buf = self.buf[end + 4 + length :]
                self.t.write(ANSWER)

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(Proto, "127.0.0.1", port)
        await server.serve_forever()

    _loop_runner()(main())


def _loop_runner() -> Any:
    try:
        import uvloop

        return uvloop.run
    except ImportError:
        return asyncio.run


REQUESTS: tuple[tuple[str, str, dict[str, str], Any], ...] = (
    ("POST", "/channels/1763822400.123/play/p-1", {"media": "sound:beep"}, None),
    (
        "POST",
        "/channels",
        {"endpoint": "PJSIP/1001", "app": "callcenter", "appArgs": "agent,b-1"},
        {"variables": {"CC_CALL_ID": "c-1", "CC_ROLE": "agent"}},
    ),
    ("DELETE", "/bridges/b-1", {}, None),
)


async def with_aiohttp(url: str, n: int, conc: int) -> float:
    async with aiohttp.ClientSession(
        headers={"Authorization": aiohttp.encode_basic_auth("u", "p")},
        connector=aiohttp.TCPConnector(limit=64),
        timeout=aiohttp.ClientTimeout(total=10),
        json_serialize=lambda o: orjson.dumps(o).decode(),
    ) as session:

        async def worker(k: int) -> None:
            for i in range(k, n, conc):
                method, path, params, body = REQUESTS[i % len(REQUESTS)]
                async with session.request(method, url + path, params=params, json=body) as r:
                    orjson.loads(await r.read())

        t0 = time.process_time()
        await asyncio.gather(*(worker(k) for k in range(conc)))
        return time.process_time() - t0


async def with_pool(url: str, n: int, conc: int) -> float:
    client = AriClient(AriConfig(url=url, user="u", password="p"))

    async def worker(k: int) -> None:
        for i in range(k, n, conc):
            method, path, params, body = REQUESTS[i % len(REQUESTS)]
            await client.request(method, path, params, body)

    t0 = time.process_time()
    await asyncio.gather(*(worker(k) for k in range(conc)))
    spent = time.process_time() - t0
    await client.close()
    return spent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--concurrency", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = multiprocessing.get_context("spawn").Process(target=serve, args=(port,), daemon=True)
    server.start()
    url = f"http://127.0.0.1:{port}/ari"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    run = _loop_runner()
    us: dict[str, list[float]] = {"aiohttp ClientSession": [], "HttpPool (AriClient.request)": []}
    try:
        for r in range(args.rounds):
            order = list(us) if r % 2 == 0 else list(reversed(us))
            for name in order:
                fn = with_aiohttp if name.startswith("aiohttp") else with_pool
                spent = run(fn(url, args.requests, args.concurrency))
                us[name].append(spent / args.requests * 1e6)
                print(f"round {r + 1} {name}: {us[name][-1]:.1f} us/request", flush=True)
    finally:
        server.terminate()
        server.join(5)
    med = {k: statistics.median(v) for k, v in us.items()}
    base = med["aiohttp ClientSession"]
    lines = [
        "## ARI REST client: CPU per request",
        "",
        f"Run {run_header()}, `python bench/bench_ari_http.py`. {args.requests} requests per "
        f"round, {args.concurrency} in flight, {args.rounds} alternating rounds, against a "
        "keep-alive HTTP/1.1 server in another process on 127.0.0.1 (Asterisk's headers, a "
        "short JSON body). CPU of the client process only; the same three requests (POST "
        "with query, POST with a JSON body, DELETE), answers decoded.",
        "",
        "| client | best us/request | median us/request | vs aiohttp |",
        "|---|---:|---:|---:|",
    ]
    for name, v in us.items():
        lines.append(f"| {name} | {min(v):.1f} | {med[name]:.1f} | {base / med[name]:.1f}x |")
    lines.append("")
    saved = 9 * (base - med["HttpPool (AriClient.request)"]) / 1000
    lines.append(
        "The controller's REST calls go through `HttpPool` (`switch_control/protocols/ari/"
        "http.py`); the events websocket and recording downloads stay on aiohttp. About 9 "
        f"REST calls per customer call: ~{saved:.2f} ms of controller CPU per call saved."
    )
    text = "\n".join(lines)
    print("\n" + text)
    if not args.no_write:
        write_section("ari-http", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
