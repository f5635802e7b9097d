"""The FreeSWITCH driver against the fake FreeSWITCH, beyond the contract suite: restarts
and reconnections (SW-4), originate failures, malformed events, media and supervision
details. (The contract suite, ``tests/contract``, covers the common operations.)"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from switch_control import contract as c
from switch_control.callcontrol import KnownLeg
from switch_control.drivers.freeswitch import (
    FreeSwitchConfig,
    FreeSwitchDriver,
    MediaConfig,
    marker,
)
from switch_control.errors import CommandRejected, NoSuchCall, OriginateFailed
from switch_control.protocols.esl import EslClient
from tests.e2e.harness import Events, until
from tests.fakes.fake_freeswitch import FakeFreeSwitch
from tests.fakes.fake_freeswitch.events import Event

pytestmark = pytest.mark.timeout(30)


class Rig:
    """A fake FreeSWITCH and the drivers (controller processes) connected to it."""

    def __init__(self, fake: FakeFreeSwitch, recordings: Path) -> None:
        self.fake = fake
        self.recordings = recordings
        self.drivers: list[FreeSwitchDriver] = []

    async def driver(
        self, events: Events, restore: list[KnownLeg] | None = None
    ) -> FreeSwitchDriver:
        esl = EslClient("127.0.0.1", self.fake.port, "ClueCon", backoff_initial=0.05)
        config = FreeSwitchConfig(
            media=MediaConfig(recordings_dir=str(self.recordings)), reconnect_initial=0.05
        )
        driver = FreeSwitchDriver(esl, config)
        if restore is not None:
            await driver.restore(restore)
        await driver.start(events.sink)
        assert await driver.wait_connected(5)
        self.drivers.append(driver)
        return driver

    async def call(self, driver: FreeSwitchDriver, events: Events, agent: str = "1001") -> tuple:
        """A caller answered and bridged with an agent; returns (caller leg, agent leg)."""
        self.fake.agent_register(agent)
        ch = self.fake.inbound_call("13800138000", "4008001234")
        offered = await events.wait(c.CallOffered, leg_id=ch.uuid)
        await driver.answer(ch.uuid)
        bridge = await driver.bridge([ch.uuid], f"b-{ch.uuid}")
        agent_leg = f"ag-{ch.uuid}"
        await driver.originate(
            leg_id=agent_leg,
            destination=agent,
            join_bridge=bridge,
            variables={"CC_CALL_ID": offered.call_id},
        )
        await events.wait(c.CallBridged, leg_id=agent_leg)
        return ch.uuid, agent_leg


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with FakeFreeSwitch() as fake:
        r = Rig(fake, tmp_path)
        try:
            yield r
        finally:
            for driver in r.drivers:
                await driver.close()
        assert not fake.errors, fake.errors


# ---------------------------------------------------------------------------- restarts


async def test_a_restarted_controller_rebuilds_its_legs_from_the_switch(rig: Rig) -> None:
    first = Events()
    old = await rig.driver(first)
    caller, agent = await rig.call(old, first)
    gone_caller, gone_agent = await rig.call(old, first, agent="1002")
    call_id = first.of(c.CallOffered, leg_id=caller)[0].call_id
    known = [
        KnownLeg(caller, call_id, c.LegRole.CALLER, True, f"b-{caller}"),
        KnownLeg(agent, call_id, c.LegRole.AGENT, True, f"b-{caller}"),
        KnownLeg(gone_caller, gone_caller, c.LegRole.CALLER, True),
        KnownLeg(gone_agent, gone_caller, c.LegRole.AGENT, True),
        KnownLeg("lost-leg", "lost-call", c.LegRole.AGENT, True),  # the switch kept nothing
    ]
    await old.close()  # the controller dies
    hung_up = time.time()
    rig.fake.hangup(gone_caller)  # meanwhile a caller hangs up
    rig.fake.hangup(gone_agent)
    await until(lambda: rig.fake.channels[gone_agent].gone, 5, "legs gone")

    events = Events()
    new = await rig.driver(events, restore=known)
    # the switch kept when and why (each leg's hangup hook), for the caller and for the
    # agent leg we originated (issue 12 part 1): not a guess
    for gone in (gone_caller, gone_agent):
        ended = await events.wait(c.CallEnded, leg_id=gone)
        assert ended.cause is c.HangupCause.NORMAL_CLEARING and ended.cause_code == 16, gone
        assert abs(ended.at - hung_up) < 5
    lost = await events.wait(c.CallEnded, leg_id="lost-leg")
    assert lost.cause is c.HangupCause.SWITCH_LOST
    assert await new.leg_existed(gone_agent) is True  # its marker outlives it
    legs = {x.leg_id: x for x in await new.list_legs()}
    assert set(legs) == {caller, agent}
    assert legs[agent].bridge_id == f"b-{caller}" and legs[agent].state == "up"
    assert new.legs[agent].call_id == call_id and new.legs[agent].role is c.LegRole.AGENT

    # the live call stays controllable
    await new.hold(caller)
    await events.wait(c.CallHeld, leg_id=caller)
    await new.hangup(agent)
    assert (await events.wait(c.CallEnded, leg_id=agent)).call_id == call_id
    await new.hangup(caller)
    await events.wait(c.CallEnded, leg_id=caller)
    assert not new.legs


async def test_a_new_controller_adopts_legs_it_was_never_told_about(rig: Rig) -> None:
    first = Events()
    old = await rig.driver(first)
    caller, agent = await rig.call(old, first)
    await old.close()
    events = Events()
    new = await rig.driver(events)
    # legs that new are not in ``show channels`` yet (it lags): a second look adopts them
    await until(lambda: set(new.legs) == {caller, agent}, 5, "legs adopted")
    assert new.legs[caller].role is c.LegRole.CALLER
    assert new.legs[agent].call_id == caller and new.legs[agent].role is c.LegRole.AGENT
    await new.hangup(caller)
    await events.wait(c.CallEnded, leg_id=caller)


async def test_reconnect_after_the_connection_drops(rig: Rig) -> None:
    events = Events()
    driver = await rig.driver(events)
    caller, agent = await rig.call(driver, events)
    await rig.fake.pause()  # FreeSWITCH gone
    await events.wait(c.SwitchDisconnected)
    assert not await driver.wait_connected(0.01)
    rig.fake.hangup(agent)  # the agent hangs up while we cannot see it
    await until(lambda: rig.fake.channels[agent].gone, 5, "agent gone")
    await rig.fake.start(rig.fake.port)
    await until(lambda: len(events.of(c.SwitchConnected)) == 2, 10, "reconnected")
    kinds = [e.TYPE for e in events.items if e.TYPE.startswith("Switch")]
    assert kinds == ["SwitchConnected", "SwitchDisconnected", "SwitchConnected"]
    ended = await events.wait(c.CallEnded, leg_id=agent)
    assert ended.cause is c.HangupCause.NORMAL_CLEARING
    # events flow again: a new call is offered, the old caller is still ours
    ch = rig.fake.inbound_call("13900139000", "4008001234")
    await events.wait(c.CallOffered, leg_id=ch.uuid)
    await driver.hangup(caller)
    await events.wait(c.CallEnded, leg_id=caller)


async def test_an_agent_leg_that_ends_while_we_are_away_keeps_its_real_end(rig: Rig) -> None:
    """SW-4, issue 12 part 1: FreeSWITCH drops an originate variable with ``${`` in it, so
    the end record must reach an originated leg another way, or a reconnected controller
    can only say SWITCH_LOST."""
    events = Events()
    driver = await rig.driver(events)
    caller, agent = await rig.call(driver, events)
    gone = rig.fake.channel(agent)
    await until(lambda: rig.fake.listed(gone), 5, "agent listed")  # (part 2 aside)
    await rig.fake.pause()
    await events.wait(c.SwitchDisconnected)
    hung_up = time.time()
    rig.fake.hangup(agent, "CALL_REJECTED")  # the agent's phone ends it meanwhile
    await until(lambda: gone.gone and not rig.fake.listed(gone), 5, "agent gone and unlisted")
    await rig.fake.start(rig.fake.port)
    ended = await events.wait(c.CallEnded, leg_id=agent)
    assert (ended.cause, ended.cause_code) == (c.HangupCause.CALL_REJECTED, 21)
    assert abs(ended.at - hung_up) < 2
    assert caller in driver.legs and agent not in driver.legs


async def test_a_restored_leg_the_switch_still_lists_after_it_went_is_ended(rig: Rig) -> None:
    """SW-4, issue 12 part 2: ``show channels`` keeps listing a gone leg as ACTIVE for a
    while; a restarted controller must not keep it for good."""
    rig.fake.list_lag = (0.1, 30.0)
    first = Events()
    old = await rig.driver(first)
    ch = rig.fake.inbound_call("13800138000", "4008001234")
    await first.wait(c.CallOffered, leg_id=ch.uuid)
    await old.answer(ch.uuid)
    await first.wait(c.CallAnswered, leg_id=ch.uuid)
    await until(lambda: rig.fake.listed(ch), 5, "caller listed")
    await old.close()
    rig.fake.hangup(ch.uuid)
    await until(lambda: ch.gone, 5, "caller gone")
    listing = await rig.fake.run_api("show channels as json")
    assert ch.uuid in listing and '"callstate":"ACTIVE"' in listing  # what the switch says

    events = Events()
    new = await rig.driver(events, restore=[KnownLeg(ch.uuid, ch.uuid, c.LegRole.CALLER, True)])
    ended = await events.wait(c.CallEnded, leg_id=ch.uuid)
    assert (ended.cause, ended.cause_code) == (c.HangupCause.NORMAL_CLEARING, 16)
    assert ch.uuid not in new.legs and not await new.list_legs()


async def test_a_leg_created_just_before_a_reconnect_is_not_ended(rig: Rig) -> None:
    """SW-4, issue 12 part 2: a new leg is listed by ``show channels`` only some time after
    its CHANNEL_CREATE; a reconnection in between must not end it, nor ``list_legs``
    leave it out."""
    rig.fake.list_lag = (30.0, 0.3)
    events = Events()
    driver = await rig.driver(events)
    rig.fake.agent_register("1001")
    rig.fake.set_endpoint("1001", "ring")
    await driver.originate(leg_id="fresh", destination="1001", variables={"CC_CALL_ID": "call-9"})
    assert [leg.leg_id for leg in await driver.list_legs()] == ["fresh"]
    await rig.fake.drop_connections()
    await until(lambda: len(events.of(c.SwitchConnected)) == 2, 10, "reconnected")
    assert not events.of(c.CallEnded, leg_id="fresh")
    legs = await driver.list_legs()
    assert [(leg.leg_id, leg.state) for leg in legs] == [("fresh", "ringing")]
    rig.fake.answer_ringing("1001")
    await events.wait(c.CallAnswered, leg_id="fresh")
    await driver.hangup("fresh")
    ended = await events.wait(c.CallEnded, leg_id="fresh")
    assert ended.cause is c.HangupCause.NORMAL_CLEARING
    assert len(events.of(c.CallEnded, leg_id="fresh")) == 1


async def test_an_unset_switch_domain_is_no_domain(rig: Rig) -> None:
    """``global_getvar`` of an unset variable answers ``-ERR no reply``: not a domain."""
    rig.fake.global_vars.pop("domain")
    events = Events()
    driver = await rig.driver(events)
    rig.fake.agent_register("1005")
    assert await driver.endpoint_online("1005")


async def test_first_connection_is_retried_until_the_switch_is_up(rig: Rig) -> None:
    port = rig.fake.port
    await rig.fake.pause()
    events = Events()
    esl = EslClient("127.0.0.1", port, "ClueCon")
    driver = FreeSwitchDriver(esl, FreeSwitchConfig(reconnect_initial=0.05))
    rig.drivers.append(driver)
    await driver.start(events.sink)
    assert not await driver.wait_connected(0.2)
    await rig.fake.start(port)
    assert await driver.wait_connected(5)
    assert (await driver.info()).version.startswith("1.11.3")


async def test_a_wrong_password_is_retried_and_never_logged(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    events = Events()
    esl = EslClient("127.0.0.1", rig.fake.port, "not-the-Pa55word")
    driver = FreeSwitchDriver(esl, FreeSwitchConfig(reconnect_initial=0.05))
    rig.drivers.append(driver)
    with caplog.at_level(logging.DEBUG):
        await driver.start(events.sink)
        assert not await driver.wait_connected(0.3)
    assert "FreeSWITCH not reachable" in caplog.text
    assert "not-the-Pa55word" not in caplog.text
    assert not events.items


# ---------------------------------------------------------------------------- originate


@pytest.mark.parametrize(
    ("behavior", "cause", "code"),
    [
        ("busy", c.HangupCause.USER_BUSY, 17),
        ("no_answer", c.HangupCause.NO_ANSWER, 19),
        ("reject", c.HangupCause.CALL_REJECTED, 21),
    ],
)
async def test_failed_originate_ends_the_leg_with_the_cause(
    rig: Rig, behavior: str, cause: c.HangupCause, code: int
) -> None:
    events = Events()
    driver = await rig.driver(events)
    rig.fake.agent_register("1003")
    rig.fake.set_endpoint("1003", behavior)
    await driver.originate(leg_id="x1", destination="1003", variables={"CC_CALL_ID": "call-1"})
    ended = await events.wait(c.CallEnded, leg_id="x1")
    assert (ended.cause, ended.cause_code, ended.call_id) == (cause, code, "call-1")
    first = next(e for e in events.items if getattr(e, "leg_id", "") == "x1")
    assert isinstance(first, c.CallOffered) and first.role is c.LegRole.AGENT
    assert await driver.leg_existed("x1")  # the switch created it: never dial it again
    assert rig.fake.global_vars[marker("x1")] == "1"


async def test_originate_to_an_unregistered_phone_raises(rig: Rig) -> None:
    events = Events()
    driver = await rig.driver(events)
    with pytest.raises(OriginateFailed) as info:
        await driver.originate(leg_id="x2", destination="1009")
    assert info.value.cause == "USER_NOT_REGISTERED"
    assert not events.of(c.CallOffered, leg_id="x2") and "x2" not in driver.legs
    assert not await driver.leg_existed("x2")
    # the same leg id can be dialled again once the phone is there
    rig.fake.agent_register("1009")
    await driver.originate(leg_id="x2", destination="1009")
    await events.wait(c.CallAnswered, leg_id="x2")


async def test_originate_refuses_a_duplicate_or_unsafe_leg(rig: Rig) -> None:
    events = Events()
    driver = await rig.driver(events)
    rig.fake.agent_register("1001")
    rig.fake.set_endpoint("1001", "ring")
    await driver.originate(leg_id="dup", destination="1001")
    with pytest.raises(CommandRejected):
        await driver.originate(leg_id="dup", destination="1001")
    with pytest.raises(CommandRejected):
        await driver.originate(leg_id="a b", destination="1001")
    with pytest.raises(CommandRejected):
        await driver.originate(leg_id="y", destination="1001", variables={"x": "a,b"})
    assert len(events.of(c.CallOffered, leg_id="dup")) == 1


async def test_a_caller_name_with_switch_syntax_in_it_still_dials(rig: Rig) -> None:
    """Commas, quotes and braces would break the originate's {var=...} block: they become
    full-width look-alikes instead of failing the call; Chinese names pass unchanged."""
    events = Events()
    driver = await rig.driver(events)
    rig.fake.agent_register("1001")
    rig.fake.set_endpoint("1001", "ring")
    await driver.originate(
        leg_id="n1",
        destination="1001",
        caller_id_name="Wang, Li's {VIP}\n",
        caller_id_number="1380",
    )
    await driver.originate(leg_id="n2", destination="1001", caller_id_name="张 三")
    await events.wait(c.CallOffered, leg_id="n2")
    assert rig.fake.channels["n1"].profile.caller_id_name == "Wang， Li’s （VIP）"
    assert rig.fake.channels["n2"].profile.caller_id_name == "张 三"


async def test_endpoint_online(rig: Rig) -> None:
    events = Events()
    driver = await rig.driver(events)
    assert not await driver.endpoint_online("1005")
    rig.fake.agent_register("1005")
    assert await driver.endpoint_online("1005")
    changed = await events.wait(c.EndpointStatusChanged, endpoint="1005")
    assert changed.online and "1005" in changed.contact
    rig.fake.agent_unregister("1005")
    await until(lambda: events.of(c.EndpointStatusChanged, endpoint="1005", online=False), 5)


# ---------------------------------------------------------------------------- robustness


async def test_malformed_events_are_skipped(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    events = Events()
    driver = await rig.driver(events)
    ch = rig.fake.inbound_call("13800138000", "4008001234")
    await events.wait(c.CallOffered, leg_id=ch.uuid)
    factory = rig.fake.events
    bad = [
        factory.channel("DTMF", ch, post=[("DTMF-Digit", "")]),  # no digit
        factory.channel("DTMF", ch),  # no DTMF headers at all
        Event(factory.base("CHANNEL_PARK", "CHANNEL_PARK")),  # no channel
        factory.system(  # a member without its id
            "CUSTOM",
            "CONF_ADD",
            [("Conference-Name", "cc-x"), ("Unique-ID", ch.uuid), ("Action", "add-member")],
            subclass="conference::maintenance",
        ),
    ]
    for event in bad:
        rig.fake.emit(event)
    rig.fake.send_dtmf(ch.uuid, "5")
    dtmf = await events.wait(c.DtmfReceived, leg_id=ch.uuid)
    assert dtmf.digit == "5"
    assert caplog.text.count("skipped a malformed") == len(bad)
    assert not events.of(c.CallBridged)
    await driver.hangup(ch.uuid)
    await events.wait(c.CallEnded, leg_id=ch.uuid)


async def test_garbage_on_the_wire_drops_and_reconnects(rig: Rig) -> None:
    events = Events()
    await rig.driver(events)
    for listener in list(rig.fake.listeners):
        listener.write(b"Content-Length: 5\nContent-Type: text/event-json\n\n[1,2]")
    await until(lambda: len(events.of(c.SwitchConnected)) == 2, 10, "reconnected")
    ch = rig.fake.inbound_call("13800138000", "4008001234")
    await events.wait(c.CallOffered, leg_id=ch.uuid)


# ---------------------------------------------------------------------------- media


async def test_play_and_stop(rig: Rig) -> None:
    events = Events()
    driver = await rig.driver(events)
    ch = rig.fake.inbound_call("13800138000", "4008001234")
    await events.wait(c.CallOffered, leg_id=ch.uuid)
    played = await driver.play(ch.uuid, ["sound:welcome", "digits:42", "number:7"], "p1")
    finished = await events.wait(c.PlaybackFinished, playback_id=played)
    assert finished.leg_id == ch.uuid and finished.call_id == ch.uuid
    apps = [cmd for cmd in _received(rig) if cmd.startswith("sendmsg")]
    assert len(apps) == 3
    looping = await driver.play(ch.uuid, ["tone:ring"])
    await asyncio.sleep(0.05)
    assert not events.of(c.PlaybackFinished, playback_id=looping)
    await driver.stop_playback(looping)
    await events.wait(c.PlaybackFinished, playback_id=looping)
    with pytest.raises(NoSuchCall):
        await driver.stop_playback(looping)
    with pytest.raises(CommandRejected):
        await driver.play(ch.uuid, ["video:cat"])


async def test_collect_digits_with_a_prompt_and_a_timeout(rig: Rig) -> None:
    events = Events()
    driver = await rig.driver(events)
    ch = rig.fake.inbound_call("13800138000", "4008001234")
    await events.wait(c.CallOffered, leg_id=ch.uuid)
    asyncio.get_running_loop().call_later(0.1, rig.fake.send_dtmf, ch.uuid, "98")
    got = await driver.collect_digits(
        ch.uuid, prompt=["tone:ring"], max_digits=2, first_digit_timeout=2
    )
    assert got == ("98", False)
    assert len(events.of(c.PlaybackFinished, leg_id=ch.uuid)) == 1  # the prompt stopped
    assert await driver.collect_digits(ch.uuid, first_digit_timeout=0.1) == ("", True)


async def test_record_a_leg_and_hold_alone(rig: Rig) -> None:
    events = Events()
    driver = await rig.driver(events)
    ch = rig.fake.inbound_call("13800138000", "4008001234")
    await events.wait(c.CallOffered, leg_id=ch.uuid)
    await driver.answer(ch.uuid)
    await driver.record(name="leg-rec", leg_id=ch.uuid)
    started = await events.wait(c.RecordingStarted, name="leg-rec")
    assert started.call_id == ch.uuid and started.leg_id == ch.uuid
    with pytest.raises(CommandRejected):
        await driver.record(name="leg-rec", leg_id=ch.uuid)
    await driver.stop_recording("leg-rec")
    done = await events.wait(c.RecordingFinished, name="leg-rec")
    assert done.leg_id == ch.uuid and done.format == "wav"
    assert (await driver.fetch_recording("leg-rec"))[:4] == b"RIFF"
    with pytest.raises(NoSuchCall):
        await driver.fetch_recording("never")
    await driver.hold(ch.uuid)  # not in a bridge: music played to it
    await events.wait(c.CallHeld, leg_id=ch.uuid)
    await driver.unhold(ch.uuid)
    await events.wait(c.CallResumed, leg_id=ch.uuid)


# ---------------------------------------------------------------------------- several legs


async def test_whisper_is_an_eavesdrop_heard_by_the_agent_only(rig: Rig) -> None:
    events = Events()
    driver = await rig.driver(events)
    caller, agent = await rig.call(driver, events)
    rig.fake.agent_register("9001")
    sup = await driver.snoop(agent, destination="9001", new_leg_id="sup", whisper=True)
    bridged = await events.wait(c.CallBridged, leg_id=sup)
    assert bridged.bridge_id == "sup-spy"
    offered = events.of(c.CallOffered, leg_id=sup)[0]
    assert offered.role is c.LegRole.SUPERVISOR and offered.call_id == caller
    command = next(x for x in _received(rig) if "origination_uuid=sup" in x)
    assert "eavesdrop_whisper_aleg=true" in command
    assert "eavesdrop_enable_dtmf=false" in command
    assert command.endswith(f"&eavesdrop({agent})")
    assert rig.fake.channel(sup).get_var("current_application") == "eavesdrop"
    await driver.hangup(sup)
    await events.wait(c.CallUnbridged, leg_id=sup)


async def test_cancel_consult_and_blind_transfer(rig: Rig) -> None:
    events = Events()
    driver = await rig.driver(events)
    caller, agent = await rig.call(driver, events)
    rig.fake.agent_register("1002")
    cons = await driver.consult(agent, destination="1002", new_leg_id="cons")
    await events.wait(c.CallBridged, leg_id=cons, bridge_id="cons-consult")
    await events.wait(c.CallHeld, leg_id=caller)
    await driver.cancel_consult(agent)
    await events.wait(c.CallEnded, leg_id=cons)
    await events.wait(c.CallResumed, leg_id=caller)
    await until(lambda: driver.legs[agent].bridge_id == f"b-{caller}", 5, "agent back home")
    rig.fake.agent_register("1004")
    await driver.blind_transfer(caller, "1004")
    await events.wait(c.CallEnded, leg_id=agent)
    joined = await until(
        lambda: [
            e
            for e in events.of(c.CallBridged, bridge_id=f"b-{caller}")
            if e.leg_id not in (caller, agent)
        ],
        5,
        "new agent joined",
    )
    assert joined[0].call_id == caller


async def test_pickup_of_a_ringing_leg_is_picked_off(rig: Rig) -> None:
    events = Events()
    driver = await rig.driver(events)
    rig.fake.agent_register("1001")
    ch = rig.fake.inbound_call("13800138000", "4008001234")
    await events.wait(c.CallOffered, leg_id=ch.uuid)
    bridge = await driver.bridge([ch.uuid], "pb")
    rig.fake.set_endpoint("1001", "ring")
    await driver.originate(
        leg_id="ringing", destination="1001", join_bridge=bridge, variables={"CC_CALL_ID": ch.uuid}
    )
    await events.wait(c.CallRinging, leg_id="ringing")
    rig.fake.agent_register("1002")
    await driver.add_to_call(
        ch.uuid, destination="1002", new_leg_id="picker", replace_leg="ringing"
    )
    ended = await events.wait(c.CallEnded, leg_id="ringing")
    assert ended.cause is c.HangupCause.PICKED_OFF


def _received(rig: Rig) -> list[str]:
    return [line for listener in rig.fake.listeners for line in listener.received]
