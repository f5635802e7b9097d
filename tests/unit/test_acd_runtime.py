"""The ACD runtime in a controller (issue 13 Parts 3 and 4): agent commands (ACD-7, ACD-8),
calls routed to a queue (ACD-1, ACD-2), offers, no answer (ACD-6), abandons (ACD-5),
wrap-up (ACD-7), overflow on max wait (ACD-6), configuration changes without a restart.

A real Controller on the fake switch, a real Redis (``redis_db``) and a fake clock: time
moves only by ``clock.advance`` and due timers are fired by the test; the tests wait for
conditions with a deadline, never for time to pass."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
import redis.asyncio as aioredis

from acd.live import AgentState
from acd.runtime import AcdRuntime, RuntimeSettings, attach
from switch_control import contract as c
from switch_control.bus import MemoryBus
from switch_control.clock import FakeClock
from switch_control.daemon import Controller, ControllerConfig
from switch_control.drivers.fake import FakeDriver, FakeSwitch
from switch_control.drivers.fake.switch import PhoneBehavior
from switch_control.engine.policy import PolicyConfig

pytestmark = pytest.mark.redis

SALES = "4008001234"  # routed to queue 10
OTHER = "4008009999"  # not routed: the fixed list as before


def snapshot(version: int = 1, **changes: Any) -> dict[str, Any]:
    snap: dict[str, Any] = {
        "schema": 1,
        "version": version,
        "queues": [
            {
                "id": 10,
                "name": "售前咨询",
                "enabled": True,
                "strategy": "longest_idle",
                "priority": 0,
                "ring_timeout": 20,
                "wrap_up_time": 30,
                "max_wait": None,
                "members": [{"agent_id": 1, "tier": 1}, {"agent_id": 2, "tier": 1}],
                "overflow": [],
            }
        ],
        "agents": [
            {"id": 1, "extension": "1001", "name": "张伟", "team_id": 1, "skills": {}},
            {"id": 2, "extension": "1002", "name": "李娜", "team_id": 1, "skills": {}},
        ],
        "access_numbers": [{"number": SALES, "enabled": True, "queue_id": 10, "priority": 0}],
        "vip_numbers": [],
        "not_ready_reasons": [{"code": "break", "name": "小休"}],
    }
    snap.update(changes)
    return snap


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
    controller: Recording
    driver: FakeDriver
    rt: AcdRuntime
    clock: FakeClock
    redis: aioredis.Redis

    def of(self, kind: type[c.Event], **match: Any) -> list[Any]:
        return [
            e
            for e in self.controller.seen
            if isinstance(e, kind) and all(getattr(e, k) == v for k, v in match.items())
        ]

    async def until(self, predicate: Callable[[], object], what: str, timeout: float = 5.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            if loop.time() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}")
            await asyncio.sleep(0.002)

    async def settle(self) -> None:
        """Until neither the switch nor the runtime has anything left to do now."""
        for _ in range(20):
            await self.switch.settled()
            await self.rt.idle()
            await asyncio.sleep(0)
            if not self.rt._tasks and self.switch._idle.is_set() and not self.switch._queue:
                break

    async def publish(self, snap: dict[str, Any]) -> None:
        await self.redis.set("acd:config", orjson.dumps(snap))
        await self.redis.xadd("acd:config:changes", {"version": snap["version"]})

    async def command(self, cmd: c.Command) -> None:
        await self.controller.dispatcher.dispatch(cmd, False)
        await self.settle()

    async def login(self, *agents: str, ready: bool = True) -> None:
        for a in agents:
            await self.command(c.LoginAgent(agent_id=a, ready=ready))

    async def call(self, caller: str, number: str = SALES) -> str:
        leg = self.switch.inbound_call(caller, number)
        await self.until(lambda: leg in self.controller.calls, f"call {leg} known")
        await self.settle()
        return leg

    async def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        await self.controller.timers.fire_due()
        await self.settle()

    async def state(self, agent: str) -> AgentState:
        snap = await self.rt.store.agent(agent)
        assert snap is not None
        return snap.state

    def offered_leg(self, agent: str) -> str:
        (offer,) = [o for o in self.of(c.AgentOffered, agent_id=agent)][-1:]
        return str(offer.leg_id)


@pytest.fixture
async def rig(redis_db: str) -> AsyncIterator[Rig]:
    client = aioredis.Redis.from_url(redis_db)
    switch = FakeSwitch()
    for ext in ("1001", "1002", "1003"):
        switch.phone(ext, PhoneBehavior.RING)  # the test picks up (or lets it ring)
    driver = FakeDriver(switch)
    clock = FakeClock(start=1_750_000_000.0)
    config = ControllerConfig(name="ctl-acd", policy=PolicyConfig(welcome=(), agents=()))
    controller = Recording(config, driver, MemoryBus(), client, clock=clock)
    rt = attach(controller, settings=RuntimeSettings(config_block_ms=20))
    r = Rig(switch, controller, driver, rt, clock, client)
    await r.publish(snapshot())
    assert await rt.reload()
    await driver.start(controller.on_driver_event)
    yield r
    await rt.close()
    await driver.close()
    await switch.close()
    await client.aclose()


# ====================================================================== agent commands


async def test_login_publishes_agent_state_changed_with_queues(rig: Rig) -> None:
    """ACD-7, ACD-8: login -> ready, signed into the queues he is a member of."""
    await rig.command(c.LoginAgent(agent_id="1", ready=True, by="user-9"))
    (ev,) = rig.of(c.AgentStateChanged, agent_id="1")
    assert (ev.state, ev.previous, ev.by, ev.queue_ids) == (
        "ready",
        "logged_out",
        "user-9",
        ("10",),
    )
    await rig.command(
        c.SetAgentState(agent_id="1", state=c.AgentStateRequest.NOT_READY, reason="break")
    )
    assert rig.of(c.AgentStateChanged, agent_id="1")[-1].state == "not_ready"
    assert await rig.state("1") is AgentState.NOT_READY
    await rig.command(c.LogoutAgent(agent_id="1"))
    assert await rig.state("1") is AgentState.LOGGED_OUT


@pytest.mark.parametrize(
    ("cmd", "error"),
    [
        (c.LoginAgent(agent_id="99", ready=True), "UnknownAgent"),
        (c.LoginAgent(agent_id="1", queue_ids=("77",)), "UnknownQueue"),
        (
            c.SetAgentState(agent_id="1", state=c.AgentStateRequest.NOT_READY, reason="nap"),
            "UnknownReason",
        ),
        (c.SetAgentState(agent_id="1", state=c.AgentStateRequest.READY), "UnknownAgent"),
        (c.LogoutAgent(agent_id="bad id"), "UnknownAgent"),
    ],
    ids=["unknown-agent", "unknown-queue", "unknown-reason", "never-logged-in", "bad-id"],
)
async def test_refused_agent_commands_fail_with_a_reason_and_write_nothing(
    rig: Rig, cmd: c.Command, error: str
) -> None:
    """Bad input: CommandFailed with the reason; nothing half-applied; controller alive."""
    await rig.command(cmd)
    (failed,) = rig.of(c.CommandFailed, command_id=cmd.id)
    assert failed.error == error, failed.reason
    assert failed.reason
    assert rig.of(c.AgentStateChanged) == []
    assert await rig.rt.store.agent("1") is None
    await rig.login("1")  # and the next command works
    assert await rig.state("1") is AgentState.READY


# ====================================================================== queue calls


async def test_three_callers_two_agents_third_waits_until_a_wrap_up_ends(rig: Rig) -> None:
    """ACD-1/ACD-7: two callers are offered, the third waits (position 3) and is offered
    to the first agent who is free again, after his wrap-up, not before."""
    await rig.login("1", "2")
    a = await rig.call("13800000001")
    rig.clock.advance(1)  # (callers of one instant would be in line in id order)
    b = await rig.call("13800000002")
    rig.clock.advance(1)
    third = await rig.call("13800000003")
    assert [e.position for e in rig.of(c.CallQueued)] == [1, 2, 3]
    offers = rig.of(c.AgentOffered)
    assert {o.call_id for o in offers} == {a, b}
    assert {o.agent_id for o in offers} == {"1", "2"}
    assert rig.of(c.AgentOffered, call_id=third) == []
    assert rig.switch.legs[third].played == ["tone:ring"]  # the hold media
    assert f"hold-{third}" in rig.switch.legs[third].playing
    for o in offers:
        rig.switch.pick_up(o.leg_id)
    await rig.settle()
    assert {await rig.state("1"), await rig.state("2")} == {AgentState.ON_CALL}
    assert rig.switch.legs[a].playing == set(), "the hold media stopped on answer"
    assert rig.switch.legs[third].playing == {f"hold-{third}"}
    first = next(o for o in offers if o.call_id == a)
    assert rig.switch.legs[first.leg_id].bridge_id == rig.switch.legs[a].bridge_id != ""
    rig.switch.far_end_hangup(a)  # A's talk ends: agent wraps up
    await rig.settle()
    assert await rig.state(first.agent_id) is AgentState.WRAP_UP
    assert first.leg_id not in rig.switch.legs, "the agent's leg was released"
    await rig.advance(29)
    assert rig.of(c.AgentOffered, call_id=third) == [], "offered during wrap-up"
    await rig.advance(1)
    (offer,) = rig.of(c.AgentOffered, call_id=third)
    assert offer.agent_id == first.agent_id
    assert await rig.state(first.agent_id) is AgentState.RESERVED


async def test_no_answer_moves_on_and_the_missed_count_rises(rig: Rig) -> None:
    """ACD-6: the ring timeout ends the offer; the next agent is rung; missed + 1."""
    await rig.login("1", "2")
    a = await rig.call("13800000001")
    (first,) = rig.of(c.AgentOffered, call_id=a)
    await rig.advance(19)
    assert first.leg_id in rig.switch.legs
    await rig.advance(1)
    assert first.leg_id not in rig.switch.legs
    offers = rig.of(c.AgentOffered, call_id=a)
    assert [o.agent_id for o in offers] == [first.agent_id, {"1": "2", "2": "1"}[first.agent_id]]
    snap = await rig.rt.store.agent(first.agent_id)
    assert snap is not None and snap.missed_in_row == 1
    assert snap.state is AgentState.READY
    rig.switch.pick_up(offers[1].leg_id)
    await rig.settle()
    assert await rig.state(offers[1].agent_id) is AgentState.ON_CALL


async def test_busy_agent_moves_on_at_once(rig: Rig) -> None:
    rig.switch.phone("1001", PhoneBehavior.BUSY)
    rig.switch.phone("1002", PhoneBehavior.BUSY)
    await rig.login("1")
    a = await rig.call("13800000001")
    assert [o.agent_id for o in rig.of(c.AgentOffered, call_id=a)] == ["1"]
    assert await rig.state("1") is AgentState.READY  # released, counted missed
    await rig.login("2")
    assert [o.agent_id for o in rig.of(c.AgentOffered, call_id=a)] == ["1", "2"]


async def test_caller_abandons_while_the_agent_rings_agent_ready_at_once(rig: Rig) -> None:
    """ACD-5/7: CallAbandoned with the wait; the agent is ready again in the same tick
    (no clock advance) and his ringing leg is hung up."""
    await rig.login("1")
    a = await rig.call("13800000001")
    (offer,) = rig.of(c.AgentOffered, call_id=a)
    rig.clock.advance(7)
    rig.switch.far_end_hangup(a)
    await rig.settle()
    (ab,) = rig.of(c.CallAbandoned, call_id=a)
    assert (ab.queue_id, ab.waited) == ("10", 7.0)
    assert await rig.state("1") is AgentState.READY
    assert offer.leg_id not in rig.switch.legs
    assert await rig.rt.store.waiting_count("10") == 0
    b = await rig.call("13800000002")  # and he takes the next caller
    assert [o.agent_id for o in rig.of(c.AgentOffered, call_id=b)] == ["1"]


async def test_caller_abandons_while_waiting(rig: Rig) -> None:
    a = await rig.call("13800000001")  # nobody logged in: waits
    (q,) = rig.of(c.CallQueued, call_id=a)
    assert q.position == 1
    rig.clock.advance(12.5)
    rig.switch.far_end_hangup(a)
    await rig.settle()
    (ab,) = rig.of(c.CallAbandoned, call_id=a)
    assert (ab.waited, ab.position) == (12.5, 1)
    assert await rig.rt.store.waiting_count("10") == 0


async def test_agent_hangs_up_wrap_up_then_ready_early_by_command(rig: Rig) -> None:
    await rig.login("1")
    a = await rig.call("13800000001")
    (offer,) = rig.of(c.AgentOffered, call_id=a)
    rig.switch.pick_up(offer.leg_id)
    await rig.settle()
    rig.switch.far_end_hangup(offer.leg_id)  # the agent ends the call
    await rig.settle()
    assert a not in rig.switch.legs, "the caller was released"
    assert await rig.state("1") is AgentState.WRAP_UP
    b = await rig.call("13800000002")
    assert rig.of(c.AgentOffered, call_id=b) == []
    await rig.command(c.SetAgentState(agent_id="1", state=c.AgentStateRequest.READY))
    assert [o.agent_id for o in rig.of(c.AgentOffered, call_id=b)] == ["1"]


async def test_max_wait_overflow_plays_the_prompt_and_releases(rig: Rig) -> None:
    """ACD-6: nobody takes the call by the max wait: the default final overflow (MVP:
    the overflow prompt, then a hangup); never dropped silently."""
    snap = snapshot(2)
    snap["queues"][0]["max_wait"] = 60
    await rig.publish(snap)
    assert await rig.rt.reload()
    a = await rig.call("13800000001")
    leg = rig.switch.legs[a]
    await rig.advance(59)
    assert a in rig.switch.legs
    await rig.advance(1)
    await rig.until(lambda: a not in rig.switch.legs, "caller released")
    assert leg.played == ["tone:ring", "sound:all-circuits-busy-now"]
    assert await rig.rt.store.waiting_count("10") == 0
    assert rig.of(c.CallAbandoned) == []


async def test_max_wait_overflow_to_another_queue(rig: Rig) -> None:
    snap = snapshot(2)
    snap["queues"][0]["max_wait"] = 60
    snap["queues"][0]["overflow"] = [
        {"condition": "max_wait", "action": "queue", "after_failures": 1, "target_queue_id": 20}
    ]
    snap["queues"].append(
        {
            **snap["queues"][0],
            "id": 20,
            "max_wait": None,
            "overflow": [],
            "members": [{"agent_id": 2}],
        }
    )
    await rig.publish(snap)
    assert await rig.rt.reload()
    a = await rig.call("13800000001")
    await rig.advance(60)
    assert [q.queue_id for q in rig.of(c.CallQueued, call_id=a)] == ["10", "20"]
    await rig.login("2")
    assert [(o.agent_id, o.queue_id) for o in rig.of(c.AgentOffered, call_id=a)] == [("2", "20")]


async def test_configuration_change_applies_without_restart(rig: Rig) -> None:
    """ACD-1: a new access number and queue published while running route at once."""
    watcher = asyncio.create_task(rig.rt.watch_config())
    try:
        b = await rig.call("13800000002", OTHER)  # not routed: no queue
        assert rig.of(c.CallQueued, call_id=b) == []
        snap = snapshot(2)
        snap["access_numbers"].append(
            {"number": OTHER, "enabled": True, "queue_id": 10, "priority": 5}
        )
        await rig.publish(snap)
        await rig.until(lambda: rig.rt.config.version == 2, "version 2 loaded")
        a = await rig.call("13800000001", OTHER)
        (q,) = rig.of(c.CallQueued, call_id=a)
        assert (q.queue_id, q.priority) == ("10", 5)
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)


async def test_start_releases_reservations_of_this_controllers_previous_process(rig: Rig) -> None:
    """SW-4 / Part 0.4: offers died with the last process: its agents are ready again."""
    await rig.login("1")
    now = rig.clock.now()
    await rig.rt.store.reserve("1", "call-of-before", "ctl-acd", 60, now)
    watcher = asyncio.create_task(rig.rt.watch_config())
    try:
        await rig.until(
            lambda: rig.of(c.AgentStateChanged, state="ready", previous="ringing"), "release"
        )
        assert await rig.state("1") is AgentState.READY
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
