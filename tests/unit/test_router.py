"""Issue 13 part 0.2: the ``CallRouter`` port decides where an inbound call goes (access
number -> queue, blacklist in front, the fixed list as default) and the controller
carries the route out (ACD-1, IVR-9, SW-5)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from switch_control import contract as c
from switch_control.daemon import Controller, ControllerConfig
from switch_control.drivers.fake import FakeDriver
from switch_control.engine.calls import CallState, apply, routed
from switch_control.engine.policy import PolicyConfig, decide
from switch_control.engine.router import (
    AccessNumberRouter,
    BlockedCallers,
    InboundCall,
    Route,
    RouteKind,
    RouterChain,
    national,
)

SALES = Route.queue("q-sales", priority=5)
VIP_LINE = Route.queue("q-vip", priority=9)


def call(caller: str = "13800138000", access: str = "4008123123") -> InboundCall:
    return InboundCall(call_id="c1", leg_id="c1", caller=caller, access_number=access)


# =========================================================================== pure


def test_national_form_of_numbers() -> None:
    assert national("+86 400-812-3123") == "4008123123"
    assert national("0086 138 0013 8000") == "13800138000"
    assert national("4008123123") == "4008123123"
    assert national("8601") == "8601"  # an extension starting with 86 is not a prefix
    assert national("") == ""


def test_access_number_picks_the_queue_whatever_the_notation() -> None:
    router = AccessNumberRouter({"400-812-3123": SALES, "+86 800 820 8820": VIP_LINE})
    assert router.route(call(access="4008123123")) == SALES
    assert router.route(call(access="+864008123123")) == SALES
    assert router.route(call(access="8008208820")) == VIP_LINE
    assert router.route(call(access="95588")) is None  # not ours: the next step decides


def test_chain_default_is_the_fixed_list() -> None:
    chain = RouterChain([AccessNumberRouter({"4008123123": SALES})])
    assert chain.route(call(access="95588")) == Route.fixed_list()
    assert chain.route(call(access="95588")).key == "fixed"
    assert chain.route(call()).key == "queue:q-sales"


def test_blacklist_in_front_refuses_before_the_access_number_is_looked_at() -> None:
    chain = RouterChain([AccessNumberRouter({"4008123123": SALES})]).with_step_first(
        BlockedCallers(["+86 139 0000 1111"], prompt=("sound:refused",))
    )
    refused = chain.route(call(caller="13900001111"))
    assert refused.kind is RouteKind.REJECT and refused.reason == "blacklisted"
    assert refused.prompt == ("sound:refused",)
    assert chain.route(call(caller="13800138000")) == SALES


def test_a_step_that_raises_is_skipped_not_fatal() -> None:
    class Broken:
        def route(self, call: InboundCall) -> Route | None:
            raise KeyError("schedule table missing")

    chain = RouterChain([Broken(), AccessNumberRouter({"4008123123": SALES})])
    assert chain.route(call()) == SALES


def test_routes_need_their_target() -> None:
    with pytest.raises(ValueError, match="queue id"):
        Route.queue("")
    with pytest.raises(ValueError, match="flow id"):
        Route.ivr("")


def offer(leg: str = "c1") -> c.CallOffered:
    return c.CallOffered(
        call_id=leg,
        leg_id=leg,
        direction=c.Direction.INBOUND,
        caller_number="13800138000",
        callee_number="4008123123",
    )


def test_the_fixed_list_policy_leaves_queued_calls_to_their_runtime() -> None:
    cfg = PolicyConfig(welcome=("sound:hi",), agents=("8001",))
    ev = offer()
    state = apply(None, ev)
    assert state is not None
    assert [x.TYPE for x in decide(None, routed(state, "fixed"), ev, cfg)][:1] == ["AnswerCall"]
    assert list(decide(None, routed(state, SALES.key), ev, cfg)) == []
    # a call routed to a queue: its failed agent leg is not re-rung from the fixed list
    queued = routed(state, SALES.key)
    agent = c.CallOffered(
        call_id="c1", leg_id="x1", direction=c.Direction.OUTBOUND, role=c.LegRole.AGENT
    )
    queued2 = apply(queued, agent)
    gone = c.CallEnded(call_id="c1", leg_id="x1", cause=c.HangupCause.NO_ANSWER)
    assert list(decide(queued2, apply(queued2, gone), gone, cfg)) == []
    assert queued2 is not None and queued2.route == "queue:q-sales"  # kept by the fold


def test_route_survives_the_state_json_and_old_state_reads_as_unrouted() -> None:
    state = apply(None, offer())
    assert state is not None
    state = routed(state, SALES.key)
    assert CallState.from_json(state.to_json()).route == "queue:q-sales"
    old = b'{"call_id":"c9","phase":"talking","legs":[]}'  # written before routes
    assert CallState.from_json(old).route == ""


# =========================================================================== controller


class Recording(Controller):
    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.seen: list[c.Event] = []

    async def on_driver_event(self, event: c.Event) -> None:
        self.seen.append(event)
        await super().on_driver_event(event)


async def make(router: RouterChain) -> tuple[Recording, FakeDriver]:
    driver = FakeDriver()
    cfg = ControllerConfig(name="ctl-r", policy=PolicyConfig(welcome=(), agents=()))
    controller = Recording(cfg, driver, bus=None, redis=None, router=router)  # type: ignore[arg-type]
    await driver.start(controller.on_driver_event)
    return controller, driver


async def until(predicate: Any, what: str, timeout: float = 2.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.002)


@pytest.fixture
async def blocked() -> AsyncIterator[tuple[Recording, FakeDriver]]:
    chain = RouterChain([BlockedCallers(["13900001111"])], default=Route.fixed_list())
    controller, driver = await make(chain)
    yield controller, driver
    await driver.close()


async def test_a_blacklisted_caller_is_released_unanswered(
    blocked: tuple[Recording, FakeDriver],
) -> None:
    controller, driver = blocked
    leg = driver.switch.inbound_call("13900001111", "4008123123")
    await until(lambda: any(isinstance(e, c.CallEnded) for e in controller.seen), "refused")
    ended = next(e for e in controller.seen if isinstance(e, c.CallEnded))
    assert ended.leg_id == leg and ended.cause is c.HangupCause.CALL_REJECTED
    assert ("answer", leg) not in driver.actions
    # another caller is answered by the default route
    other = driver.switch.inbound_call("13800138000", "4008123123")
    await until(lambda: driver.switch.legs[other].state == "up", "answered")


async def test_a_queue_route_without_a_queue_runtime_falls_back_to_the_fixed_list() -> None:
    controller, driver = await make(RouterChain(default=Route.queue("q-sales")))
    try:
        leg = driver.switch.inbound_call("13800138000", "4008123123")
        await until(lambda: driver.switch.legs[leg].state == "up", "answered, not dropped")
        assert controller.calls[leg].route == "fixed"
    finally:
        await driver.close()


async def test_a_registered_queue_runtime_gets_the_call_with_its_route() -> None:
    controller, driver = await make(RouterChain([AccessNumberRouter({"4008123123": SALES})]))
    got: list[tuple[str, str]] = []

    async def queue_runtime(state: CallState, event: c.CallOffered, route: Route) -> None:
        got.append((state.call_id, route.key))

    controller.routing.register(RouteKind.QUEUE, queue_runtime)
    try:
        leg = driver.switch.inbound_call("13800138000", "+86 400 812 3123")
        await until(lambda: got, "the queue runtime called")
        assert got == [(leg, "queue:q-sales")]
        await driver.switch.settled()
        assert ("answer", leg) not in driver.actions  # the queue runtime decides
        assert controller.calls[leg].route == "queue:q-sales"
    finally:
        await driver.close()
