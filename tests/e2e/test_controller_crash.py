"""Foundation: SIGKILL the controller while commands are queued; after a restart every
command has been handled exactly once (SW-4). The effect is counted by the real Asterisk:
each Originate dials ``Local/N@cc-count`` whose dialplan increments a global counter."""

from __future__ import annotations

import asyncio

import pytest
import redis

from switch_control import contract as c
from switch_control.bus import COMMANDS_STREAM, RedisBus
from tests.conftest import wait_until
from tests.e2e.helpers import stream_events

pytestmark = pytest.mark.e2e

N = 150


def counter(asterisk) -> int:  # type: ignore[no-untyped-def]
    value = asterisk.ari_get("/asterisk/variable?variable=CC_COUNT")["value"]
    return int(value or 0)


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
    asterisk.ari_get("/asterisk/variable?variable=CC_COUNT")  # reachable
    base = counter(asterisk)
    commands: list[c.Command] = [
        c.Originate(
            leg_id=f"crash-{i}",
            destination=f"Local/{i}@cc-count",
            kind=c.EndpointKind.RAW,
            timeout=5,
        )
        for i in range(N)
    ]
    publish(redis_db, commands)

    first = controller_factory().start(wait_connected=False)
    wait_until(lambda: counter(asterisk) - base >= 15, 60, 0.01, "some commands handled")
    first.kill(9)
    done_before_kill = counter(asterisk) - base
    assert done_before_kill < N, "the kill must land while commands are still queued"

    second = controller_factory().start()
    wait_until(lambda: consumed_all(redis_db), 60, 0.1, "every command consumed")
    try:
        wait_until(lambda: counter(asterisk) - base >= N, 20, 0.05, "every originate executed")
    except AssertionError as exc:  # (seen once on a busy machine: say how far it got)
        got = counter(asterisk) - base
        raise AssertionError(f"{exc}: {got} of {N}\n{second.output()[-3000:]}") from None
    # a redelivered duplicate (same command id) has no second effect
    publish(redis_db, commands[:5])
    wait_until(
        lambda: (second.status() or {}).get("commands_duplicate", 0) >= 5,
        20,
        0.1,
        "duplicates recognized",
    )
    wait_until(lambda: consumed_all(redis_db), 20, 0.1, "duplicates consumed")
    assert counter(asterisk) - base == N, second.output()
    failed = [e for e in stream_events(redis_db) if isinstance(e, c.CommandFailed)]
    assert not failed, failed
