"""Every call operation of the Asterisk driver on the real sandbox Asterisk, with SIPp as the
caller, the agents' phones and the supervisor's phone (SW-2, SW-3, REC-1). Each test checks
what a person would notice: who is bridged with whom, what each phone hears."""

from __future__ import annotations

import asyncio
import io
import time
import wave

import pytest

from switch_control import contract as c
from switch_control.errors import CommandRejected, NoSuchCall
from tests.e2e.harness import Harness, make_harness, until

pytestmark = pytest.mark.e2e


@pytest.fixture
async def h(asterisk):  # type: ignore[no-untyped-def]
    harness = await make_harness(asterisk)
    try:
        yield harness
    finally:
        await harness.close()


async def test_answer_play_and_collect_digits(h: Harness):
    offered, heard = await h.call_in(dtmf="123#", audio=False, dtmf_after_ms=6000)
    await h.driver.answer(offered.leg_id)
    await h.events.wait(c.CallAnswered, leg_id=offered.leg_id)
    t0 = time.monotonic()
    await h.driver.play(offered.leg_id, ["digits:1024", "number:42"], "pb1")
    await h.events.wait(c.PlaybackFinished, playback_id="pb1", timeout=15)
    assert heard.loud(since=t0) > 50, "the caller hears the digits and the number"
    t1 = time.monotonic()
    tone = await h.driver.play(offered.leg_id, ["tone:440"])  # tones play until stopped
    await until(lambda: heard.loud(since=t1) > 25, 5, "the caller hears the tone")
    await h.driver.stop_playback(tone)
    await h.events.wait(c.PlaybackFinished, playback_id=tone)
    digits, timed_out = await h.driver.collect_digits(
        offered.leg_id,
        prompt=["sound:hello-world"],
        max_digits=6,
        terminator="#",
        first_digit_timeout=10,
        overall_timeout=20,
    )
    assert (digits, timed_out) == ("123", False)
    assert len(h.events.of(c.DtmfReceived, leg_id=offered.leg_id)) == 4


async def test_collect_digits_times_out_without_input(h: Harness):
    offered, _ = await h.call_in(audio=False)
    await h.driver.answer(offered.leg_id)
    digits, timed_out = await h.driver.collect_digits(
        offered.leg_id, max_digits=4, first_digit_timeout=0.5, overall_timeout=2
    )
    assert (digits, timed_out) == ("", True)


async def test_originate_agent_and_bridge_with_caller(h: Harness):
    agent = await h.phone("1001", audio=True)
    offered, heard = await h.call_in(audio=True)
    bridge_id, agent_leg = await h.answered_in_bridge(offered, "1001")
    assert h.bridge_channels(bridge_id) == {offered.leg_id, agent_leg}
    t0 = time.monotonic()
    await until(
        lambda: heard.loud(since=t0) > 25 and agent.rtp.loud(since=t0) > 25,
        10,
        "caller and agent hear each other",
    )
    ringing = h.events.of(c.CallRinging, leg_id=agent_leg)
    assert ringing and h.events.of(c.CallAnswered, leg_id=agent_leg)
    assert h.events.of(c.CallOffered, leg_id=agent_leg)[0].call_id == offered.call_id


async def test_agent_phone_hanging_up_ends_its_leg_with_normal_clearing(h: Harness):
    """The agent's own BYE (the phone hangs up 2 s into the call) is accepted by Asterisk:
    the agent leg ends normally, the caller stays, and the phone sees its BYE answered."""
    agent = await h.phone("1001", audio=False, talk_s=2.0)
    offered, _ = await h.call_in(audio=False)
    _, agent_leg = await h.answered_in_bridge(offered, "1001")
    ended = await h.events.wait(c.CallEnded, leg_id=agent_leg, timeout=10)
    assert ended.cause is c.HangupCause.NORMAL_CLEARING
    assert offered.leg_id in h.channel_ids()  # only the agent left
    assert await asyncio.to_thread(agent.sipp.wait, 10) == 0, agent.sipp.output()


