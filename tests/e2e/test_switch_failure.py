"""SW-4: Asterisk dies mid-call. The controller says so (status, SwitchDisconnected, its app
not registered with the switch unreachable), keeps every task alive, holds commands until
the switch is back, reconnects by itself, and closes the calls that died with the switch
(cause SWITCH_LOST) in state and CDRs."""

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

N = 3


def publish(redis_url: str, cmd: c.Command) -> None:
    async def main() -> None:
        bus = RedisBus.from_url(redis_url)
        await bus.publish(COMMANDS_STREAM, c.encode(cmd))
        await bus.close()

    asyncio.run(main())


def pending_commands(redis_url: str) -> int:
    groups = redis.Redis.from_url(redis_url).xinfo_groups(COMMANDS_STREAM)
    return sum(g["pending"] + (g["lag"] or 0) for g in groups)


def test_asterisk_killed_mid_call(asterisk, controller_factory, redis_db):
    target = f"127.0.0.1:{asterisk.info.sip_port}"
    phone_port = free_udp_port()
    sipp.register("1001", target=target, port=phone_port)
    phone = sipp.run_sipp(
        sipp.phone_scenario(talk_s=120, audio=False),
        target=target,
        port=phone_port,
        uas=True,
        calls=100,
    )
    ctl = controller_factory(DEFAULT_AGENT_EXTENSIONS="1001", WELCOME_PROMPT="").start()
    callers = sipp.run_sipp(
        sipp.caller_scenario("13700137000", talk_s=120, audio=False),
        target=target,
        port=free_udp_port(),
        service="4008001234",
        calls=N,
        rate=10,
        max_concurrent=N,
    )
    try:
        wait_until(
            lambda: (
                (ctl.status() or {}).get("calls") == N
                and len([e for e in stream_events(redis_db) if isinstance(e, c.CallBridged)])
                >= 2 * N
            ),
            30,
            0.2,
            "3 calls bridged",
        )
        callers_legs = {
            e.leg_id
            for e in stream_events(redis_db)
            if isinstance(e, c.CallOffered) and e.role is c.LegRole.CALLER
        }

        asterisk.kill()
        wait_until(
            lambda: (ctl.status() or {"connected": True})["connected"] is False,
            15,
            0.1,
            "status says the switch is gone",
        )
        wait_until(
            lambda: any(isinstance(e, c.SwitchDisconnected) for e in stream_events(redis_db)),
            10,
            what="SwitchDisconnected",
        )
        # the status tells a dead switch from one that only refuses our app
        reg = wait_until(
            lambda: (r := (ctl.status() or {}).get("app_registration") or {}).get("attempts") and r,
            15,
            0.1,
            "status: app not registered, switch unreachable",
        )
        assert reg["registered"] is False and reg["switch_reachable"] is False
        assert reg["since"] is not None and reg["reason"]
        # a supervisor hangs up a call meanwhile: held, not lost, not dead-lettered
        publish(redis_db, c.Hangup(leg_id=next(iter(callers_legs))))
        wait_until(lambda: pending_commands(redis_db) == 1, 10, 0.1, "command held")
        assert ctl.proc.poll() is None, "the controller survives the switch's death"

        asterisk.restart()
        wait_until(ctl.connected, 30, 0.2, "controller reconnected by itself")
        wait_until(
            lambda: (ctl.status() or {}).get("app_registration", {}).get("registered"),
            5,
            0.1,
            "status: app registered again",
        )
        wait_until(lambda: pending_commands(redis_db) == 0, 30, 0.2, "held command handled")
        wait_until(
            lambda: (
                redis.Redis.from_url(redis_db).scard(live_calls_key(ctl.env["CONTROLLER_NAME"]))
                == 0
            ),
            15,
            0.2,
            "calls closed in live state",
        )
    finally:
        callers.cleanup()
        phone.cleanup()
    events = stream_events(redis_db)
    lost = [e for e in events if isinstance(e, c.CallEnded) and e.leg_id in callers_legs]
    assert {e.cause for e in lost} == {c.HangupCause.SWITCH_LOST}
    assert len(lost) == N
    failed = [e for e in events if isinstance(e, c.CommandFailed)]
    assert [f.error for f in failed] == ["NoSuchCall"], "the late hangup finds the call gone"
    assert "crashed" not in ctl.output(), ctl.output()
    assert "Traceback" not in ctl.output(), ctl.output()
    run_projector_until_idle(redis_db)
    calls = Call.objects.filter(caller_number="13700137000")
    assert calls.count() == N
    assert set(calls.values_list("end_cause", flat=True)) == {"SWITCH_LOST"}
    assert all(x.ended_at and x.duration is not None for x in calls)
