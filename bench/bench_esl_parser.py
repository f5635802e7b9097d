"""Benchmark: our ESL parser vs greenswitch on the real captured FreeSWITCH events.

Builds long streams from every event frame of ``shared/freeswitch-captures``
(plain and JSON, ~3.8 KB per event), then measures, in the same run:

* ``EslParser.feed`` in-process (64 KiB chunks): framing + decoding (url-decoding
  for plain, orjson for JSON), events/s;
* the same over a loopback TCP socket (asyncio reader; the bytes come from a
  sender process);
* greenswitch 0.0.19 (``InboundESL``, gevent) receiving the same bytes over a
  loopback socket from a sender process: events handled per second, measured from
  connect to the last event.  greenswitch parses every body as ``Name: value``
  lines, so it cannot parse JSON events (its reader greenlet dies on the first one:
  reported as such); the JSON ratio is therefore against greenswitch on the plain
  stream of the same events.

Prints the results and rewrites the ``ESL parser`` section of ``bench/RESULTS.md``
(between ``<!-- esl-parser:start -->`` and ``<!-- esl-parser:end -->``).
Usage: ``python bench/bench_esl_parser.py [--quick]`` (about 20-40 s; --quick: ~5 s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import orjson  # noqa: E402

from bench.results import write_section  # noqa: E402
from switch_control.protocols.esl import EslParser  # noqa: E402

CAPTURES = REPO.parent / "shared" / "freeswitch-captures"
CHUNK = 65536


def event_frames(fmt: str) -> list[bytes]:
    """Every ``text/event-<fmt>`` frame of the scenario captures, verbatim."""
    marker = f"Content-Type: text/event-{fmt}\n\n".encode()
    frames = []
    for path in sorted(CAPTURES.glob(f"scenario-*-{fmt}.esl")):
        data = path.read_bytes()
        pos = 0
        while (hit := data.find(marker, pos)) >= 0:
            start = data.rfind(b"Content-Length: ", 0, hit)
            length = int(data[start + 16 : data.index(b"\n", start)])
            end = hit + len(marker) + length
            frames.append(data[start:end])
            pos = end
    return frames


def stream(fmt: str, events: int) -> tuple[bytes, int, int]:
    frames = event_frames(fmt)
    reps = max(1, events // len(frames))
    data = b"".join(frames) * reps
    return data, len(frames) * reps, len(frames)


def best_rate(runs: int, func: object) -> float:
    rates = [func() for _ in range(runs)]  # type: ignore[operator]
    return max(rates)


def parse_in_process(data: bytes, expected: int) -> float:
    parser = EslParser()
    started = time.perf_counter()
    count = 0
    for pos in range(0, len(data), CHUNK):
        count += len(parser.feed(data[pos : pos + CHUNK]))
    elapsed = time.perf_counter() - started
    assert count == expected, (count, expected)
    return count / elapsed


def orjson_only(frames: list[bytes]) -> float:
    bodies = [f[f.index(b"\n\n") + 2 :] for f in frames]
    started = time.perf_counter()
    for body in bodies:
        orjson.loads(body)
    return len(bodies) / (time.perf_counter() - started)


# -- loopback senders (separate processes, so the receiver has its own core) --------------


def _sender(port_queue: multiprocessing.Queue, data: bytes, greet: bool) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port_queue.put(server.getsockname()[1])
    conn, _ = server.accept()
    if greet:  # behave like FreeSWITCH for an inbound client: greeting, auth
        conn.sendall(b"Content-Type: auth/request\n\n")
        buf = b""
        while b"\n\n" not in buf:
            buf += conn.recv(256)
        conn.sendall(b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n")
    conn.sendall(data)
    try:  # keep the connection open until the receiver is done (EOF would stop greenswitch)
        while conn.recv(4096):
            pass
    except OSError:
        pass
    conn.close()
    server.close()


def start_sender(data: bytes, greet: bool) -> tuple[multiprocessing.Process, int]:
    queue: multiprocessing.Queue = multiprocessing.Queue()
    proc = multiprocessing.Process(target=_sender, args=(queue, data, greet), daemon=True)
    proc.start()
    return proc, queue.get(timeout=10)


def parse_over_socket(data: bytes, expected: int) -> float:
    """asyncio Protocol on a loopback socket feeding the parser from data_received."""
    proc, port = start_sender(data, greet=False)

    class Receiver(asyncio.Protocol):
        def __init__(self, done: asyncio.Future[float]) -> None:
            self.parser = EslParser()
            self.count = 0
            self.done = done
            self.started = time.perf_counter()

        def data_received(self, chunk: bytes) -> None:
            self.count += len(self.parser.feed(chunk))
            if self.count >= expected and not self.done.done():
                self.done.set_result(self.count / (time.perf_counter() - self.started))

    async def receive() -> float:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[float] = loop.create_future()
        transport, _ = await loop.create_connection(lambda: Receiver(done), "127.0.0.1", port)
        try:
            return await asyncio.wait_for(done, 120)
        finally:
            transport.close()

    try:
        return asyncio.run(receive())
    finally:
        proc.join(10)


def greenswitch_rate(fmt: str, events: int, runs: int) -> dict[str, object]:
    """Best of ``runs`` greenswitch runs, each in a subprocess (gevent stays out of here)."""
    best: dict[str, object] = {}
    for _ in range(runs):
        cmd = [sys.executable, __file__, "--greenswitch", fmt, str(events)]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        result = next((json.loads(x) for x in out.stdout.splitlines() if x.startswith("{")), None)
        if result is None:
            return {"error": (out.stderr or out.stdout).strip().splitlines()[-1:] or "no output"}
        if "rate" not in result:
            return result  # it cannot parse this stream: no point in trying again
        if float(result["rate"]) > float(best.get("rate", 0)):  # type: ignore[arg-type]
            best = result
    return best


def _greenswitch_child(fmt: str, events: int) -> None:
    import logging

    logging.disable(logging.CRITICAL)  # greenswitch logs every dead greenlet at ERROR
    import gevent
    import gevent.event
    import greenswitch

    data, count, _ = stream(fmt, events)
    proc, port = start_sender(data, greet=True)
    seen = [0]
    done = gevent.event.Event()

    def handler(_event: object) -> None:
        seen[0] += 1
        if seen[0] == count:
            done.set()

    client = greenswitch.InboundESL("127.0.0.1", port, "ClueCon")
    client.register_handle("*", handler)
    started = time.perf_counter()
    client.connect()
    deadline = started + max(30.0, count / 2000)
    reader = client._receive_events_greenlet
    while not done.wait(timeout=0.05):
        if time.perf_counter() > deadline or (reader is not None and reader.dead):
            gevent.sleep(0.2)  # let the event greenlet drain what was parsed
            break
    elapsed = time.perf_counter() - started
    result: dict[str, object] = {"events": count, "handled": seen[0]}
    if seen[0] == count:
        result["rate"] = count / elapsed
    else:
        result["error"] = f"handled {seen[0]} of {count} events (parser greenlet died)"
    client._run = False
    with_timeout = gevent.Timeout(2, False)
    with with_timeout:
        client.sock.close()
    proc.terminate()
    print(json.dumps(result), flush=True)
    os._exit(0)


# -- report --------------------------------------------------------------------------------


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--quick", action="store_true", help="smaller streams, one run each")
    args.add_argument("--greenswitch", nargs=2, metavar=("FMT", "EVENTS"), help=argparse.SUPPRESS)
    opts = args.parse_args()
    if opts.greenswitch:
        _greenswitch_child(opts.greenswitch[0], int(opts.greenswitch[1]))
        return
    runs = 1 if opts.quick else 3
    # the in-process rows are short (~0.6 s each) and the VM's neighbours slow single runs
    # by up to 40 %: more runs, best kept (what the parser can do, like timeit's min)
    feed_runs = 1 if opts.quick else 7
    sizes = {"plain": 6000 if opts.quick else 20000, "json": 12000 if opts.quick else 60000}
    gs_events = 3000 if opts.quick else 10000
    rows = []
    rates: dict[str, float] = {}
    for fmt in ("plain", "json"):
        data, count, distinct = stream(fmt, sizes[fmt])
        avg = len(data) // count
        rates[f"ours-{fmt}"] = best_rate(feed_runs, lambda d=data, c=count: parse_in_process(d, c))
        rates[f"ours-{fmt}-socket"] = best_rate(
            runs, lambda d=data, c=count: parse_over_socket(d, c)
        )
        gs = greenswitch_rate(fmt, gs_events, runs)
        rows.append((fmt, count, distinct, avg, gs))
        if "rate" in gs:
            rates[f"greenswitch-{fmt}"] = float(gs["rate"])  # type: ignore[arg-type]
    rates["orjson-only"] = best_rate(feed_runs, lambda: orjson_only(event_frames("json")))
    baseline = rates.get("greenswitch-plain")
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    command = "python bench/bench_esl_parser.py" + (" --quick" if opts.quick else "")
    lines = [
        "## ESL parser",
        "",
        f"Run {when}, Python {platform.python_version()}, {os.cpu_count()} CPU(s), `{command}`. "
        "Streams built from every event frame of the real captures; best of "
        f"{feed_runs} run(s) in process (and for orjson alone), {runs} over a socket.",
        "",
        "| what | events | avg bytes/event | events/s | vs greenswitch (plain) |",
        "|---|---:|---:|---:|---:|",
    ]
    for fmt, count, distinct, avg, gs in rows:
        for key, label in (
            (f"ours-{fmt}", "in-process feed()"),
            (f"ours-{fmt}-socket", "loopback socket"),
        ):
            ratio = f"{rates[key] / baseline:.1f}x" if baseline else "n/a"
            lines.append(
                f"| EslParser {fmt}, {label} | {count} ({distinct} distinct) | {avg} | "
                f"{rates[key]:,.0f} | {ratio} |"
            )
        label = f"| greenswitch {fmt}, loopback socket | {gs.get('events', gs_events)} | {avg} |"
        if "rate" in gs:
            rate = float(gs["rate"])  # type: ignore[arg-type]
            ratio = f"{rate / baseline:.1f}x" if baseline else "n/a"
            lines.append(f"{label} {rate:,.0f} | {ratio} |")
        else:
            lines.append(f"{label} fails: {gs.get('error')} | - |")
    lines += [
        "",
        f"orjson.loads alone on the same JSON bodies: {rates['orjson-only']:,.0f} events/s "
        "(the ceiling for JSON framing + decoding in Python).",
        "greenswitch cannot decode `text/event-json` (it splits every body into `Name: value` "
        "lines); the JSON rows are compared with greenswitch on the plain stream of the same "
        "events.",
        "On a shared VM the figures move by 10-30 % between runs; compare rows of the same run.",
    ]
    report = "\n".join(lines)
    print(report)
    write_section("esl-parser", report)


if __name__ == "__main__":
    main()
