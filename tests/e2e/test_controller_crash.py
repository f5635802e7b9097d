"""Foundation: SIGKILL the controller while commands are queued; after a restart every
command has been handled exactly once (SW-4). The effect is counted by the real Asterisk:
each Originate dials ``Local/N@cc-count`` whose dialplan increments a global counter."""

from __future__ import annotations

import asyncio
import secrets

import pytest
import redis

from switch_control import contract as c
from switch_control.bus import COMMANDS_STREAM, RedisBus
from tests.conftest import wait_until
from tests.e2e.helpers import stream_events

pytestmark = pytest.mark.e2e

N = 150
CALLS = 5


def counts(asterisk, ids: range) -> dict[int, int]:  # type: ignore[no-untyped-def]
    """How often the dialplan ran for each originate (``CC_COUNT_<i>``)."""
    out = {}
    for i in ids:
        value = asterisk.ari_get(f"/asterisk/variable?variable=CC_COUNT_{i}")["value"]
        out[i] = int(value or 0)
    return out


def publish(redis_url: str, commands: list[c.Command]) -> None:
    async def main() -> None:
        bus = RedisBus.from_url(redis_url)
        for cmd in commands:
            await bus.publish(COMMANDS_STREAM, c.encode(cmd))
        await bus.close()

    asyncio.run(main())


def consumed_all(redis_url: str) -> bool:
    r = redis.Redis.from_url(redis_url)
    groups = {g["name"]: g for g in r.xinfo_groups(COMMANDS_STREAM)}
    g = groups.get(b"controller")
    return bool(g) and g["pending"] == 0 and g["lag"] == 0


def test_sigkill_with_queued_commands_handles_each_exactly_once(
    asterisk, controller_factory, redis_db
):
    run = secrets.randbelow(9000) + 1000  # own counters in a sandbox shared by tests
    ids = range(run * 1000, run * 1000 + N)
    asterisk.ari_get("/asterisk/variable?variable=CC_COUNT_0")  # reachable
    commands: list[c.Command] = [
        c.Originate(
            # 5 calls of 30 originates: one call's run in order, the calls' concurrently,
            # so at the kill some are in flight and most still queued
            call_id=f"crash-call-{run}-{i % CALLS}",
            leg_id=f"crash-{i}",
            destination=f"Local/{i}@cc-count",
            kind=c.EndpointKind.RAW,
            timeout=5,
        )
        for i in ids
    ]
    publish(redis_db, commands)

    first = controller_factory().start(wait_connected=False)
    sample = range(ids.start, ids.start + 30)
    wait_until(lambda: sum(counts(asterisk, sample).values()) >= 5, 60, 0.01, "some handled")
    first.kill(9)
    done_before_kill = sum(counts(asterisk, ids).values())
    assert done_before_kill < N, "the kill must land while commands are still queued"

    second = controller_factory().start()
    wait_until(lambda: consumed_all(redis_db), 60, 0.1, "every command consumed")
    try:
        wait_until(lambda: all(counts(asterisk, ids).values()), 20, 0.2, "every originate executed")
    except AssertionError as exc:  # say which ones and how far it got
        got = counts(asterisk, ids)
        missing = [f"crash-{i}" for i, n in got.items() if n == 0]
        raise AssertionError(
            f"{exc}: {N - len(missing)} of {N}; never dialled: {missing}\n{second.output()[-3000:]}"
        ) from None
    # a redelivered duplicate (same command id) has no second effect
    publish(redis_db, commands[:5])
    wait_until(
        lambda: (second.status() or {}).get("commands_duplicate", 0) >= 5,
        20,
        0.1,
        "duplicates recognized",
    )
    wait_until(lambda: consumed_all(redis_db), 20, 0.1, "duplicates consumed")
    twice = {i: n for i, n in counts(asterisk, ids).items() if n != 1}
    assert not twice, (twice, second.output())
    failed = [e for e in stream_events(redis_db) if isinstance(e, c.CommandFailed)]
    assert not failed, failed
