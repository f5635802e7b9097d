"""Issue 13 Part 4 on the real sandbox Asterisk: a caller to an access number routed to a
queue is answered, queued, and reaches the SIPp phone of a logged-in ready agent (ACD-1,
ACD-7); after the call the agent wraps up."""

from __future__ import annotations

import asyncio

import orjson
import pytest
import redis

from scripts import sipp
from scripts.asterisk_sandbox import free_udp_port
from switch_control import contract as c
from switch_control.bus import COMMANDS_STREAM, RedisBus
from tests.conftest import wait_until
from tests.e2e.helpers import stream_events

pytestmark = [pytest.mark.e2e]

SNAPSHOT = {
    "schema": 1,
    "version": 1,
    "queues": [
        {
            "id": 10,
            "name": "售前咨询",
            "enabled": True,
            "strategy": "longest_idle",
            "ring_timeout": 20,
            "wrap_up_time": 30,
            "max_wait": 120,
            "members": [{"agent_id": 1, "tier": 1, "position": 0}],
            "overflow": [],
        }
    ],
    "agents": [{"id": 1, "extension": "1001", "name": "张伟", "team_id": None, "skills": {}}],
    "access_numbers": [{"number": "4008001234", "enabled": True, "queue_id": 10, "priority": 0}],
    "vip_numbers": [],
    "not_ready_reasons": [],
}


def publish(redis_url: str, cmd: c.Command) -> None:
    async def main() -> None:
        bus = RedisBus.from_url(redis_url)
        await bus.publish(COMMANDS_STREAM, c.encode(cmd))
        await bus.close()

    asyncio.run(main())


def of(redis_url: str, kind: type[c.Event]) -> list[c.Event]:
    return [e for e in stream_events(redis_url) if isinstance(e, kind)]


def test_queue_caller_reaches_a_ready_agents_phone(asterisk, controller_factory, redis_db):
    r = redis.Redis.from_url(redis_db)
    r.set("acd:config", orjson.dumps(SNAPSHOT))
    target = f"127.0.0.1:{asterisk.info.sip_port}"
    phone_port = free_udp_port()
    sipp.register("1001", target=target, port=phone_port)
    phone = sipp.run_sipp(
        sipp.phone_scenario(talk_s=30, audio=False), target=target, port=phone_port, uas=True
    )
    ctl = controller_factory(DEFAULT_AGENT_EXTENSIONS="", WELCOME_PROMPT="").start()
    publish(redis_db, c.LoginAgent(agent_id="1", ready=True))
    wait_until(lambda: of(redis_db, c.AgentStateChanged), 10, what="agent logged in")
    caller = sipp.run_sipp(
        sipp.caller_scenario("13800138000", talk_s=4.0, audio=False),
        target=target,
        port=free_udp_port(),
        service="4008001234",
    )
    try:
        (queued,) = wait_until(lambda: of(redis_db, c.CallQueued), 10, what="CallQueued")
        (offered,) = wait_until(lambda: of(redis_db, c.AgentOffered), 10, what="AgentOffered")
        assert isinstance(queued, c.CallQueued) and isinstance(offered, c.AgentOffered)
        assert (queued.queue_id, offered.agent_id, offered.call_id) == ("10", "1", queued.call_id)
        wait_until(
            lambda: [e for e in of(redis_db, c.CallBridged) if e.leg_id == offered.leg_id],
            10,
            what="agent bridged with the caller",
        )
        assert caller.wait(30) == 0, caller.output()
        states = wait_until(
            lambda: (
                [
                    e.state
                    for e in of(redis_db, c.AgentStateChanged)
                    if isinstance(e, c.AgentStateChanged) and e.state == "wrap_up"
                ]
                and [e.state for e in of(redis_db, c.AgentStateChanged)]
            ),  # type: ignore[attr-defined]
            10,
            what="wrap-up after the call",
        )
        assert states == ["ready", "ringing", "on_call", "wrap_up"]
        assert of(redis_db, c.CommandFailed) == []
        # the caller's hold tone played (it failed when the bridge join waited behind it)
        assert f"{queued.call_id}: Playback failed" not in asterisk.log_tail(20000)
    except AssertionError:
        print("caller:", caller.output(), "\nphone:", phone.output())
        print("controller:", ctl.log.read_text()[-6000:])
        print(
            "events:",
            [
                (e.TYPE, getattr(e, "leg_id", ""), round(e.at % 100, 3))
                for e in stream_events(redis_db)
            ],
        )
        print("asterisk:", asterisk.log_tail(4000))
        raise
    finally:
        caller.cleanup()
        phone.cleanup()
