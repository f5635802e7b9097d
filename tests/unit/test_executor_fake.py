"""Executor + FakeDriver: each command becomes the right switch effect and contract events;
failures are reported as CommandFailed events (never silently dropped, never a crash).

The fake switch delivers events as a real one does: after the operation returned, from its
event task (SW-1). Tests wait for them (``rig.wait``, ``rig.settled``), never sleep."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from switch_control import contract as c
from switch_control.callcontrol import KnownLeg
from switch_control.drivers.fake import FakeDriver, PhoneBehavior
from switch_control.errors import SwitchUnavailable
from switch_control.executor import Executor


class Rig:
    """A FakeDriver whose events go to the executor (like the daemon wires them).

    With ``hold_events`` the driver's events are parked until ``release()``, so a test can
    see what the executor does *before* an event arrives.
    """

    def __init__(self, hold_events: bool = False) -> None:
        self.driver = FakeDriver()
        self.switch = self.driver.switch
        self.events: list[c.Event] = []  # what the switch reported
        self.emitted: list[c.Event] = []  # what the executor reported itself
        self.executor = Executor(self.driver, self._emit)
        self.hold_events = hold_events
        self.parked: list[c.Event] = []

    async def _emit(self, event: c.Event) -> None:
        self.emitted.append(event)

    async def _sink(self, event: c.Event) -> None:
        self.events.append(event)
        if self.hold_events:
            self.parked.append(event)
        else:
            await self.executor.on_event(event)

    async def release(self, kind: type[c.Event] | None = None) -> None:
        keep = []
        for ev in self.parked:
            if kind is None or isinstance(ev, kind):
                await self.executor.on_event(ev)
            else:
                keep.append(ev)
        self.parked = keep

    def of(self, kind: type[c.Event]) -> list[c.Event]:
        return [e for e in self.events if isinstance(e, kind)]

    def since(self, n: int) -> list[c.Event]:
        return self.events[n:]

    async def wait(self, kind: type[c.Event], timeout: float = 2.0, **match: Any) -> Any:
        """The first ``kind`` event matching ``match`` the switch reported (waits for it)."""

        def found() -> list[c.Event]:
            return [e for e in self.of(kind) if all(getattr(e, k) == v for k, v in match.items())]

        await self.until(lambda: bool(found()), timeout, f"{kind.__name__} {match}")
        return found()[0]

    async def until(
        self, predicate: Callable[[], bool], timeout: float = 2.0, what: str = ""
    ) -> None:
        """Wait until ``predicate`` holds (checked every few milliseconds)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            if loop.time() > deadline:
                raise AssertionError(f"timed out after {timeout}s: {what}")
            await asyncio.sleep(0.005)

    async def settled(self) -> None:
        """Until the switch has delivered everything it has to say for now."""
        await self.switch.settled()

    async def call(self, caller: str = "13800138000", callee: str = "4008123123") -> str:
        leg = self.switch.inbound_call(caller, callee)
        await self.wait(c.CallOffered, leg_id=leg)
        return leg


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    r = Rig()
    await r.driver.start(r._sink)
    yield r
    await r.driver.close()


async def test_answer_emits_call_answered(rig: Rig) -> None:
    leg = await rig.call()
    offered = rig.of(c.CallOffered)
    assert len(offered) == 1 and offered[0].caller_number == "13800138000"  # type: ignore[attr-defined]
    await rig.settled()
    n = len(rig.events)
    assert await rig.executor.run_reporting(c.AnswerCall(leg_id=leg)) is True
    await rig.settled()
    assert [type(e) for e in rig.since(n)] == [c.CallAnswered]
    ev = rig.since(n)[0]
    assert (ev.call_id, ev.leg_id) == (leg, leg)  # type: ignore[attr-defined]
    assert rig.driver.legs[leg].state == "up"
    assert rig.emitted == []
    # answering twice is harmless: no second CallAnswered
    await rig.executor.run(c.AnswerCall(leg_id=leg))
    await rig.settled()
    assert len(rig.of(c.CallAnswered)) == 1


async def test_play_emits_playback_finished(rig: Rig) -> None:
    leg = await rig.call()
    cmd = c.PlayPrompt(leg_id=leg, media=("sound:欢迎", "digits:1234"), playback_id="pb-7")
    assert await rig.executor.run_reporting(cmd) is True
    fin = await rig.wait(c.PlaybackFinished)
    assert fin.playback_id == "pb-7" and fin.leg_id == leg  # type: ignore[attr-defined]
    assert rig.driver.legs[leg].played == ["sound:欢迎", "digits:1234"]