async def test_an_originate_sent_twice_keeps_the_leg_the_first_one_dialled(h: Harness):
    """SW-1 (issue 12, part 5): the first ``POST /channels`` reached the switch but its
    answer never reached the driver, and the originate is sent again (a retried command).
    The real switch answers 409 for our own channelId; the leg is ours and already
    ringing: the driver keeps it, and when the agent answers the two hear each other
    (before: the leg was dropped, the agent answered into silence)."""
    agent = await h.phone("1001", audio=True, ring_ms=1500)
    offered, heard = await h.call_in(audio=True)
    await h.driver.answer(offered.leg_id)
    bridge_id = await h.driver.bridge([offered.leg_id], f"b-{offered.leg_id}")
    leg_id = f"{offered.leg_id}-twice"
    chan_vars = {"CC_CALL_ID": offered.call_id, "CC_ROLE": "agent"}
    await h.driver.ari.post(  # the first attempt, as the switch received it
        "/channels",
        {"variables": chan_vars},
        endpoint="PJSIP/1001",
        app=h.driver.ari.config.app,
        appArgs="dialed",
        channelId=leg_id,
        timeout=30,
    )
    assert leg_id in h.channel_ids()
    await h.driver.originate(
        leg_id=leg_id,
        destination="1001",
        variables={"CC_CALL_ID": offered.call_id},
        join_bridge=bridge_id,
    )
    await h.events.wait(c.CallBridged, leg_id=leg_id, timeout=15)
    assert h.bridge_channels(bridge_id) == {offered.leg_id, leg_id}
    t0 = time.monotonic()
    await until(
        lambda: heard.loud(since=t0) > 25 and agent.rtp.loud(since=t0) > 25,
        10,
        "caller and agent hear each other",
    )
    assert not h.events.of(c.CallEnded, leg_id=leg_id)


async def test_caller_name_with_quotes_and_commas_reaches_the_agent_leg(h: Harness):
    """A display name holding Asterisk's own syntax ("name" <number>) still dials, with
    full-width look-alikes; a Chinese name arrives unchanged."""
    cases = [
        ("cid-1", "1001", 'Wang, Li "VIP" <x>', "Wang， Li ”VIP” ＜x＞"),
        ("cid-2", "1002", "张三", "张三"),
    ]
    for leg, ext, name, expected in cases:  # a phone (SIPp) takes one call
        await h.phone(ext, audio=False, ring_ms=5000)
        await h.driver.originate(
            leg_id=leg, destination=ext, caller_id_number="13800138000", caller_id_name=name
        )
        await h.events.wait(c.CallRinging, leg_id=leg, timeout=10)
        caller = h.sandbox.ari_get(f"/channels/{leg}")["caller"]
        assert caller == {"name": expected, "number": "13800138000"}
        await h.driver.hangup(leg)
        await h.events.wait(c.CallEnded, leg_id=leg, timeout=10)


async def test_originate_to_an_offline_agent_fails_cleanly(h: Harness):
    offered, _ = await h.call_in(audio=False)
    with pytest.raises(CommandRejected):
        await h.driver.originate(
            leg_id="nobody-home", destination="1005", variables={"CC_CALL_ID": offered.call_id}
        )
    assert "nobody-home" not in h.channel_ids()
    ended = await h.events.wait(c.CallEnded, leg_id="nobody-home")
    assert ended.cause is c.HangupCause.SUBSCRIBER_ABSENT
    assert ended.call_id == offered.call_id


async def test_busy_agent_ends_with_user_busy(h: Harness):
    await h.phone("1003", answer="busy")
    offered, _ = await h.call_in(audio=False)
    await h.driver.originate(
        leg_id="busy-1", destination="1003", variables={"CC_CALL_ID": offered.call_id}
    )
    ended = await h.events.wait(c.CallEnded, leg_id="busy-1")
    assert ended.cause is c.HangupCause.USER_BUSY
    assert ended.call_id == offered.call_id


async def test_record_the_bridge_to_a_wav_of_the_calls_length(h: Harness):
    await h.phone("1001")
    offered, _ = await h.call_in()
    bridge_id, _ = await h.answered_in_bridge(offered, "1001")
    name = f"q1-{offered.caller_number}-1001-{int(time.time())}"
    await h.driver.record(name=name, bridge_id=bridge_id)
    t0 = time.monotonic()
    await asyncio.sleep(4)  # the call goes on for four seconds of conversation
    await h.driver.stop_recording(name)
    wall = time.monotonic() - t0
    done = await h.events.wait(c.RecordingFinished, name=name)
    assert done.call_id == offered.call_id
    data = await h.driver.fetch_recording(name)
    with wave.open(io.BytesIO(data)) as w:
        seconds = w.getnframes() / w.getframerate()
        assert w.getnchannels() == 1
    assert abs(seconds - wall) <= 1.0, (seconds, wall)


async def test_hold_plays_music_to_the_caller_and_unhold_stops_it(h: Harness):
    await h.phone("1001", audio=False)
    offered, heard = await h.call_in(audio=False)
    await h.answered_in_bridge(offered, "1001")
    t0 = time.monotonic()
    await asyncio.sleep(1)
    assert heard.loud(since=t0) < 5, "nobody talks yet: silence"
    await h.driver.hold(offered.leg_id)
    await h.events.wait(c.CallHeld, leg_id=offered.leg_id)
    t1 = time.monotonic()
    await until(lambda: heard.loud(since=t1) > 40, 5, "hold music reaches the caller")
    await h.driver.unhold(offered.leg_id)
    await asyncio.sleep(0.5)
    t2 = time.monotonic()
    await asyncio.sleep(1.5)
    assert heard.loud(since=t2) < 5, "music stops after unhold"


