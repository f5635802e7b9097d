"""Issue 13 part 0.1: bus commands of different calls run concurrently, one call's run in
order, and acking/redelivery stay exact (a command is acked once handled; a crash
redelivers what was not). The controller runs on the fake switch and the in-memory bus;
tests wait for conditions with a deadline, never sleep."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from switch_control import contract as c
from switch_control.bus import COMMANDS_STREAM, LedgerState, MemoryBus
from switch_control.daemon import Controller, ControllerConfig
from switch_control.drivers.fake import FakeDriver, FakeSwitch
from switch_control.engine.calls import CallState
from switch_control.engine.policy import PolicyConfig
from switch_control.engine.router import Route, RouteKind, RouterChain

SLOW = dict(first_digit_timeout=30.0, inter_digit_timeout=30.0, overall_timeout=60.0)


class Held:
    """A route handler that takes calls and does nothing (a queue runtime holding them),
    so that only the bus commands of a test act on the calls."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def __call__(self, state: CallState, event: c.CallOffered, route: Route) -> None:
        self.calls.append(state.call_id)


class Recording(Controller):
    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.seen: list[c.Event] = []

    async def on_driver_event(self, event: c.Event) -> None:
        self.seen.append(event)
        await super().on_driver_event(event)


@dataclass
class Rig:
    switch: FakeSwitch
    bus: MemoryBus
    controller: Recording
    driver: FakeDriver
    task: asyncio.Task[None] | None = None

    def of(self, kind: type[c.Event], **match: Any) -> list[Any]:
        return [
            e
            for e in self.controller.seen
            if isinstance(e, kind) and all(getattr(e, k) == v for k, v in match.items())
        ]

    async def until(self, predicate: Callable[[], object], what: str, timeout: float = 3.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            if loop.time() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}")
            await asyncio.sleep(0.002)

    async def call(self, caller: str) -> str:
        leg = self.switch.inbound_call(caller, "4008123123")
        await self.until(lambda: leg in self.controller.calls, f"call {leg} known")
        return leg

    async def send(self, *cmds: c.Command) -> None:
        for cmd in cmds:
            await self.bus.publish(COMMANDS_STREAM, c.encode(cmd))

    def start_consuming(self) -> None:
        self.task = asyncio.create_task(self.controller.consumers[1].run())  # shared stream

    async def crash(self) -> None:
        """The process dies: its tasks stop where they are, nothing is acked any more."""
        assert self.task is not None
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.driver.close()


def make_rig(switch: FakeSwitch, bus: MemoryBus) -> Rig:
    driver = FakeDriver(switch)
    config = ControllerConfig(name="ctl-t", policy=PolicyConfig(welcome=(), agents=()))
    router = RouterChain(default=Route.queue("q-sales"))
    controller = Recording(config, driver, bus, redis=None, router=router)  # type: ignore[arg-type]
    controller.consumers[1].block_ms = 20
    controller.routing.register(RouteKind.QUEUE, Held())
    return Rig(switch, bus, controller, driver)


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    switch = FakeSwitch()
    r = make_rig(switch, MemoryBus())
    await r.driver.start(r.controller.on_driver_event)
    r.start_consuming()
    yield r
    if r.task is not None and not r.task.done():
        r.controller.consumers[1].stop()
        await asyncio.wait_for(r.task, 2)
    await r.driver.close()
    await switch.close()


async def test_another_callers_answer_is_not_held_up_by_a_collect_digits(rig: Rig) -> None:
    a = await rig.call("13800000001")
    b = await rig.call("13800000002")
    collect = c.CollectDigits(call_id=a, leg_id=a, max_digits=4, **SLOW)  # type: ignore[arg-type]
    await rig.send(collect, c.AnswerCall(leg_id=b))
    # B is answered while A still waits for its keys (sequentially it would wait 30 s)
    await rig.until(lambda: rig.of(c.CallAnswered, leg_id=b), "B answered")
    assert rig.driver.collecting(a), "A's CollectDigits is still waiting"
    assert rig.of(c.DigitsCollected) == []
    assert rig.switch.legs[b].state == "up"
    # A's keys still reach A's command
    rig.switch.press(a, "1234")
    await rig.until(lambda: rig.of(c.DigitsCollected, leg_id=a), "A's digits")
    (got,) = rig.of(c.DigitsCollected, leg_id=a)
    assert (got.digits, got.command_id, got.timed_out) == ("1234", collect.id, False)
    await rig.until(lambda: rig.controller.consumers[1].stats.handled == 2, "both acked")
    assert await rig.bus.pending_count(COMMANDS_STREAM, "controller") == 0


