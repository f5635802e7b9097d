"""The Asterisk driver's own bookkeeping, with ARI replaced by a scripted stub (one layer:
no socket, no switch). What Asterisk really does with these requests is the business of
the e2e and contract suites on the sandbox Asterisk; here: what the driver concludes from
the replies it gets, where the switch sends no event of its own (SW-1, SW-4).

- bridge membership: the app has no ``subscribeAll``, so ``CallBridged``/``CallUnbridged``
  come from our addChannel/removeChannel replies and from ``ChannelDestroyed``;
- a caller that hung up before the driver could subscribe to it still ends;
- phones' presence comes from polling ``/endpoints``.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from switch_control import contract as c
from switch_control.drivers.asterisk import AsteriskDriver
from switch_control.errors import CommandRejected, NoSuchCall
from switch_control.protocols.ari import AriClient, AriConfig

APP = "callcenter"
STAMP = "2026-11-22T15:00:00.123+0000"

Reply = Callable[[str, str, dict[str, Any]], Any]


class StubAri:
    """Records the driver's requests; ``replies`` decides what each one returns/raises."""

    def __init__(self, ari: AriClient) -> None:
        self.requests: list[tuple[str, str]] = []
        self.reply: Reply = lambda method, path, params: None
        ari.request = self.request  # type: ignore[method-assign]

    async def request(
        self, method: str, path: str, params: dict[str, Any] | None = None, body: Any = None
    ) -> Any:
        self.requests.append((method, path))
        result = self.reply(method, path, params or {})
        if inspect.isawaitable(result):  # a reply that takes its time
            result = await result
        return result


def channel(cid: str, state: str = "Up") -> dict[str, Any]:
    return {
        "id": cid,
        "name": f"PJSIP/trunk-{cid}",
        "state": state,
        "caller": {"name": "", "number": "13800138000"},
        "connected": {"name": "", "number": ""},
        "accountcode": "",
        "dialplan": {"context": "from-trunk", "exten": "4001", "priority": 2},
        "creationtime": STAMP,
        "language": "en",
        "channelvars": {},
    }


def event(kind: str, **body: Any) -> bytes:
    return orjson.dumps({"type": kind, "timestamp": STAMP, "application": APP, **body})


@pytest.fixture
async def rig() -> Any:
    ari = AriClient(AriConfig("http://127.0.0.1:9/ari", "u", "p", app=APP))
    stub = StubAri(ari)
    driver = AsteriskDriver(ari, presence_poll_s=0)
    events: list[c.Event] = []

    async def sink(ev: c.Event) -> None:
        events.append(ev)

    driver._sink = sink  # what start() does, minus the socket
    yield driver, ari, stub, events
    await driver.close()


async def settle(driver: AsteriskDriver) -> None:
    """Until the driver's background tasks (and those they start) are done."""
    while driver._background:
        await asyncio.gather(*driver._background)
        await asyncio.sleep(0)  # (their done-callbacks leave the set)


async def test_bridge_membership_comes_from_our_requests_and_the_hangup(rig: Any) -> None:
    driver, ari, stub, events = rig
    await ari._dispatch_raw(event("StasisStart", args=["inbound", "4001"], channel=channel("c1")))
    await settle(driver)
    assert ("POST", f"/applications/{APP}/subscription") in stub.requests  # see test below

    bridge = await driver.bridge(["c1"], "b1")
    bridged = [e for e in events if isinstance(e, c.CallBridged)]
    assert [(e.leg_id, e.bridge_id) for e in bridged] == [("c1", "b1")]
    assert driver.bridge_members("b1")[0].leg_id == "c1"

    await ari._dispatch_raw(event("ChannelDestroyed", cause=16, channel=channel("c1")))
    await settle(driver)
    kinds = [type(e).__name__ for e in events if getattr(e, "leg_id", "") == "c1"]
    assert kinds[-2:] == ["CallUnbridged", "CallEnded"]  # unbridged first, as on the switch
    # the last of our legs left: the bridge is deleted
    assert ("DELETE", f"/bridges/{bridge}") in stub.requests
    assert "b1" not in driver.bridges