async def test_play_bad_media_reported(rig: Rig) -> None:
    leg = await rig.call()
    cmd = c.PlayPrompt(leg_id=leg, media=("hello-world",))
    assert await rig.executor.run_reporting(cmd) is False
    (failed,) = rig.emitted
    assert isinstance(failed, c.CommandFailed)
    assert failed.command_id == cmd.id and failed.command_type == "PlayPrompt"
    assert failed.error == "CommandRejected"
    assert "hello-world" in failed.reason


async def test_bridge_emits_call_bridged_for_each_leg(rig: Rig) -> None:
    a, b = await rig.call("13800000001"), await rig.call("13800000002")
    await rig.settled()
    n = len(rig.events)
    await rig.executor.run(c.Bridge(call_id=a, leg_ids=(a, b), bridge_id="br-1"))
    await rig.settled()
    bridged = rig.since(n)
    assert [type(e) for e in bridged] == [c.CallBridged, c.CallBridged]
    assert [(e.leg_id, e.bridge_id) for e in bridged] == [(a, "br-1"), (b, "br-1")]  # type: ignore[attr-defined]
    assert rig.driver.bridges["br-1"] == {a, b}
    # bridging again into the same bridge is a no-op
    await rig.settled()
    n = len(rig.events)
    await rig.executor.run(c.Bridge(leg_ids=(a,), bridge_id="br-1"))
    await rig.settled()
    assert rig.since(n) == []


async def test_originate_with_bridge_id_joins_the_bridge_on_answer(rig: Rig) -> None:
    caller = await rig.call()
    await rig.executor.run(c.AnswerCall(leg_id=caller))
    await rig.executor.run(c.Bridge(call_id=caller, leg_ids=(caller,), bridge_id=caller))
    await rig.settled()
    n = len(rig.events)
    cmd = c.Originate(
        call_id=caller,
        leg_id=f"{caller}-a0",
        destination="PJSIP/8001",
        bridge_id=caller,
        caller_id_number="13800138000",
    )
    assert await rig.executor.run_reporting(cmd) is True
    assert rig.since(n) == []  # a switch tells what happened afterwards, never within
    await rig.wait(c.CallBridged, leg_id=f"{caller}-a0")
    evs = rig.since(n)
    assert [type(e) for e in evs] == [
        c.CallOffered,
        c.CallRinging,
        c.CallAnswered,
        c.CallBridged,
    ]
    # every event of the new leg is attributed to the customer call
    assert {e.call_id for e in evs} == {caller}  # type: ignore[attr-defined]
    assert {e.leg_id for e in evs} == {f"{caller}-a0"}  # type: ignore[attr-defined]
    offered = evs[0]
    assert isinstance(offered, c.CallOffered)
    assert offered.role is c.LegRole.AGENT and offered.direction is c.Direction.OUTBOUND
    assert offered.callee_number == "PJSIP/8001"
    assert offered.caller_number == "13800138000"
    assert evs[-1].bridge_id == caller  # type: ignore[attr-defined]
    assert rig.driver.bridges[caller] == {caller, f"{caller}-a0"}


@pytest.mark.parametrize(
    ("behavior", "cause"),
    [
        (PhoneBehavior.BUSY, c.HangupCause.USER_BUSY),
        (PhoneBehavior.NO_ANSWER, c.HangupCause.NO_ANSWER),
    ],
)
async def test_originate_to_an_agent_who_does_not_answer_ends_the_leg(
    rig: Rig, behavior: PhoneBehavior, cause: c.HangupCause
) -> None:
    rig.switch.phone("PJSIP/8002", behavior)
    caller = await rig.call()
    await rig.settled()
    n = len(rig.events)
    await rig.executor.run(
        c.Originate(call_id=caller, leg_id="a1", destination="PJSIP/8002", bridge_id=caller)
    )
    await rig.wait(c.CallEnded, leg_id="a1")
    evs = rig.since(n)
    assert [type(e) for e in evs] == [c.CallOffered, c.CallRinging, c.CallEnded]
    assert evs[-1].cause is cause  # type: ignore[attr-defined]
    assert caller not in rig.driver.bridges or "a1" not in rig.driver.bridges[caller]


