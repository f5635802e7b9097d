"""Issue 13 part 0.4 (call side, ADM-4): live call keys per controller on a real Redis —
two controllers never see each other's calls, un-namespaced keys of an older build are
adopted once, and the leg -> controller map tells the web where a leg's command goes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from switch_control.livestate import (
    LEGACY_CALL_PREFIX,
    LEGACY_LIVE_CALLS,
    adopt_legacy_calls,
    call_prefix,
    command_stream,
    controller_for_leg,
    leg_owner_key,
    live_calls_key,
    load_calls,
    queue_leg_owners,
)

pytestmark = pytest.mark.redis


@pytest.fixture
async def client(redis_db: str) -> AsyncIterator[aioredis.Redis]:
    r = aioredis.Redis.from_url(redis_db)
    yield r
    await r.aclose()


async def write_call(client: aioredis.Redis, controller: str, call_id: str) -> None:
    await client.set(call_prefix(controller) + call_id, b'{"call_id":"%s"}' % call_id.encode())
    await client.sadd(live_calls_key(controller), call_id)


async def test_each_controller_loads_only_its_own_calls(client: aioredis.Redis) -> None:
    await write_call(client, "ctl-1", "c1")
    await write_call(client, "ctl-2", "c2")
    assert await load_calls(client, "ctl-1") == [b'{"call_id":"c1"}']
    assert await load_calls(client, "ctl-2") == [b'{"call_id":"c2"}']
    assert await load_calls(client, "ctl-3") == []


async def test_legacy_keys_are_adopted_once_by_one_controller(client: aioredis.Redis) -> None:
    for call_id in ("old-1", "old-2"):
        await client.set(LEGACY_CALL_PREFIX + call_id, b'{"call_id":"%s"}' % call_id.encode())
    await client.sadd(LEGACY_LIVE_CALLS, "old-1", "old-2", "gone")  # "gone": no state left
    counts = await asyncio.gather(
        adopt_legacy_calls(client, "ctl-1"), adopt_legacy_calls(client, "ctl-2")
    )
    assert sorted(counts) == [0, 2]
    winner = "ctl-1" if counts[0] == 2 else "ctl-2"
    assert sorted(await load_calls(client, winner)) == [
        b'{"call_id":"old-1"}',
        b'{"call_id":"old-2"}',
    ]
    assert await client.exists(LEGACY_LIVE_CALLS, LEGACY_CALL_PREFIX + "old-1") == 0
    assert await adopt_legacy_calls(client, winner) == 0  # once
    assert not [k async for k in client.scan_iter("callctl:calls*")]


async def test_leg_owner_map_routes_commands_and_forgets_ended_legs(
    client: aioredis.Redis,
) -> None:
    async with client.pipeline(transaction=False) as pipe:
        queue_leg_owners(pipe, "ctl-1", ["leg-a", "leg-b"], [])
        queue_leg_owners(pipe, "ctl-2", ["leg-c"], [])
        queue_leg_owners(pipe, "ctl-1", [], [])  # nothing queued for an empty batch
        await pipe.execute()
    assert await controller_for_leg(client, "leg-a") == "ctl-1"
    assert await controller_for_leg(client, "leg-c") == "ctl-2"
    assert 0 < await client.ttl(leg_owner_key("leg-a")) <= 24 * 3600  # a safety net
    async with client.pipeline(transaction=False) as pipe:
        queue_leg_owners(pipe, "ctl-1", [], ["leg-a"])
        await pipe.execute()
    assert await controller_for_leg(client, "leg-a") is None
    assert await controller_for_leg(client, "leg-b") == "ctl-1"
    assert command_stream("ctl-1") == "callctl:commands:ctl-1"
    assert command_stream(None) == "callctl:commands"
