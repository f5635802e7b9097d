"""Asterisk driver state that survives (SW-4) and phones online: on the real sandbox."""

from __future__ import annotations

import asyncio
import time

import pytest

from switch_control import contract as c
from switch_control.callcontrol import KnownLeg
from tests.e2e.harness import Events, Harness, make_driver, make_harness, until

pytestmark = pytest.mark.e2e


@pytest.fixture
async def h(asterisk):  # type: ignore[no-untyped-def]
    harness = await make_harness(asterisk)
    try:
        yield harness
    finally:
        await harness.close()


async def test_phone_registration_is_seen_without_a_standing_ami_session(h: Harness):
    # presence comes from polling ARI's endpoints; AMI is only opened while reconciling
    # (AstDB), so Asterisk does not format every call's AMI events for an idle session
    await until(lambda: h.driver.ami is not None and not h.driver.ami.connected, 10, "AMI closed")
    assert not await h.driver.endpoint_online("1004")
    assert not await h.driver.endpoint_online("no-such-phone")
    await h.phone("1004")
    await h.events.wait(c.EndpointStatusChanged, endpoint="1004", online=True)
    assert await h.driver.endpoint_online("1004")


async def test_legs_that_end_while_the_controller_is_away_get_their_real_end_time(
    h: Harness, asterisk
):
    await h.phone("1001", audio=False)
    offered, _ = await h.call_in(audio=False, talk_s=3.0)  # the caller hangs up after 3 s
    _, agent_leg = await h.answered_in_bridge(offered, "1001")
    known = [
        KnownLeg(leg.leg_id, leg.call_id, leg.role, leg.up, leg.bridge_id)
        for leg in h.driver.legs.values()
        if not leg.internal
    ]
    await h.driver.close()  # the controller goes away, mid-call
    caller_proc, _ = h.callers[0]
    await asyncio.to_thread(caller_proc.wait, 20)
    hung_up_at = time.time()
    asterisk.cli("channel request hangup all")  # the agent leg would stay up alone
    await asyncio.sleep(2)  # we come back well after

    events = Events()
    driver = make_driver(asterisk)
    await driver.restore(known)
    await driver.start(events.sink)
    try:
        assert await driver.wait_connected(10)
        caller_end = await events.wait(c.CallEnded, leg_id=offered.leg_id)
        agent_end = await events.wait(c.CallEnded, leg_id=agent_leg)
        assert caller_end.cause is c.HangupCause.NORMAL_CLEARING
        assert abs(caller_end.at - hung_up_at) < 1.5, (caller_end.at, hung_up_at)
        assert agent_end.call_id == offered.call_id
        assert agent_end.cause is not c.HangupCause.SWITCH_LOST
    finally:
        await driver.close()


async def test_end_records_are_filed_by_hour_and_old_hours_swept(h: Harness, asterisk):
    """SW-4 records must not pile up in AstDB between reconciliations: the hangup handler
    files each under its hour, and the sweep drops hours older than END_KEEP_HOURS."""
    from switch_control.drivers.asterisk.end_records import END_KEEP_HOURS, end_hour

    await h.phone("1001", audio=False)
    offered, _ = await h.call_in(audio=False, talk_s=1.0)
    _, agent_leg = await h.answered_in_bridge(offered, "1001")
    await h.events.wait(c.CallEnded, leg_id=offered.leg_id)
    await h.driver.hangup(agent_leg)  # (no controller here to release the agent)
    await h.events.wait(c.CallEnded, leg_id=agent_leg)
    now = time.time()
    hour = end_hour(now)
    shown = asterisk.cli("database show cc_end")
    for leg in (offered.leg_id, agent_leg):  # (the call may straddle an hour)
        assert any(f"/cc_end/{x}/{leg}" in shown for x in (hour, hour - 1)), shown
    # four hours later (the records of this call are old by then); a record of an hour
    # still kept is not touched
    later = now + 4 * 3600
    keep = end_hour(later) - END_KEEP_HOURS + 1
    asterisk.cli(f"database put cc_end/{keep} recent-leg 1.0,16")

    assert await h.driver.sweep_end_records(later) > 0
    shown = asterisk.cli("database show cc_end")
    assert offered.leg_id not in shown and agent_leg not in shown, shown
    assert "recent-leg" in shown, shown
    assert await h.driver.sweep_end_records(later) == 0  # those hours are done
    assert h.driver.ami is not None and not h.driver.ami.connected  # closed again