async def test_originate_twice_with_the_same_leg_id_is_refused(rig: Rig) -> None:
    rig.switch.phone("PJSIP/8001", PhoneBehavior.RING)
    cmd = c.Originate(leg_id="a0", destination="PJSIP/8001")
    assert await rig.executor.run_reporting(cmd) is True
    assert await rig.executor.run_reporting(cmd) is False  # a redelivered command
    await rig.settled()
    assert len(rig.of(c.CallOffered)) == 1  # the agent's phone rang once
    (failed,) = rig.emitted
    assert failed.error == "CommandRejected" and "a0" in failed.reason  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("behavior", "cause"),
    [
        (PhoneBehavior.UNKNOWN, "NO_ROUTE_DESTINATION"),
        (PhoneBehavior.OFFLINE, "SUBSCRIBER_ABSENT"),
    ],
)
async def test_originate_to_an_unreachable_destination_is_reported(
    rig: Rig, behavior: PhoneBehavior, cause: str
) -> None:
    rig.switch.phone("999", behavior)
    assert not await rig.driver.endpoint_online("999")
    assert await rig.driver.endpoint_online("1001")  # any other phone answers
    cmd = c.Originate(leg_id="x0", destination="999", kind=c.EndpointKind.EXTERNAL)
    assert await rig.executor.run_reporting(cmd) is False
    (failed,) = rig.emitted
    assert isinstance(failed, c.CommandFailed)
    assert failed.error == "OriginateFailed"
    assert cause in failed.reason
    await rig.settled()
    assert not rig.of(c.CallOffered)  # no leg was created
    assert not await rig.driver.leg_existed("x0")


async def test_hangup_emits_call_ended_with_cause(rig: Rig) -> None:
    a, b = await rig.call(), await rig.call()
    await rig.executor.run(c.Bridge(leg_ids=(a, b), bridge_id="br"))
    await rig.settled()
    n = len(rig.events)
    await rig.executor.run(c.Hangup(leg_id=a, cause=c.HangupCause.CALL_REJECTED))
    await rig.settled()
    evs = rig.since(n)
    assert [type(e) for e in evs] == [c.CallUnbridged, c.CallEnded]
    assert evs[0].bridge_id == "br"  # type: ignore[attr-defined]
    ended = evs[1]
    assert isinstance(ended, c.CallEnded)
    assert ended.leg_id == a and ended.cause is c.HangupCause.CALL_REJECTED
    assert a not in rig.driver.legs
    assert rig.driver.bridges["br"] == {b}


async def test_hold_and_unhold(rig: Rig) -> None:
    leg = await rig.call()
    await rig.executor.run(c.Hold(leg_id=leg))
    assert rig.driver.legs[leg].held
    await rig.executor.run(c.Unhold(leg_id=leg))
    assert not rig.driver.legs[leg].held
    await rig.settled()
    assert [type(e) for e in rig.events[-2:]] == [c.CallHeld, c.CallResumed]
    assert {e.leg_id for e in rig.events[-2:]} == {leg}  # type: ignore[attr-defined]


async def test_record_and_stop_recording(rig: Rig) -> None:
    leg = await rig.call()
    await rig.executor.run(c.Record(leg_id=leg, name="录音-001", format="wav", beep=True))
    started = await rig.wait(c.RecordingStarted)
    assert isinstance(started, c.RecordingStarted)
    assert (started.name, started.leg_id, started.call_id) == ("录音-001", leg, leg)
    # a second recording with the same name is refused, the first keeps going
    assert await rig.executor.run_reporting(c.Record(leg_id=leg, name="录音-001")) is False
    assert rig.emitted[-1].error == "CommandRejected"  # type: ignore[attr-defined]

    await rig.executor.run(c.StopRecording(name="录音-001"))
    fin = await rig.wait(c.RecordingFinished)
    assert isinstance(fin, c.RecordingFinished)
    assert fin.name == "录音-001" and fin.leg_id == leg and fin.duration >= 0
    assert fin.call_id == leg
    assert len(rig.of(c.RecordingStarted)) == 1
    assert await rig.driver.fetch_recording("录音-001")
    # stopping it again: no such recording
    assert await rig.executor.run_reporting(c.StopRecording(name="录音-001")) is False
    assert rig.emitted[-1].error == "NoSuchCall"  # type: ignore[attr-defined]


async def test_record_a_bridge(rig: Rig) -> None:
    a, b = await rig.call(), await rig.call()
    await rig.executor.run(c.Bridge(leg_ids=(a, b), bridge_id="br-9"))
    await rig.executor.run(c.Record(bridge_id="br-9", name="mix"))
    started = await rig.wait(c.RecordingStarted)
    assert started.bridge_id == "br-9" and started.call_id in (a, b)  # type: ignore[attr-defined]


async def test_collect_digits_emits_digits_collected(rig: Rig) -> None:
    leg = await rig.call()
    cmd = c.CollectDigits(leg_id=leg, prompt=("sound:请输入",), max_digits=6, terminator="#")
    task = asyncio.create_task(rig.executor.run_reporting(cmd))
    await rig.until(lambda: rig.driver.collecting(leg), what="collecting")
    assert not task.done()  # waiting for the caller to press keys
    rig.switch.press(leg, "42#9")
    assert await asyncio.wait_for(task, 2.0) is True
    await rig.settled()
    (got,) = rig.emitted
    assert isinstance(got, c.DigitsCollected)
    assert (got.digits, got.timed_out) == ("42", False)
    assert got.command_id == cmd.id and got.leg_id == leg
    assert [e.digit for e in rig.of(c.DtmfReceived)] == ["4", "2", "#", "9"]  # type: ignore[attr-defined]
    assert rig.driver.legs[leg].played == ["sound:请输入"]


