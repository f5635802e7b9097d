"""SW-4: the controller SIGKILLed with 20 live bridged calls; restarted, it finds them all
still bridged and controllable, hangs them up on command, and every CDR is complete."""

from __future__ import annotations

import asyncio

import pytest
import redis

from reports.models import Call
from scripts import sipp
from scripts.asterisk_sandbox import free_udp_port
from switch_control import contract as c
from switch_control.bus import COMMANDS_STREAM, RedisBus
from switch_control.livestate import live_calls_key
from tests.conftest import wait_until
from tests.e2e.helpers import run_projector_until_idle, stream_events

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

N = 20


def publish(redis_url: str, commands: list[c.Command]) -> None:
    async def main() -> None:
        bus = RedisBus.from_url(redis_url)
        for cmd in commands:
            await bus.publish(COMMANDS_STREAM, c.encode(cmd))
        await bus.close()

    asyncio.run(main())


def bridged_agent_legs(redis_url: str) -> set[str]:
    events = stream_events(redis_url)
    agent_legs = {
        e.leg_id for e in events if isinstance(e, c.CallOffered) and e.role is c.LegRole.AGENT
    }
    return {e.leg_id for e in events if isinstance(e, c.CallBridged) and e.leg_id in agent_legs}


def test_sigkill_with_20_bridged_calls_then_restart(asterisk, controller_factory, redis_db):
    target = f"127.0.0.1:{asterisk.info.sip_port}"
    phone_port = free_udp_port()
    sipp.register("1001", target=target, port=phone_port)
    phone = sipp.run_sipp(
        sipp.phone_scenario(talk_s=120, audio=False),
        target=target,
        port=phone_port,
        uas=True,
        calls=1000,
    )  # one phone, many calls
    first = controller_factory(DEFAULT_AGENT_EXTENSIONS="1001", WELCOME_PROMPT="").start()
    callers = sipp.run_sipp(
        sipp.caller_scenario("13900139000", talk_s=120, audio=False),
        target=target,
        port=free_udp_port(),
        service="4008001234",
        calls=N,
        rate=10,
        max_concurrent=N,
    )
    try:
        wait_until(lambda: len(bridged_agent_legs(redis_db)) >= N, 60, 0.2, "20 calls bridged")
        first.kill(9)

        second = controller_factory(DEFAULT_AGENT_EXTENSIONS="1001", WELCOME_PROMPT="").start()
        bridges = asterisk.ari_get("/bridges")
        two_party = [b for b in bridges if len(b["channels"]) == 2]
        assert len(two_party) == N, bridges
        status = wait_until(second.status, 10, what="status")
        assert status["calls"] == N, "the restarted controller knows every live call"

        callers_legs = [b["id"] for b in two_party]  # bridge id == call id == caller leg
        publish(redis_db, [c.Hangup(leg_id=leg) for leg in callers_legs])
        wait_until(lambda: not asterisk.ari_get("/channels"), 30, 0.2, "every leg hung up")
        assert callers.wait(30) == 0, callers.output()
    except AssertionError:
        print("callers:", callers.output(), "\nphone:", phone.output())
        print(
            "events:",
            [
                (e.TYPE, getattr(e, "leg_id", ""), getattr(e, "reason", ""))
                for e in stream_events(redis_db)
            ][:40],
        )
        raise
    finally:
        callers.cleanup()
        phone.cleanup()
    failed = [e for e in stream_events(redis_db) if isinstance(e, c.CommandFailed)]
    assert not failed, failed
    run_projector_until_idle(redis_db)
    calls = Call.objects.filter(caller_number="13900139000")
    assert calls.count() == N
    for call in calls:
        assert call.ended_at is not None and call.duration and call.duration > 0, call
        assert call.agent is None or call.agent.extension == "1001"
        assert call.legs.filter(role="agent", ended_at__isnull=False).count() == 1
    assert redis.Redis.from_url(redis_db).scard(live_calls_key(second.env["CONTROLLER_NAME"])) == 0
