"""Benchmark: the controller's own CPU per call, without a switch and without sockets to it.

The call-path bench (``bench_call_path.py``) measures the controller on a real Asterisk,
where the machine's noise moves results by 10-30 % between runs. This one isolates the
Python side of the same call path so that a code change to it can be judged alone:

- the real ``Controller`` (state, policy, executor, publisher to a private Redis) and the
  real ``AsteriskDriver`` (event normalization, leg table) are built in process;
- ARI REST is replaced by a coroutine that answers at once (no aiohttp, no socket): what
  a REST call costs is the call-path bench's business;
- the eight ARI events Asterisk sends for one call of that bench (JSON shaped like
  Asterisk 22's) are fed through the ARI client's dispatch, in the order a real call
  produces them, with the controller's tasks run in between.

Reported: CPU per call (process time over ``--calls`` calls, the publisher's last batch
included), best and median of ``--runs``; ``--profile`` prints cProfile's top functions.
Rewrites the ``event-path`` section of ``bench/RESULTS.md`` (``--no-write``: don't).

    .venv/bin/python bench/bench_event_path.py [--calls 3000] [--runs 5] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import orjson  # noqa: E402
import redis.asyncio as aioredis  # noqa: E402

from bench.local_redis import private_redis  # noqa: E402
from bench.results import run_header, write_section  # noqa: E402
from switch_control.bus import EVENTS_STREAM, RedisBus  # noqa: E402
from switch_control.daemon import Controller, ControllerConfig  # noqa: E402
from switch_control.drivers.asterisk import AsteriskDriver  # noqa: E402
from switch_control.engine.policy import PolicyConfig, agent_leg_id  # noqa: E402
from switch_control.protocols.ari import AriClient, AriConfig, MemoryTransport  # noqa: E402
from switch_control.runtime import settle_gc  # noqa: E402

APP = "callcenter"
STAMP = "2026-11-22T15:00:00.123+0000"


def channel(cid: str, name: str, state: str, number: str, exten: str, cc: str, role: str) -> Any:
    return {
        "id": cid,
        "name": name,
        "state": state,
        "protocol_id": f"{cid}@127.0.0.1",
        "caller": {"name": "", "number": number},
        "connected": {"name": "", "number": ""},
        "accountcode": "",
        "dialplan": {
            "context": "from-trunk",
            "exten": exten,
            "priority": 2,
            "app_name": "Stasis",
            "app_data": f"{APP},inbound,{exten}",
        },
        "creationtime": STAMP,
        "language": "en",
        "channelvars": {"CC_CALL_ID": cc, "CC_ROLE": role},
    }


def call_events(n: int) -> list[bytes]:
    """The ARI events of one call of the call-path bench, in a real call's order."""
    cid = f"1795360{n:06d}.{n}"
    aid = agent_leg_id(cid, 0)
    number = f"1380013{n % 10000:04d}"

    def ev(kind: str, **body: Any) -> bytes:
        return orjson.dumps(
            {"type": kind, "timestamp": STAMP, **body, "asterisk_id": "02:42", "application": APP}
        )

    def caller(state: str) -> Any:
        return channel(cid, f"PJSIP/trunk-{n:08x}", state, number, "4001", "", "")

    def agent(state: str) -> Any:
        return channel(aid, f"PJSIP/1001-{n:08x}", state, number, "1001", cid, "agent")

    return [
        ev("StasisStart", args=["inbound", "4001"], channel=caller("Ring")),
        ev("ChannelStateChange", channel=caller("Up")),
        ev("ChannelStateChange", channel=agent("Ringing")),
        ev(
            "PlaybackFinished",
            playback={
                "id": f"p-{cid}",
                "media_uri": "sound:beep",
                "target_uri": f"channel:{cid}",
                "language": "en",
                "state": "done",
            },
        ),
        ev("ChannelStateChange", channel=agent("Up")),
        ev("StasisStart", args=["dialed"], channel=agent("Up")),
        ev("ChannelDestroyed", cause=16, cause_txt="Normal Clearing", channel=agent("Up")),
        ev("ChannelDestroyed", cause=16, cause_txt="Normal Clearing", channel=caller("Up")),
    ]