async def test_collect_digits_stops_at_max_digits(rig: Rig) -> None:
    leg = await rig.call()
    task = asyncio.create_task(rig.executor.run(c.CollectDigits(leg_id=leg, max_digits=3)))
    await rig.until(lambda: rig.driver.collecting(leg), what="collecting")
    rig.switch.press(leg, "12345")
    await asyncio.wait_for(task, 2.0)
    (got,) = rig.emitted
    assert (got.digits, got.timed_out) == ("123", False)  # type: ignore[attr-defined]


async def test_keys_pressed_before_collect_digits_are_not_collected(rig: Rig) -> None:
    """As on both real switches: digits reach a collection that is running."""
    leg = await rig.call()
    rig.switch.press(leg, "99")
    await rig.wait(c.DtmfReceived, digit="9")
    await rig.settled()
    cmd = c.CollectDigits(leg_id=leg, max_digits=2, first_digit_timeout=0.05)
    await asyncio.wait_for(rig.executor.run(cmd), 2.0)
    (got,) = rig.emitted
    assert (got.digits, got.timed_out) == ("", True)  # type: ignore[attr-defined]


async def test_collect_digits_times_out(rig: Rig) -> None:
    leg = await rig.call()
    cmd = c.CollectDigits(
        leg_id=leg, max_digits=4, first_digit_timeout=0.02, inter_digit_timeout=0.02
    )
    await asyncio.wait_for(rig.executor.run(cmd), 2.0)
    (got,) = rig.emitted
    assert (got.digits, got.timed_out) == ("", True)  # type: ignore[attr-defined]


async def test_blind_transfer_drops_the_agent_and_bridges_the_new_party(rig: Rig) -> None:
    """SW-2, as the real drivers do it: the agent drops, the customer stays in its bridge
    and the new leg (same call) joins it on answer."""
    caller, agent = await talking(rig)
    cmd = c.Transfer(call_id=caller, leg_id=caller, destination="8005")
    assert await rig.executor.run_reporting(cmd) is True
    ended = await rig.wait(c.CallEnded, leg_id=agent)
    assert ended.cause is c.HangupCause.NORMAL_CLEARING
    new = await rig.wait(c.CallOffered, callee_number="8005")
    assert new.call_id == caller and new.direction is c.Direction.OUTBOUND
    joined = await rig.wait(c.CallBridged, leg_id=new.leg_id)
    assert joined.bridge_id == caller
    assert rig.driver.bridges[caller] == {caller, new.leg_id}
    assert caller in rig.driver.legs and agent not in rig.driver.legs


async def test_blind_transfer_of_a_caller_in_no_bridge_puts_it_in_one(rig: Rig) -> None:
    caller = await rig.call()
    await rig.executor.run(c.AnswerCall(leg_id=caller))
    assert await rig.executor.run_reporting(c.Transfer(leg_id=caller, destination="8005"))
    new = await rig.wait(c.CallOffered, callee_number="8005")
    joined = await rig.wait(c.CallBridged, leg_id=new.leg_id)
    assert rig.driver.bridges[joined.bridge_id] == {caller, new.leg_id}


async def test_command_on_a_gone_leg_reports_no_such_call(rig: Rig) -> None:
    leg = await rig.call()
    rig.switch.far_end_hangup(leg)
    await rig.wait(c.CallEnded, leg_id=leg)
    cmd = c.Hangup(leg_id=leg)
    assert await rig.executor.run_reporting(cmd) is False  # no exception
    (failed,) = rig.emitted
    assert isinstance(failed, c.CommandFailed)
    assert failed.error == "NoSuchCall"
    assert failed.command_id == cmd.id and failed.command_type == "Hangup"
    assert leg in failed.reason
    # the event is a valid contract message (it goes on the bus)
    assert c.decode(c.encode(failed)) == failed


@dataclass(frozen=True, slots=True, kw_only=True)
class Teleport(c.Command):
    """A command this build's executor has never heard of (a newer sender's)."""

    TYPE = "Teleport"
    leg_id: str


async def test_unsupported_command_rejected_with_a_clear_reason(rig: Rig) -> None:
    leg = await rig.call()
    cmd = Teleport(leg_id=leg)
    assert await rig.executor.run_reporting(cmd) is False
    (failed,) = rig.emitted
    assert isinstance(failed, c.CommandFailed)
    assert failed.command_id == cmd.id and failed.command_type == "Teleport"
    assert failed.error == "CommandRejected"
    assert failed.reason == "Teleport is not supported by the fake driver yet"
    assert rig.driver.actions == []  # nothing was done on the switch
    assert rig.driver.legs[leg].state == "ringing"


