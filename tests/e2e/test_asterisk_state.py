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
    # contact status comes over ARI; AMI is only opened while reconciling (AstDB), so
    # Asterisk does not format every call's AMI events for an idle session
    await until(lambda: h.driver.ami is not None and not h.driver.ami.connected, 10, "AMI closed")
    assert not await h.driver.endpoint_online("1004")
    assert not await h.driver.endpoint_online("no-such-phone")
    await h.phone("1004")
    changed = await h.events.wait(c.EndpointStatusChanged, endpoint="1004", online=True)
    assert "127.0.0.1" in changed.contact
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