async def run_calls(calls: int, redis_url: str) -> tuple[float, int]:
    client = aioredis.Redis.from_url(redis_url, decode_responses=False)
    await client.flushall()
    stub = MemoryTransport()  # every REST request answered 204 at once, and counted
    ari = AriClient(
        AriConfig("http://127.0.0.1:9/ari", "bench", "bench", app=APP), transport=stub.factory
    )
    driver = AsteriskDriver(ari)
    cfg = ControllerConfig(policy=PolicyConfig(welcome=("sound:beep",), agents=("1001",)))
    controller = Controller(cfg, driver, RedisBus(client), client)
    driver.sink = controller.on_driver_event  # what driver.start() does, minus the socket
    publisher = asyncio.create_task(controller._publisher())
    feeds = [call_events(n) for n in range(calls)]

    async def settle() -> None:
        for _ in range(6):  # the policy's batch and the join run in tasks
            await asyncio.sleep(0)

    t0 = time.process_time()
    for events in feeds:
        for raw in events:
            await ari._dispatch_raw(raw)
            await settle()
    while controller.events_published < calls * 12 or not controller._outbox.empty():
        await asyncio.sleep(0.001)
    cpu = time.process_time() - t0
    publisher.cancel()
    published = await client.xlen(EVENTS_STREAM)
    await client.aclose()
    if controller.calls or driver.legs:
        raise SystemExit(f"calls left over: {len(controller.calls)} calls, {len(driver.legs)} legs")
    requests = len(stub.requests)
    if requests != calls * 9:  # (8 of the path, 1 to keep the caller subscribed)
        raise SystemExit(f"{requests} REST requests for {calls} calls (expected 9 per call)")
    return cpu * 1000 / calls, int(published)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--calls", type=int, default=3000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--profile", action="store_true", help="cProfile one more run")
    ap.add_argument("--no-write", action="store_true", help="do not touch bench/RESULTS.md")
    args = ap.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "callcenter.settings")
    with private_redis() as (url, _client):
        try:
            import uvloop

            loop_factory = uvloop.new_event_loop
        except ImportError:
            loop_factory = None
        settle_gc()  # as run_daemon does for the controller
        results = []
        for _ in range(args.runs):
            with asyncio.Runner(loop_factory=loop_factory) as runner:
                results.append(runner.run(run_calls(args.calls, url)))
        ms = [r[0] for r in results]
        print(
            f"controller event path, {args.calls} calls x 8 ARI events -> {results[0][1]} "
            f"published; CPU per call best {min(ms):.3f} ms, median {statistics.median(ms):.3f}"
            f" ms ({args.runs} runs)"
        )
        if not args.no_write:
            write_section(
                "event-path",
                "## Controller event path (no switch)\n\n"
                f"Run {run_header()}, `.venv/bin/python bench/bench_event_path.py`. The real "
                "controller and Asterisk driver in one process, a private Redis, ARI REST "
                "answered in process (no socket); the 8 ARI events of one call of the "
                f"call-path bench fed in a real call's order, {args.calls} calls per run "
                f"({results[0][1]} contract events published). The Python side of the "
                "controller's CPU per call, without REST or websocket I/O.\n\n"
                "| runs | CPU per call best / median (ms) |\n|---:|---:|\n"
                f"| {args.runs} | {min(ms):.3f} / {statistics.median(ms):.3f} |\n",
            )
        if args.profile:
            prof = cProfile.Profile()
            with asyncio.Runner(loop_factory=loop_factory) as runner:
                prof.enable()
                runner.run(run_calls(args.calls, url))
                prof.disable()
            pstats.Stats(prof).sort_stats("tottime").print_stats(30)


if __name__ == "__main__":
    main()