# every command except Originate (which creates its leg) names a leg/recording that the
# switch does not have: each must come back as a CommandFailed event, never an exception
GHOST = "ghost-leg"
ON_A_GONE_LEG: list[c.Command] = [
    c.AnswerCall(leg_id=GHOST),
    c.PlayPrompt(leg_id=GHOST, media=("sound:x",)),
    c.PlayPrompt(leg_id=GHOST, media=("sound:x",), wait=True),
    c.CollectDigits(leg_id=GHOST, first_digit_timeout=0.01, overall_timeout=0.02),
    c.Record(leg_id=GHOST, name="r1"),
    c.StopRecording(name="never-started"),
    c.Bridge(leg_ids=(GHOST,), bridge_id="b"),
    c.Transfer(leg_id=GHOST, destination="8004"),
    c.Transfer(leg_id=GHOST, destination="8004", mode=c.TransferMode.ATTENDED),
    c.CompleteTransfer(leg_id=GHOST),
    c.CancelTransfer(leg_id=GHOST),
    c.Hold(leg_id=GHOST),
    c.Unhold(leg_id=GHOST),
    c.Conference(leg_id=GHOST, destination="8002", new_leg_id="n1"),
    c.Pickup(ringing_leg_id=GHOST, destination="8003", new_leg_id="n2"),
    c.Listen(agent_leg_id=GHOST, supervisor="8100", new_leg_id="s1"),
    c.Whisper(agent_leg_id=GHOST, supervisor="8100", new_leg_id="s2"),
    c.Barge(agent_leg_id=GHOST, supervisor="8100", new_leg_id="s3"),
    c.Intercept(agent_leg_id=GHOST, supervisor="8100", new_leg_id="s4"),
    c.Hangup(leg_id=GHOST),
]


def test_gone_leg_cases_cover_every_command() -> None:
    covered = {type(x) for x in ON_A_GONE_LEG} | {c.Originate}
    assert covered == set(c.COMMANDS)


@pytest.mark.parametrize(
    "cmd",
    ON_A_GONE_LEG,
    ids=lambda cmd: (
        cmd.TYPE
        + ("-wait" if getattr(cmd, "wait", False) else "")
        + ("-attended" if getattr(cmd, "mode", "") == c.TransferMode.ATTENDED else "")
    ),
)
async def test_any_command_on_a_gone_leg_is_reported(rig: Rig, cmd: c.Command) -> None:
    try:
        ok = await asyncio.wait_for(rig.executor.run_reporting(cmd), 2.0)
    except Exception as exc:
        pytest.fail(f"run_reporting({cmd.TYPE}) raised {exc!r} instead of reporting it")
    assert ok is False
    (failed,) = rig.emitted
    assert isinstance(failed, c.CommandFailed)
    assert failed.command_id == cmd.id and failed.command_type == cmd.TYPE
    assert failed.error in ("NoSuchCall", "CommandRejected"), failed
    assert failed.reason


async def test_switch_down_is_raised_for_the_caller_to_retry(rig: Rig) -> None:
    leg = await rig.call()
    rig.driver.world_switch_down()
    with pytest.raises(SwitchUnavailable):
        await rig.executor.run_reporting(c.AnswerCall(leg_id=leg))
    assert rig.emitted == []  # not reported as a failed command: it will be retried


# --------------------------------------------------------------------- PlayPrompt(wait=True)


@pytest.fixture
async def slow_rig() -> AsyncIterator[Rig]:
    r = Rig(hold_events=True)
    await r.driver.start(r._sink)
    yield r
    await r.driver.close()


async def test_play_wait_waits_for_playback_finished(slow_rig: Rig) -> None:
    rig = slow_rig
    leg = await rig.call()
    await rig.release()
    cmd = c.PlayPrompt(leg_id=leg, media=("sound:座席忙",), playback_id="bye", wait=True)
    task = asyncio.create_task(rig.executor.run_reporting(cmd))
    fin = await rig.wait(c.PlaybackFinished)  # the switch says so, the executor not yet
    assert rig.driver.legs[leg].played == ["sound:座席忙"]  # playing has started...
    assert not task.done()  # ...and the command is not done until the playback is
    assert fin in rig.parked
    assert fin.playback_id == f"{leg}:bye"  # type: ignore[attr-defined]
    await rig.release(c.PlaybackFinished)
    assert await asyncio.wait_for(task, 1.0) is True