async def test_blind_transfer_connects_the_caller_to_another_agent(h: Harness):
    await h.phone("1001")
    second = await h.phone("1002", audio=True)
    offered, heard = await h.call_in()
    bridge_id, first_leg = await h.answered_in_bridge(offered, "1001")
    await h.driver.blind_transfer(offered.leg_id, "1002")
    await h.events.wait(c.CallEnded, leg_id=first_leg)
    await until(lambda: len(h.bridge_channels(bridge_id)) == 2, 10, "second agent bridged")
    members = h.bridge_channels(bridge_id)
    assert offered.leg_id in members and first_leg not in members
    t0 = time.monotonic()
    await until(
        lambda: heard.loud(since=t0) > 25 and second.rtp.loud(since=t0) > 25,
        10,
        "caller and the second agent hear each other",
    )


async def test_attended_transfer_holds_the_caller_then_hands_over(h: Harness):
    await h.phone("1001", audio=False)
    await h.phone("1002", audio=False)
    offered, heard = await h.call_in(audio=False)
    bridge_id, agent_leg = await h.answered_in_bridge(offered, "1001")
    consult_leg = await h.driver.consult(agent_leg, destination="1002", new_leg_id="consult-1")
    await h.events.wait(c.CallHeld, leg_id=offered.leg_id)
    await h.events.wait(c.CallAnswered, leg_id=consult_leg)
    await until(
        lambda: h.bridge_channels("consult-1-consult") == {agent_leg, consult_leg},
        10,
        "agent and the consulted agent talk privately",
    )
    assert h.bridge_channels(bridge_id) == {offered.leg_id}
    t0 = time.monotonic()
    await until(lambda: heard.loud(since=t0) > 40, 5, "the waiting caller hears music")
    await h.driver.complete_consult(agent_leg)
    await h.events.wait(c.CallEnded, leg_id=agent_leg)
    await until(
        lambda: h.bridge_channels(bridge_id) == {offered.leg_id, consult_leg},
        10,
        "caller now with the second agent",
    )
    assert h.events.of(c.CallResumed, leg_id=offered.leg_id)


async def test_attended_transfer_cancelled_returns_the_agent(h: Harness):
    await h.phone("1001", audio=False)
    await h.phone("1002", audio=False)
    offered, _ = await h.call_in(audio=False)
    bridge_id, agent_leg = await h.answered_in_bridge(offered, "1001")
    consult_leg = await h.driver.consult(agent_leg, destination="1002", new_leg_id="consult-2")
    await h.events.wait(c.CallAnswered, leg_id=consult_leg)
    await h.driver.cancel_consult(agent_leg)
    await h.events.wait(c.CallEnded, leg_id=consult_leg)
    await until(
        lambda: h.bridge_channels(bridge_id) == {offered.leg_id, agent_leg},
        10,
        "agent back with the caller",
    )


async def test_three_way_conference(h: Harness):
    await h.phone("1001")
    third = await h.phone("1003", audio=False)
    offered, _ = await h.call_in()
    bridge_id, agent_leg = await h.answered_in_bridge(offered, "1001")
    new_leg = await h.driver.add_to_call(agent_leg, destination="1003", new_leg_id="conf-3")
    await h.events.wait(c.CallBridged, leg_id=new_leg)
    assert h.bridge_channels(bridge_id) == {offered.leg_id, agent_leg, new_leg}
    t0 = time.monotonic()
    await until(lambda: third.rtp.loud(since=t0) > 25, 10, "the third party hears the call")


async def test_pickup_of_a_ringing_call_by_another_agent(h: Harness):
    await h.phone("1001", answer="ignore")  # rings and rings
    await h.phone("1002")
    offered, _ = await h.call_in(audio=False)
    await h.driver.answer(offered.leg_id)
    bridge_id = await h.driver.bridge([offered.leg_id], f"b-{offered.leg_id}")
    await h.driver.originate(
        leg_id="ringing-1",
        destination="1001",
        join_bridge=bridge_id,
        variables={"CC_CALL_ID": offered.call_id},
    )
    await h.events.wait(c.CallRinging, leg_id="ringing-1")
    picked = await h.driver.add_to_call(
        "ringing-1", destination="1002", new_leg_id="picker", replace_leg="ringing-1"
    )
    ended = await h.events.wait(c.CallEnded, leg_id="ringing-1")
    assert ended.cause is c.HangupCause.PICKED_OFF
    await until(
        lambda: h.bridge_channels(bridge_id) == {offered.leg_id, picked},
        10,
        "the picker is bridged with the caller",
    )


