"""Benchmark: the shared live ACD state (acd.live) at issue 13's size — 10,000 agents,
500 queues, 5,000 waiting calls — on a private redis-server.

Reports the Redis memory of that state (INFO memory used_memory before/after, and
MEMORY USAGE of one key of each kind), then the latency of ``reserve_first`` (the one
round trip that turns the engine's ranking into a reservation) over that population:
each sample picks a random queue, ranks its signed-in agents (shuffled here: the ranking
is the engine's, not measured), reserves the first ready one for a call, and — untimed
— releases it again so the population stays the same. Also timed: the realistic path
"read the queue's agent snapshots (one pipeline) + reserve_first".

    .venv/bin/python bench/bench_acd_live.py [--agents 10000] [--queues 500]
        [--waiting 5000] [--samples 5000] [--per-agent 3]

Prints the numbers (the lead copies them into bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Iterable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import redis.asyncio as aioredis  # noqa: E402

from acd.live import LiveStore, keys  # noqa: E402
from bench.local_redis import private_redis  # noqa: E402

T0 = 1_750_000_000.0


async def in_batches(coros: Iterable[Awaitable[object]], size: int = 50) -> None:
    batch: list[Awaitable[object]] = []
    for c in coros:
        batch.append(c)
        if len(batch) >= size:
            await asyncio.gather(*batch)
            batch = []
    await asyncio.gather(*batch)


async def populate(store: LiveStore, args: argparse.Namespace, rng: random.Random) -> None:
    queues = [f"q{i}" for i in range(args.queues)]
    agents = [f"{10000 + i}" for i in range(args.agents)]

    async def one_agent(i: int, a: str) -> None:
        qs = rng.sample(queues, args.per_agent)
        kind = i % 10
        await store.login(
            a, T0 + i * 0.001, queues=qs, ready=kind < 7, reason="" if kind < 7 else "break"
        )
        if kind == 9:  # 10% on a call, so a real mix of states
            await store.set_ready(a, T0 + 1)
            await store.reserve(a, f"live{i}", "ctl-a", 20, T0 + 2)
            await store.confirm(a, f"live{i}", T0 + 3)

    await in_batches(one_agent(i, a) for i, a in enumerate(agents))
    await in_batches(
        store.enqueue(
            f"w{i}",
            queues[i % args.queues],
            "ctl-a" if i % 2 else "ctl-b",
            T0 + 10 + i * 0.01,
            vip=i % 50 == 0,
            priority=rng.choice((0, 0, 0, 5)),
        )
        for i in range(args.waiting)
    )


async def memory(client: aioredis.Redis) -> int:
    info = await client.info("memory")
    return int(info["used_memory"])


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def run(url: str, args: argparse.Namespace) -> None:
    client = aioredis.Redis.from_url(url)
    store = LiveStore(client)
    await store.load_scripts()
    rng = random.Random(13)
    await client.flushall()
    before = await memory(client)
    started = time.perf_counter()
    await populate(store, args, rng)
    populated_s = time.perf_counter() - started
    after = await memory(client)
    used = after - before
    print(
        f"population: {args.agents} agents (70% ready, 20% not ready, 10% on call, "
        f"{args.per_agent} queues each), {args.queues} queues, {args.waiting} waiting calls "
        f"(written in {populated_s:.1f} s)"
    )
    print(
        f"redis used_memory: before {before:,} B, after {after:,} B, state {used:,} B "
        f"= {used / 2**20:.2f} MiB"
    )
    for what, key in (
        ("agent hash (ready)", keys.agent("10000")),
        ("agent hash (on call)", keys.agent("10009")),
        ("queue agents set", keys.queue_agents("q0")),
        ("queue waiting zset", keys.queue_waiting("q0")),
        ("waiting call hash", keys.call("w1")),
        ("controller calls set", keys.controller_calls("ctl-a")),
    ):
        print(f"  MEMORY USAGE {what:<22} {await client.memory_usage(key) or 0:>8,} B  ({key})")
    print(f"  keys: {await client.dbsize():,}")

    members = {f"q{i}": await store.agents_in_queue(f"q{i}") for i in range(args.queues)}
    sizes = [len(m) for m in members.values()]
    print(f"candidates per queue: median {statistics.median(sizes):.0f}, max {max(sizes)}")

    async def chunk(first: int, n: int, with_read: bool) -> tuple[list[float], float, int]:
        """n reservations (client ms each), Redis's own usec per EVALSHA among them
        (INFO commandstats, reset before), then — untimed — their releases."""
        await client.config_resetstat()
        ms: list[float] = []
        taken: list[tuple[str, str]] = []
        for i in range(first, first + n):
            ranking = members[f"q{rng.randrange(args.queues)}"][:]
            rng.shuffle(ranking)
            call = f"bench{i}"
            t = time.perf_counter_ns()
            if with_read:
                await store.agents(ranking)
            got = await store.reserve_first(ranking, call, "ctl-a", 20, T0 + 100)
            ms.append((time.perf_counter_ns() - t) / 1e6)
            if got is not None:
                taken.append((got.agent_id, call))
        stats = await client.info("commandstats")
        usec = float(stats.get("cmdstat_evalsha", {}).get("usec_per_call", 0.0))
        for agent_id, call in taken:
            await store.release(agent_id, call, T0 + 100.5)
        return ms, usec, len(taken)

    for label, with_read in (("reserve_first", False), ("snapshots + reserve_first", True)):
        await chunk(0, 200, with_read)  # warm-up
        ms: list[float] = []
        server: list[float] = []
        hits = 0
        for first in range(0, args.samples, 500):
            got_ms, usec, n = await chunk(first, min(500, args.samples - first), with_read)
            ms += got_ms
            server.append(usec)
            hits += n
        print(
            f"{label}: {len(ms)} samples, reserved {hits}; client ms p50 {pct(ms, 50):.3f} "
            f"p90 {pct(ms, 90):.3f} p99 {pct(ms, 99):.3f} max {max(ms):.3f}; "
            f"redis-side usec per reserve_first {statistics.mean(server):.1f}"
        )
    await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--queues", type=int, default=500)
    parser.add_argument("--waiting", type=int, default=5_000)
    parser.add_argument("--per-agent", type=int, default=3)
    parser.add_argument("--samples", type=int, default=5_000)
    parser.add_argument("--uvloop", action="store_true", help="the controller's event loop")
    args = parser.parse_args()
    with private_redis() as (url, _client):
        if args.uvloop:
            import uvloop

            uvloop.run(run(url, args))
        else:
            asyncio.run(run(url, args))


if __name__ == "__main__":
    main()