async def test_play_wait_ends_when_the_leg_hangs_up(slow_rig: Rig) -> None:
    rig = slow_rig
    leg = await rig.call()
    cmd = c.PlayPrompt(leg_id=leg, media=("sound:x",), wait=True)
    task = asyncio.create_task(rig.executor.run(cmd))
    await rig.wait(c.PlaybackFinished)
    assert not task.done()
    rig.parked.clear()  # the PlaybackFinished is lost; the caller hangs up instead
    rig.switch.far_end_hangup(leg)
    await rig.wait(c.CallEnded, leg_id=leg)
    await rig.release(c.CallEnded)
    await asyncio.wait_for(task, 1.0)


async def test_play_without_wait_returns_at_once(slow_rig: Rig) -> None:
    rig = slow_rig
    leg = await rig.call()
    cmd = c.PlayPrompt(leg_id=leg, media=("sound:x",), playback_id="p1")
    # no PlaybackFinished reaches the executor, yet the command is done
    assert await asyncio.wait_for(rig.executor.run_reporting(cmd), 1.0) is True
    await rig.wait(c.PlaybackFinished, playback_id="p1")  # (it comes afterwards)


# --------------------------------------------------------------------- multi-leg commands


async def talking(rig: Rig) -> tuple[str, str]:
    """A customer talking to agent leg ``<call>-a0`` in the bridge named after the call."""
    caller = await rig.call()
    await rig.executor.run(c.AnswerCall(leg_id=caller))
    await rig.executor.run(c.Bridge(call_id=caller, leg_ids=(caller,), bridge_id=caller))
    agent = f"{caller}-a0"
    await rig.executor.run(
        c.Originate(call_id=caller, leg_id=agent, destination="PJSIP/8001", bridge_id=caller)
    )
    await rig.wait(c.CallBridged, leg_id=agent)
    assert rig.driver.bridges[caller] == {caller, agent}
    return caller, agent


def offered(rig: Rig, leg: str) -> c.CallOffered:
    (ev,) = [e for e in rig.of(c.CallOffered) if e.leg_id == leg]  # type: ignore[attr-defined]
    assert isinstance(ev, c.CallOffered)
    return ev


async def test_conference_adds_a_third_party_to_the_bridge(rig: Rig) -> None:
    caller, agent = await talking(rig)
    cmd = c.Conference(call_id=caller, leg_id=agent, destination="8002", new_leg_id="conf-1")
    assert await rig.executor.run_reporting(cmd) is True
    await rig.wait(c.CallBridged, leg_id="conf-1")
    assert rig.driver.bridges[caller] == {caller, agent, "conf-1"}
    ev = offered(rig, "conf-1")
    assert ev.call_id == caller and ev.callee_number == "8002"
    assert any(
        isinstance(e, c.CallBridged) and e.leg_id == "conf-1" and e.bridge_id == caller
        for e in rig.events
    )


async def test_barge_joins_as_supervisor(rig: Rig) -> None:
    caller, agent = await talking(rig)
    cmd = c.Barge(call_id=caller, agent_leg_id=agent, supervisor="8100", new_leg_id="sup-1")
    assert await rig.executor.run_reporting(cmd) is True
    await rig.wait(c.CallBridged, leg_id="sup-1")
    assert offered(rig, "sup-1").role is c.LegRole.SUPERVISOR
    assert rig.driver.bridges[caller] == {caller, agent, "sup-1"}


async def test_intercept_takes_over_and_drops_the_agent(rig: Rig) -> None:
    caller, agent = await talking(rig)
    cmd = c.Intercept(call_id=caller, agent_leg_id=agent, supervisor="8100", new_leg_id="sup-2")
    assert await rig.executor.run_reporting(cmd) is True
    assert agent in rig.driver.legs  # the agent stays until the supervisor is in
    ended = await rig.wait(c.CallEnded)
    assert ended.leg_id == agent and ended.cause is c.HangupCause.NORMAL_CLEARING
    assert rig.driver.bridges[caller] == {caller, "sup-2"}
    assert caller in rig.driver.legs and agent not in rig.driver.legs


async def test_pickup_answers_a_ringing_call_elsewhere(rig: Rig) -> None:
    rig.switch.phone("PJSIP/8001", PhoneBehavior.RING)  # it rings, nobody answers
    caller = await rig.call()
    await rig.executor.run(c.AnswerCall(leg_id=caller))
    await rig.executor.run(c.Bridge(call_id=caller, leg_ids=(caller,), bridge_id=caller))
    ringing = f"{caller}-a0"
    await rig.executor.run(
        c.Originate(call_id=caller, leg_id=ringing, destination="PJSIP/8001", bridge_id=caller)
    )
    await rig.wait(c.CallRinging, leg_id=ringing)
    cmd = c.Pickup(call_id=caller, ringing_leg_id=ringing, destination="8003", new_leg_id="pk")
    assert await rig.executor.run_reporting(cmd) is True
    ended = await rig.wait(c.CallEnded)
    assert rig.driver.bridges[caller] == {caller, "pk"}
    assert ended.leg_id == ringing  # type: ignore[attr-defined]
    assert ended.cause is c.HangupCause.PICKED_OFF  # type: ignore[attr-defined]
    assert offered(rig, "pk").role is c.LegRole.AGENT


