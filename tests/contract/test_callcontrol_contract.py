"""One contract suite over every ``CallControl`` (SW-1): the same operations give the same
contract events, whatever the switch. Parametrized over the drivers' worlds."""

from __future__ import annotations

import asyncio

import pytest

from switch_control import contract as c
from switch_control.errors import CommandRejected, NoSuchCall
from tests.contract.worlds import make_world
from tests.e2e.harness import until

DRIVERS = ["fake", "freeswitch", pytest.param("asterisk", marks=pytest.mark.e2e)]


@pytest.fixture(params=DRIVERS)
async def world(request):  # type: ignore[no-untyped-def]
    w = await make_world(request.param, request)
    try:
        yield w
    finally:
        await w.close()


async def connected_call(world, agent: str = "1001"):  # type: ignore[no-untyped-def]
    """Caller answered, in a bridge, agent rung and connected; returns ids."""
    await world.phone(agent)
    offered = await world.inbound_call("13800138000", "4008001234")
    await world.driver.answer(offered.leg_id)
    bridge_id = await world.driver.bridge([offered.leg_id], f"cb-{offered.leg_id}")
    agent_leg = f"ag-{offered.leg_id}"
    await world.driver.originate(
        leg_id=agent_leg,
        destination=agent,
        join_bridge=bridge_id,
        variables={"CC_CALL_ID": offered.call_id},
    )
    await world.events.wait(c.CallBridged, leg_id=agent_leg)
    return offered, bridge_id, agent_leg


async def test_inbound_call_answered_and_hung_up(world):
    offered = await world.inbound_call("13800138000", "4008001234")
    assert offered.direction is c.Direction.INBOUND
    assert (offered.caller_number, offered.callee_number) == ("13800138000", "4008001234")
    await world.driver.answer(offered.leg_id)
    answered = await world.events.wait(c.CallAnswered, leg_id=offered.leg_id)
    assert answered.call_id == offered.call_id
    await world.driver.hangup(offered.leg_id)
    ended = await world.events.wait(c.CallEnded, leg_id=offered.leg_id)
    assert ended.cause is c.HangupCause.NORMAL_CLEARING


async def test_originated_agent_leg_rings_answers_and_joins_the_callers_bridge(world):
    offered, _, agent_leg = await connected_call(world)
    for kind in (c.CallOffered, c.CallRinging, c.CallAnswered, c.CallBridged):
        ev = await world.events.wait(kind, leg_id=agent_leg)
        assert ev.call_id == offered.call_id, kind
    assert world.events.of(c.CallOffered, leg_id=agent_leg)[0].role is c.LegRole.AGENT
    assert world.events.of(c.CallBridged, leg_id=offered.leg_id)
    assert await world.driver.leg_existed(agent_leg)
    assert not await world.driver.leg_existed("never-dialled")
    legs = {x.leg_id for x in await world.driver.list_legs()}
    assert {offered.leg_id, agent_leg} <= legs


async def test_busy_agent_ends_with_user_busy(world):
    await world.phone("1003", "busy")
    offered = await world.inbound_call("13800138000", "4008001234")
    await world.driver.originate(
        leg_id="busy-leg", destination="1003", variables={"CC_CALL_ID": offered.call_id}
    )
    ended = await world.events.wait(c.CallEnded, leg_id="busy-leg")
    assert ended.cause is c.HangupCause.USER_BUSY


async def test_hold_and_unhold(world):
    offered, _, _ = await connected_call(world)
    await world.driver.hold(offered.leg_id)
    await world.events.wait(c.CallHeld, leg_id=offered.leg_id)
    await world.driver.unhold(offered.leg_id)
    await world.events.wait(c.CallResumed, leg_id=offered.leg_id)


async def test_collect_digits(world):
    offered = await world.inbound_call("13800138000", "4008001234", dtmf="12#", dtmf_after_s=2.0)
    await world.driver.answer(offered.leg_id)
    digits = await world.driver.collect_digits(
        offered.leg_id, max_digits=5, terminator="#", first_digit_timeout=8, overall_timeout=12
    )
    assert digits == ("12", False)


async def test_record_a_bridge(world):
    offered, bridge_id, _ = await connected_call(world)
    await world.driver.record(name=f"rec-{offered.leg_id}", bridge_id=bridge_id)
    started = await world.events.wait(c.RecordingStarted, name=f"rec-{offered.leg_id}")
    assert started.call_id == offered.call_id
    await asyncio.sleep(1.0)  # a second of conversation (the switch starts writing async)
    await world.driver.stop_recording(f"rec-{offered.leg_id}")
    await world.events.wait(c.RecordingFinished, name=f"rec-{offered.leg_id}", timeout=20)
    assert await world.driver.fetch_recording(f"rec-{offered.leg_id}")


async def test_three_way_and_intercept(world):
    _, _, agent_leg = await connected_call(world)
    await world.phone("1003")
    third = await world.driver.add_to_call(agent_leg, destination="1003", new_leg_id="third")
    await world.events.wait(c.CallBridged, leg_id=third)
    await world.phone("9001")
    sup = await world.driver.add_to_call(
        agent_leg,
        destination="9001",
        new_leg_id="sup",
        replace_leg=agent_leg,
        role=c.LegRole.SUPERVISOR,
    )
    await world.events.wait(c.CallBridged, leg_id=sup)
    await world.events.wait(c.CallEnded, leg_id=agent_leg)
    assert world.events.of(c.CallOffered, leg_id=sup)[0].role is c.LegRole.SUPERVISOR


async def test_attended_transfer(world):
    offered, _, agent_leg = await connected_call(world)
    await world.phone("1002")
    consulted = await world.driver.consult(agent_leg, destination="1002", new_leg_id="cons")
    await world.events.wait(c.CallHeld, leg_id=offered.leg_id)
    await world.events.wait(c.CallAnswered, leg_id=consulted)
    await until(lambda: world.events.of(c.CallBridged, leg_id=consulted), 10, "consulted")
    await world.driver.complete_consult(agent_leg)
    await world.events.wait(c.CallEnded, leg_id=agent_leg)
    await world.events.wait(c.CallResumed, leg_id=offered.leg_id)


async def test_operations_on_a_gone_leg(world):
    offered = await world.inbound_call("13800138000", "4008001234")
    await world.driver.hangup(offered.leg_id)
    await world.events.wait(c.CallEnded, leg_id=offered.leg_id)
    with pytest.raises(NoSuchCall):
        await world.driver.answer(offered.leg_id)
    with pytest.raises(NoSuchCall):
        await world.driver.hold(offered.leg_id)
    with pytest.raises((NoSuchCall, CommandRejected)):
        await world.driver.bridge([offered.leg_id], "gone-bridge")
