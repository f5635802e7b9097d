"""One contract suite over every ``CallControl`` (SW-1): the same operations give the same
contract events, whatever the switch, and the same effects a person would notice (who is
bridged with whom, who hears what, who ended with which cause), as each world's switch
itself reports them. Parametrized over the drivers' worlds; every ``CallControl`` method
has a test here (``test_every_callcontrol_method_has_a_contract_test``)."""

from __future__ import annotations

import asyncio
import inspect
import re
import time
from pathlib import Path

import pytest

from switch_control import contract as c
from switch_control.callcontrol import CallControl, KnownLeg
from switch_control.drivers.fake import PhoneBehavior
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


async def connected_call(  # type: ignore[no-untyped-def]
    world, agent: str = "1001", *, caller_talks: bool = False, agent_talks: bool = False
):
    """Caller answered, in a bridge, agent rung and connected; returns ids."""
    await world.phone(agent, talks=agent_talks)
    offered = await world.inbound_call("13800138000", "4008001234", talks=caller_talks)
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
    info = await world.driver.info()
    assert info.connected and info.kind == world.driver.kind
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
    await world.phone("1003", PhoneBehavior.BUSY)
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
    """SW-2 three-way, SW-3 intercept: the third party stays with the caller when the
    supervisor takes over; the agent, who was talking, is dropped normally."""
    offered, bridge_id, agent_leg = await connected_call(world)
    await world.phone("1003")
    third = await world.driver.add_to_call(agent_leg, destination="1003", new_leg_id="third")
    joined = await world.events.wait(c.CallBridged, leg_id=third)
    assert joined.bridge_id == bridge_id
    assert world.events.of(c.CallOffered, leg_id=third)[0].call_id == offered.call_id
    await until(
        lambda: world.bridged(bridge_id) == {offered.leg_id, agent_leg, third}, 10, "three-way"
    )
    await world.phone("9001")
    sup = await world.driver.add_to_call(
        agent_leg,
        destination="9001",
        new_leg_id="sup",
        replace_leg=agent_leg,
        role=c.LegRole.SUPERVISOR,
    )
    await world.events.wait(c.CallBridged, leg_id=sup)
    ended = await world.events.wait(c.CallEnded, leg_id=agent_leg)
    assert ended.cause is c.HangupCause.NORMAL_CLEARING  # (PICKED_OFF: a ringing leg)
    assert world.events.of(c.CallOffered, leg_id=sup)[0].role is c.LegRole.SUPERVISOR
    await until(
        lambda: world.bridged(bridge_id) == {offered.leg_id, third, sup},
        10,
        "the third party stays bridged with the caller and the supervisor",
    )
    assert not world.events.of(c.CallEnded, leg_id=third)
    assert not world.events.of(c.CallEnded, leg_id=offered.leg_id)


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


async def test_attended_transfer_cancelled(world):
    """SW-2: the consulted party drops, the agent is back with the caller."""
    offered, bridge_id, agent_leg = await connected_call(world)
    await world.phone("1002")
    consulted = await world.driver.consult(agent_leg, destination="1002", new_leg_id="cons-c")
    await world.events.wait(c.CallBridged, leg_id=consulted)
    await world.driver.cancel_consult(agent_leg)
    ended = await world.events.wait(c.CallEnded, leg_id=consulted)
    assert ended.cause is c.HangupCause.NORMAL_CLEARING
    await world.events.wait(c.CallResumed, leg_id=offered.leg_id)
    await until(
        lambda: world.bridged(bridge_id) == {offered.leg_id, agent_leg}, 10, "agent is back"
    )
    assert not world.events.of(c.CallEnded, leg_id=agent_leg)


async def test_blind_transfer_drops_the_agent_and_connects_the_caller_to_the_new_party(world):
    """SW-2 blind transfer: the agent drops at once, the caller waits in its bridge and
    the new party joins it on answer and hears the caller."""
    offered, bridge_id, agent_leg = await connected_call(world, caller_talks=True)
    await world.phone("1002")
    await world.driver.blind_transfer(offered.leg_id, "1002")
    ended = await world.events.wait(c.CallEnded, leg_id=agent_leg)
    assert ended.cause is c.HangupCause.NORMAL_CLEARING
    new = await world.events.wait(c.CallOffered, call_id=offered.call_id, callee_number="1002")
    assert new.direction is c.Direction.OUTBOUND and new.leg_id != agent_leg
    joined = await world.events.wait(c.CallBridged, leg_id=new.leg_id)
    assert joined.bridge_id == bridge_id
    await until(
        lambda: world.bridged(bridge_id) == {offered.leg_id, new.leg_id}, 10, "caller + new"
    )
    await until(lambda: world.hears(new.leg_id), 10, "the new party hears the caller")
    assert not world.events.of(c.CallEnded, leg_id=offered.leg_id)