async def test_listen_and_whisper_snoop_without_joining_the_call(rig: Rig) -> None:
    caller, agent = await talking(rig)
    listen = c.Listen(call_id=caller, agent_leg_id=agent, supervisor="8100", new_leg_id="l1")
    whisper = c.Whisper(call_id=caller, agent_leg_id=agent, supervisor="8101", new_leg_id="w1")
    assert await rig.executor.run_reporting(listen) is True
    assert await rig.executor.run_reporting(whisper) is True
    await rig.wait(c.CallBridged, leg_id="l1")
    await rig.wait(c.CallBridged, leg_id="w1")
    assert rig.driver.snoops == {"l1": (agent, False), "w1": (agent, True)}
    assert rig.driver.bridges[caller] == {caller, agent}  # the customer hears no one new
    hears = rig.switch.heard_by
    assert hears("l1") == {agent, caller} and hears("w1") == {agent, caller}
    assert hears(agent) == {caller, "w1"}  # the whisper, not the listener
    assert hears(caller) == {agent}
    for leg in ("l1", "w1"):
        ev = offered(rig, leg)
        assert ev.role is c.LegRole.SUPERVISOR and ev.call_id == caller


async def test_attended_transfer_complete(rig: Rig) -> None:
    caller, agent = await talking(rig)
    consult = c.Transfer(
        call_id=caller,
        leg_id=agent,
        destination="8004",
        mode=c.TransferMode.ATTENDED,
        new_leg_id="t1",
    )
    assert await rig.executor.run_reporting(consult) is True
    assert rig.driver.legs[caller].held  # the customer waits with music
    await rig.wait(c.CallHeld, leg_id=caller)
    assert rig.switch.heard_by(caller) == {"music"}
    await rig.wait(c.CallBridged, leg_id="t1")  # the consulted party answered
    assert rig.driver.bridges[caller] == {caller}
    assert rig.driver.legs["t1"].bridge_id == rig.driver.legs[agent].bridge_id != caller

    await rig.settled()
    n = len(rig.events)
    assert await rig.executor.run_reporting(c.CompleteTransfer(leg_id=agent)) is True
    assert rig.driver.bridges[caller] == {caller, "t1"}
    assert not rig.driver.legs[caller].held
    await rig.settled()
    assert rig.switch.heard_by(caller) == {"t1"}
    after = rig.since(n)
    assert any(isinstance(e, c.CallResumed) and e.leg_id == caller for e in after)  # type: ignore[attr-defined]
    assert any(isinstance(e, c.CallEnded) and e.leg_id == agent for e in after)  # type: ignore[attr-defined]
    assert agent not in rig.driver.legs


async def test_attended_transfer_cancel(rig: Rig) -> None:
    caller, agent = await talking(rig)
    consult = c.Transfer(leg_id=agent, destination="8004", mode=c.TransferMode.ATTENDED)
    assert await rig.executor.run_reporting(consult) is True
    target = consult.id  # without new_leg_id the command id names the new leg
    assert target in rig.driver.legs
    assert await rig.executor.run_reporting(c.CancelTransfer(leg_id=agent)) is True
    assert target not in rig.driver.legs
    assert rig.driver.bridges[caller] == {caller, agent}
    assert not rig.driver.legs[caller].held
    await rig.wait(c.CallEnded, leg_id=target)
    await rig.wait(c.CallResumed, leg_id=caller)
    # nothing left to complete
    assert await rig.executor.run_reporting(c.CompleteTransfer(leg_id=agent)) is False
    assert rig.emitted[-1].error == "CommandRejected"  # type: ignore[attr-defined]


async def test_complete_transfer_before_the_target_answers_is_refused(rig: Rig) -> None:
    _, agent = await talking(rig)
    rig.switch.phone("8004", PhoneBehavior.RING)
    consult = c.Transfer(
        leg_id=agent, destination="8004", mode=c.TransferMode.ATTENDED, new_leg_id="t2"
    )
    assert await rig.executor.run_reporting(consult) is True
    assert await rig.executor.run_reporting(c.CompleteTransfer(leg_id=agent)) is False
    failed = rig.emitted[-1]
    assert isinstance(failed, c.CommandFailed) and failed.error == "CommandRejected"
    assert "not answered" in failed.reason
    assert agent in rig.driver.legs  # the agent is still there to cancel