async def test_supervisor_listens_without_being_heard(h: Harness):
    agent = await h.phone("1001", audio=True)
    supervisor = await h.phone("9001", audio=True)
    offered, heard = await h.call_in(audio="silence")
    _, agent_leg = await h.answered_in_bridge(offered, "1001")
    sup_leg = await h.driver.snoop(agent_leg, destination="9001", new_leg_id="listen-1")
    await h.events.wait(c.CallAnswered, leg_id=sup_leg)
    t0 = time.monotonic()
    await until(lambda: supervisor.rtp.loud(since=t0) > 25, 10, "the supervisor hears the agent")
    await asyncio.sleep(1.5)
    # the supervisor's phone talks the whole time, yet neither party hears it:
    # the caller hears only the agent, the agent hears the quiet caller
    assert agent.rtp.count(since=t0) > 25, "the agent's line is alive"
    assert agent.rtp.loud(since=t0) < 5
    assert heard.loud(since=t0) > 25


async def test_supervisor_whispers_to_the_agent_only(h: Harness):
    # caller and agent are on the line but quiet (their phones send silent RTP)
    agent = await h.phone("1001", audio="silence")
    await h.phone("9001", audio=True)
    offered, heard = await h.call_in(audio="silence")
    _, agent_leg = await h.answered_in_bridge(offered, "1001")
    sup_leg = await h.driver.snoop(
        agent_leg, destination="9001", new_leg_id="whisper-1", whisper=True
    )
    await h.events.wait(c.CallAnswered, leg_id=sup_leg)
    t0 = time.monotonic()
    await until(lambda: agent.rtp.loud(since=t0) > 25, 10, "the agent hears the supervisor")
    assert heard.count(since=t0) > 25, "the caller's line is alive"
    assert heard.loud(since=t0) < 5, "the caller does not hear the supervisor"


async def test_supervisor_barges_in_three_way(h: Harness):
    await h.phone("1001", audio=False)
    supervisor = await h.phone("9001", audio=True)
    offered, heard = await h.call_in(audio=False)
    bridge_id, agent_leg = await h.answered_in_bridge(offered, "1001")
    sup_leg = await h.driver.add_to_call(
        agent_leg, destination="9001", new_leg_id="barge-1", role=c.LegRole.SUPERVISOR
    )
    await h.events.wait(c.CallBridged, leg_id=sup_leg)
    assert h.bridge_channels(bridge_id) == {offered.leg_id, agent_leg, sup_leg}
    t0 = time.monotonic()
    await until(lambda: heard.loud(since=t0) > 25, 10, "the caller hears the supervisor")
    assert supervisor.rtp.count(since=t0) > 0


async def test_supervisor_intercepts_and_the_agent_is_dropped(h: Harness):
    await h.phone("1001")
    await h.phone("9001")
    offered, _ = await h.call_in()
    bridge_id, agent_leg = await h.answered_in_bridge(offered, "1001")
    sup_leg = await h.driver.add_to_call(
        agent_leg,
        destination="9001",
        new_leg_id="icpt-1",
        replace_leg=agent_leg,
        role=c.LegRole.SUPERVISOR,
    )
    await h.events.wait(c.CallEnded, leg_id=agent_leg)
    await until(
        lambda: h.bridge_channels(bridge_id) == {offered.leg_id, sup_leg},
        10,
        "supervisor bridged with the caller, agent gone",
    )
    assert agent_leg not in h.channel_ids()


async def test_force_hangup_with_a_cause(h: Harness):
    await h.phone("1001")
    offered, _ = await h.call_in()
    _, agent_leg = await h.answered_in_bridge(offered, "1001")
    await h.driver.hangup(agent_leg, c.HangupCause.CALL_REJECTED)
    ended = await h.events.wait(c.CallEnded, leg_id=agent_leg)
    assert ended.cause is c.HangupCause.CALL_REJECTED


async def test_operations_on_a_call_that_is_gone_raise_no_such_call(h: Harness):
    offered, _ = await h.call_in(audio=False)
    await h.driver.hangup(offered.leg_id)
    await h.events.wait(c.CallEnded, leg_id=offered.leg_id)
    for op in (
        h.driver.answer(offered.leg_id),
        h.driver.hangup(offered.leg_id),
        h.driver.play(offered.leg_id, ["sound:beep"]),
        h.driver.hold(offered.leg_id),
        h.driver.record(name="gone", leg_id=offered.leg_id),
    ):
        with pytest.raises(NoSuchCall):
            await op