async def test_listen_the_supervisor_hears_the_call_and_nobody_hears_the_supervisor(world):
    """SW-3 listen (silent monitor): the agent talks, the supervisor talks too; the
    supervisor hears the agent, the agent hears nothing of the supervisor, and the
    customer's bridge gets nobody new."""
    offered, bridge_id, agent_leg = await connected_call(world, agent_talks=True)
    await world.phone("9001", talks=True)
    sup = await world.driver.snoop(agent_leg, destination="9001", new_leg_id="listen-1")
    ev = await world.events.wait(c.CallOffered, leg_id=sup)
    assert ev.role is c.LegRole.SUPERVISOR and ev.call_id == offered.call_id
    await world.events.wait(c.CallAnswered, leg_id=sup)
    spy = await world.events.wait(c.CallBridged, leg_id=sup)
    assert spy.bridge_id != bridge_id
    await until(lambda: world.hears(sup), 10, "the supervisor hears the agent")
    assert world.bridged(bridge_id) == {offered.leg_id, agent_leg}
    assert not await world.hears(agent_leg), "the agent hears the supervisor"


async def test_whisper_reaches_the_agent_alone(world):
    """SW-3 whisper: caller and agent are quiet, the supervisor talks; the agent hears
    the supervisor, the caller does not."""
    offered, bridge_id, agent_leg = await connected_call(world)
    await world.phone("9001", talks=True)
    sup = await world.driver.snoop(
        agent_leg, destination="9001", new_leg_id="whisper-1", whisper=True
    )
    ev = await world.events.wait(c.CallOffered, leg_id=sup)
    assert ev.role is c.LegRole.SUPERVISOR and ev.call_id == offered.call_id
    await world.events.wait(c.CallBridged, leg_id=sup)
    await until(lambda: world.hears(agent_leg), 10, "the agent hears the supervisor")
    assert not await world.hears(offered.leg_id), "the caller hears the supervisor"
    assert world.bridged(bridge_id) == {offered.leg_id, agent_leg}


async def test_playback_finishes_and_a_tone_plays_until_stopped(world):
    """SW-2 play prompt: a prompt ends by itself (PlaybackFinished with our id); a tone
    is heard until stopped, then the caller hears nothing."""
    offered = await world.inbound_call("13800138000", "4008001234")
    await world.driver.answer(offered.leg_id)
    await world.events.wait(c.CallAnswered, leg_id=offered.leg_id)
    pid = await world.driver.play(offered.leg_id, ["digits:12"], playback_id="pb-digits")
    assert pid == "pb-digits"
    done = await world.events.wait(c.PlaybackFinished, playback_id=pid, timeout=15)
    assert (done.leg_id, done.call_id) == (offered.leg_id, offered.call_id)
    tone = await world.driver.play(offered.leg_id, ["tone:440"])
    await until(lambda: world.hears(offered.leg_id), 10, "the caller hears the tone")
    assert not world.events.of(c.PlaybackFinished, playback_id=tone), "the tone stopped"
    await world.driver.stop_playback(tone)
    stopped = await world.events.wait(c.PlaybackFinished, playback_id=tone)
    assert stopped.leg_id == offered.leg_id
    assert not await world.hears(offered.leg_id), "the tone goes on after stop_playback"


async def test_endpoint_online(world):
    """A registered phone is online; one that never registered is not."""
    await world.phone("1001")
    await until(lambda: world.driver.endpoint_online("1001"), 10, "1001 online")
    await world.phone("1007", PhoneBehavior.OFFLINE)
    assert not await world.driver.endpoint_online("1007")


async def test_restore_after_a_restart(world):
    """SW-4: a controller that restarts mid-call keeps the caller controllable and learns
    how the agent's leg ended while it was away (the switch's own time and cause)."""
    offered, bridge_id, agent_leg = await connected_call(world)
    known = [
        KnownLeg(offered.leg_id, offered.call_id, c.LegRole.CALLER, True, bridge_id),
        KnownLeg(agent_leg, offered.call_id, c.LegRole.AGENT, True, bridge_id),
    ]
    hung_up: list[float] = []

    async def the_agent_hangs_up() -> None:
        await world.far_end_hangup(agent_leg)
        hung_up.append(time.time())

    await world.restart_controller(known, the_agent_hangs_up)
    ended = await world.events.wait(c.CallEnded, leg_id=agent_leg, timeout=20)
    assert ended.call_id == offered.call_id
    assert ended.cause is c.HangupCause.NORMAL_CLEARING, "not the switch's own cause"
    assert abs(ended.at - hung_up[0]) < 1.5, (ended.at, hung_up[0])
    legs = {x.leg_id for x in await world.driver.list_legs()}
    assert offered.leg_id in legs and agent_leg not in legs
    assert not world.events.of(c.CallEnded, leg_id=offered.leg_id)
    await world.driver.hangup(offered.leg_id)  # the restored caller is still controllable
    caller_end = await world.events.wait(c.CallEnded, leg_id=offered.leg_id)
    assert caller_end.cause is c.HangupCause.NORMAL_CLEARING


def test_every_callcontrol_method_has_a_contract_test() -> None:
    """Each ``CallControl`` operation is exercised by this suite on every world."""
    source = Path(__file__).read_text(encoding="utf-8")
    called = set(re.findall(r"driver\.(\w+)\(", source))
    called |= {"start", "close", "restore", "wait_connected"}  # (the worlds call these)
    methods = {
        name
        for name, member in inspect.getmembers(CallControl)
        if not name.startswith("_") and inspect.iscoroutinefunction(member)
    }
    assert len(methods) > 20 and methods - called == set()