async def test_a_hangup_ends_only_that_legs_awaited_playbacks(slow_rig: Rig) -> None:
    rig = slow_rig
    a, b = await rig.call(), await rig.call()
    play_a = asyncio.create_task(
        rig.executor.run(c.PlayPrompt(leg_id=a, media=("sound:x",), wait=True))
    )
    play_b = asyncio.create_task(
        rig.executor.run(c.PlayPrompt(leg_id=b, media=("sound:x",), wait=True))
    )
    await rig.until(lambda: len(rig.of(c.PlaybackFinished)) == 2, what="both played")
    rig.parked.clear()  # no PlaybackFinished: only hangups end the waits
    rig.switch.far_end_hangup(a)
    await rig.wait(c.CallEnded, leg_id=a)
    await rig.release(c.CallEnded)
    await asyncio.wait_for(play_a, 1.0)
    assert not play_b.done()  # the other caller's prompt is still playing
    rig.switch.far_end_hangup(b)
    await rig.wait(c.CallEnded, leg_id=b)
    await rig.release(c.CallEnded)
    await asyncio.wait_for(play_b, 1.0)
    assert not rig.executor._playbacks and not rig.executor._playbacks_of  # nothing kept


# --------------------------------------------------------------------- the switch's timing


async def test_the_switch_tells_what_happened_after_the_operation_returns(rig: Rig) -> None:
    """As on a real switch: a dialled leg is only ringing when ``originate`` returns;
    offered, ringing, answered and bridged come afterwards, in that order (part 7)."""
    caller = await rig.call()
    await rig.driver.answer(caller)
    await rig.driver.bridge([caller], "b-1")
    await rig.settled()
    n = len(rig.events)
    await rig.driver.originate(leg_id="ag", destination="8001", join_bridge="b-1")
    assert rig.since(n) == []
    assert rig.driver.legs["ag"].state == "ringing" and "ag" not in rig.driver.bridges["b-1"]
    await rig.wait(c.CallBridged, leg_id="ag")
    kinds = [type(e) for e in rig.since(n) if getattr(e, "leg_id", "") == "ag"]
    assert kinds == [c.CallOffered, c.CallRinging, c.CallAnswered, c.CallBridged]


async def test_a_ringing_phone_answered_later_joins_its_bridge(rig: Rig) -> None:
    rig.switch.phone("8001", PhoneBehavior.RING)
    caller = await rig.call()
    await rig.driver.bridge([caller], "b-2")
    await rig.driver.originate(leg_id="ag", destination="8001", join_bridge="b-2")
    await rig.wait(c.CallRinging, leg_id="ag")
    await rig.settled()
    assert not rig.of(c.CallAnswered)  # it rings on
    rig.switch.pick_up("ag")
    await rig.wait(c.CallBridged, leg_id="ag")
    assert rig.driver.bridges["b-2"] == {caller, "ag"}


async def test_one_failing_event_consumer_call_does_not_stop_the_events() -> None:
    """The controller never dies from one bad event: the switch keeps delivering."""
    driver = FakeDriver()
    got: list[c.Event] = []

    async def sink(event: c.Event) -> None:
        if isinstance(event, c.CallOffered) and not got:
            got.append(event)
            raise RuntimeError("a consumer bug")
        got.append(event)

    await driver.start(sink)
    try:
        leg = driver.switch.inbound_call("13800138000", "4008123123")
        await driver.switch.settled()
        await driver.answer(leg)
        await driver.switch.settled()
        assert [type(e) for e in got][-2:] == [c.CallOffered, c.CallAnswered]
    finally:
        await driver.close()


async def test_a_restarted_driver_ends_the_legs_gone_meanwhile_with_their_own_cause() -> None:
    """SW-4 on the fake: the switch keeps end records for a controller that was away."""
    first = FakeDriver()
    switch = first.switch
    await first.start(_ignore)
    caller = switch.inbound_call("13800138000", "4008123123")
    other = switch.inbound_call("13800138001", "4008123123")
    await switch.settled()
    await first.close()  # (the switch stays: ``first`` owns it, but it is only closed)
    switch.far_end_hangup(other, c.HangupCause.USER_BUSY)
    events: list[c.Event] = []

    async def sink(event: c.Event) -> None:
        events.append(event)

    second = FakeDriver(switch)
    await second.restore(
        [KnownLeg(caller, caller), KnownLeg(other, other), KnownLeg("vanished", "vanished")]
    )
    await second.start(sink)
    await switch.settled()
    ended = {e.leg_id: e.cause for e in events if isinstance(e, c.CallEnded)}
    assert ended == {other: c.HangupCause.USER_BUSY, "vanished": c.HangupCause.SWITCH_LOST}
    await second.hangup(caller)  # still controllable
    await switch.settled()
    assert [e.leg_id for e in events if isinstance(e, c.CallEnded)][-1] == caller
    await switch.close()


async def _ignore(event: c.Event) -> None:
    return None