async def test_one_calls_commands_run_in_order(rig: Rig) -> None:
    a = await rig.call("13800000001")
    b = await rig.call("13800000002")
    await rig.send(
        c.CollectDigits(call_id=a, leg_id=a, **SLOW),  # type: ignore[arg-type]
        c.PlayPrompt(leg_id=a, media=("sound:after-the-keys",)),  # no call_id: by its leg
        c.AnswerCall(leg_id=b),
    )
    await rig.until(lambda: rig.of(c.CallAnswered, leg_id=b), "B answered")
    # A's prompt waits for A's CollectDigits to finish, although B's command went by
    assert "sound:after-the-keys" not in rig.switch.legs[a].played
    rig.switch.press(a, "7")
    await rig.until(lambda: rig.of(c.PlaybackFinished, leg_id=a), "A's prompt played")
    order = [type(e) for e in rig.controller.seen if getattr(e, "leg_id", "") == a]
    assert order.index(c.DigitsCollected) < order.index(c.PlaybackFinished)


async def test_bus_command_waits_for_the_controllers_own_batch_of_that_call(rig: Rig) -> None:
    a = await rig.call("13800000001")
    # the controller's own decision for A holds A's lock (e.g. a prompt with wait=True)
    release = asyncio.Event()
    entered = asyncio.Event()

    async def own_batch() -> None:
        async with rig.controller.dispatcher.locks.hold(a):
            entered.set()
            await release.wait()

    batch = asyncio.create_task(own_batch())
    await entered.wait()
    await rig.send(c.AnswerCall(leg_id=a))
    await rig.until(lambda: rig.controller.consumers[1].busy_lanes == 1, "command in a lane")
    assert rig.switch.legs[a].state != "up", "ran inside the controller's own batch"
    release.set()
    await batch
    await rig.until(lambda: rig.of(c.CallAnswered, leg_id=a), "A answered after the batch")


async def test_a_command_type_nobody_handles_gets_command_failed(rig: Rig) -> None:
    @dataclass(frozen=True, slots=True, kw_only=True)
    class SignIn(c.Command):  # an ACD command before the ACD runtime registered it
        TYPE = "SignIn"
        agent_id: str
        queue_id: str

    cmd = SignIn(agent_id="007", queue_id="q1")
    await rig.controller.dispatcher.dispatch(cmd, False)
    (failed,) = rig.of(c.CommandFailed)
    assert (failed.command_id, failed.command_type, failed.error) == (
        cmd.id,
        "SignIn",
        "UnknownCommand",
    )
    assert failed.reason == "no handler for SignIn in this controller"
    assert rig.controller.dispatcher.key_of(cmd) == "agent:007"


async def test_a_crash_mid_command_redelivers_only_what_was_not_handled() -> None:
    switch, bus = FakeSwitch(), MemoryBus()
    first = make_rig(switch, bus)
    await first.driver.start(first.controller.on_driver_event)
    first.start_consuming()
    a = await first.call("13800000001")
    b = await first.call("13800000002")
    collect = c.CollectDigits(call_id=a, leg_id=a, max_digits=2, **SLOW)  # type: ignore[arg-type]
    answer_b = c.AnswerCall(leg_id=b)
    await first.send(collect, answer_b)
    await first.until(lambda: first.controller.consumers[1].stats.handled == 1, "B handled")
    assert first.driver.collecting(a)
    await first.crash()  # killed while A's CollectDigits waits
    assert await bus.pending_count(COMMANDS_STREAM, "controller") == 1
    assert await bus.ledger_get(collect.id) is LedgerState.STARTED
    assert await bus.ledger_get(answer_b.id) is LedgerState.DONE

    bus.forget_consumer(COMMANDS_STREAM, "controller", "ctl-t")  # the process restarts
    second = make_rig(switch, bus)
    await second.driver.start(second.controller.on_driver_event)
    second.start_consuming()
    try:
        await second.until(lambda: second.driver.collecting(a), "A's collect redelivered")
        switch.press(a, "42")
        await second.until(lambda: second.of(c.DigitsCollected, leg_id=a), "A's digits")
        assert second.of(c.DigitsCollected)[0].digits == "42"
        await second.until(
            lambda: second.controller.consumers[1].stats.handled == 1, "A acked at last"
        )
        assert await bus.pending_count(COMMANDS_STREAM, "controller") == 0
        assert await bus.ledger_get(collect.id) is LedgerState.DONE
        # B's answer, acked before the crash, was not run again
        assert switch.legs[b].state == "up"
        assert ("answer", b) not in second.driver.actions
    finally:
        second.controller.consumers[1].stop()
        assert second.task is not None
        await asyncio.wait_for(second.task, 2)
        await second.driver.close()
        await switch.close()


async def test_stop_finishes_commands_in_hand_and_leaves_the_queued_ones(rig: Rig) -> None:
    a = await rig.call("13800000001")
    await rig.send(
        c.CollectDigits(call_id=a, leg_id=a, **SLOW),  # type: ignore[arg-type]
        c.Hangup(leg_id=a),
    )
    await rig.until(lambda: rig.driver.collecting(a), "collect started")
    rig.controller.consumers[1].stop()
    rig.switch.press(a, "5")  # the command in hand finishes...
    assert rig.task is not None
    await asyncio.wait_for(rig.task, 2)
    assert rig.of(c.DigitsCollected, leg_id=a)
    assert rig.switch.legs[a].state != "down", "...the queued Hangup is left for the next"
    assert await rig.bus.pending_count(COMMANDS_STREAM, "controller") == 1