async def test_a_leg_that_hung_up_while_being_added_is_not_reported_bridged(rig: Any) -> None:
    driver, ari, stub, events = rig
    await ari._dispatch_raw(event("StasisStart", args=["inbound", "4001"], channel=channel("c2")))
    await settle(driver)

    def reply(method: str, path: str, params: dict[str, Any]) -> Any:
        if path.endswith("/addChannel"):  # the caller hangs up while we add it
            driver.legs.pop("c2", None)
        return None

    stub.reply = reply
    await driver.bridge(["c2"], "b2")
    await settle(driver)
    assert not [e for e in events if isinstance(e, c.CallBridged)]
    assert ("DELETE", "/bridges/b2") in stub.requests


async def test_a_leg_that_hangs_up_while_its_add_is_unanswered_ends_after_it(rig: Any) -> None:
    """Under load the addChannel reply can come after the leg's ChannelDestroyed: the leg
    was bridged all the same (Asterisk answered 204), and the events keep their order."""
    driver, ari, stub, events = rig
    await ari._dispatch_raw(event("StasisStart", args=["inbound", "4001"], channel=channel("c5")))
    await settle(driver)
    release = asyncio.Event()

    async def slow_add() -> None:
        await release.wait()

    stub.reply = lambda method, path, params: slow_add() if "addChannel" in path else None
    adding = asyncio.create_task(driver.bridge(["c5"], "b5"))
    await asyncio.sleep(0)
    await ari._dispatch_raw(event("ChannelDestroyed", cause=16, channel=channel("c5")))
    await asyncio.sleep(0)
    assert not [e for e in events if isinstance(e, c.CallEnded)]  # waits for the reply
    release.set()
    await adding
    await settle(driver)
    kinds = [type(e).__name__ for e in events if getattr(e, "leg_id", "") == "c5"]
    assert kinds[-3:] == ["CallBridged", "CallUnbridged", "CallEnded"]
    assert "c5" not in driver.legs
    assert ("DELETE", "/bridges/b5") in stub.requests


async def test_a_caller_gone_before_the_subscription_still_ends(rig: Any) -> None:
    driver, ari, stub, events = rig

    def reply(method: str, path: str, params: dict[str, Any]) -> Any:
        if path.endswith("/subscription"):
            raise CommandRejected("ARI -> 422: event source does not exist")
        if method == "GET" and path == "/channels/c3":
            raise NoSuchCall("ARI -> 404")
        return None

    stub.reply = reply
    await ari._dispatch_raw(event("StasisStart", args=["inbound", "4001"], channel=channel("c3")))
    await settle(driver)
    ended = [e for e in events if isinstance(e, c.CallEnded)]
    assert [e.leg_id for e in ended] == ["c3"]
    assert "c3" not in driver.legs


async def test_a_failed_subscription_of_a_live_caller_keeps_the_leg(rig: Any) -> None:
    driver, ari, stub, events = rig

    def reply(method: str, path: str, params: dict[str, Any]) -> Any:
        if path.endswith("/subscription"):
            raise CommandRejected("ARI -> 400: something else")
        return channel("c4") if method == "GET" else None

    stub.reply = reply
    await ari._dispatch_raw(event("StasisStart", args=["inbound", "4001"], channel=channel("c4")))
    await settle(driver)
    assert "c4" in driver.legs
    assert not [e for e in events if isinstance(e, c.CallEnded)]


async def test_presence_is_polled_and_only_changes_are_told(rig: Any) -> None:
    driver, _ari, stub, events = rig
    endpoints = [
        {"technology": "PJSIP", "resource": "1001", "state": "online"},
        {"technology": "PJSIP", "resource": "1002", "state": "offline"},
    ]
    stub.reply = lambda method, path, params: endpoints if path == "/endpoints/PJSIP" else None

    def told() -> list[tuple[str, bool]]:
        return [(e.endpoint, e.online) for e in events if isinstance(e, c.EndpointStatusChanged)]

    await driver.poll_presence()
    assert told() == [("1001", True)]  # the first poll: the phones that are online
    await driver.poll_presence()
    assert told() == [("1001", True)]  # nothing changed, nothing told
    endpoints[0]["state"], endpoints[1]["state"] = "offline", "online"
    await driver.poll_presence()
    assert told()[1:] == [("1001", False), ("1002", True)]
    await driver._on_disconnect()  # after a reconnection every online phone is told again
    await driver.poll_presence()
    assert told()[3:] == [("1002", True)]
