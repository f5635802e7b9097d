"""The Asterisk driver's own bookkeeping, over the real ``AriClient`` whose REST transport
is ``MemoryTransport``: scripted answers, no socket, no switch (one layer). What Asterisk
really does with these requests is the business of the e2e and contract suites on the
sandbox Asterisk; here: what the driver concludes from the replies it gets, where the
switch sends no event of its own (SW-1, SW-4).

- bridge membership: the app has no ``subscribeAll``, so ``CallBridged``/``CallUnbridged``
  come from our addChannel/removeChannel replies and from ``ChannelDestroyed``;
- a caller that hung up before the driver could subscribe to it still ends;
- phones' presence comes from polling ``/endpoints``;
- an originate that meets 409 for its own channel id keeps the leg (issue 12, part 5).
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from switch_control import contract as c
from switch_control.drivers.asterisk import AsteriskDriver
from switch_control.errors import CommandRejected, SwitchUnavailable
from switch_control.protocols.ari import AriClient, AriConfig, MemoryTransport
from switch_control.protocols.ari.http import NotResent
from switch_control.protocols.ari.transport import MemoryRequest, ari_error

APP = "callcenter"
STAMP = "2026-11-22T15:00:00.123+0000"


def requests(transport: MemoryTransport) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in transport.requests]


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
    stub = MemoryTransport()
    ari = AriClient(AriConfig("http://127.0.0.1:9/ari", "u", "p", app=APP), transport=stub.factory)
    driver = AsteriskDriver(ari, presence_poll_s=0)
    events: list[c.Event] = []

    async def sink(ev: c.Event) -> None:
        events.append(ev)

    driver.sink = sink  # what start() does, minus the socket
    yield driver, ari, stub, events
    await driver.close()


async def settle(driver: AsteriskDriver) -> None:
    """Until the driver's background tasks (and those they start) are done."""
    await driver.table.settle()


async def test_bridge_membership_comes_from_our_requests_and_the_hangup(rig: Any) -> None:
    driver, ari, stub, events = rig
    await ari._dispatch_raw(event("StasisStart", args=["inbound", "4001"], channel=channel("c1")))
    await settle(driver)
    assert ("POST", f"/applications/{APP}/subscription") in requests(stub)  # see test below

    bridge = await driver.bridge(["c1"], "b1")
    bridged = [e for e in events if isinstance(e, c.CallBridged)]
    assert [(e.leg_id, e.bridge_id) for e in bridged] == [("c1", "b1")]
    assert driver.bridge_members("b1")[0].leg_id == "c1"

    await ari._dispatch_raw(event("ChannelDestroyed", cause=16, channel=channel("c1")))
    await settle(driver)
    kinds = [type(e).__name__ for e in events if getattr(e, "leg_id", "") == "c1"]
    assert kinds[-2:] == ["CallUnbridged", "CallEnded"]  # unbridged first, as on the switch
    # the last of our legs left: the bridge is deleted
    assert ("DELETE", f"/bridges/{bridge}") in requests(stub)
    assert "b1" not in driver.bridges


async def test_a_leg_that_hung_up_while_being_added_is_not_reported_bridged(rig: Any) -> None:
    driver, ari, stub, events = rig
    await ari._dispatch_raw(event("StasisStart", args=["inbound", "4001"], channel=channel("c2")))
    await settle(driver)

    def reply(r: MemoryRequest) -> Any:
        if r.path.endswith("/addChannel"):  # the caller hangs up while we add it
            driver.legs.pop("c2", None)
        return None

    stub.handler = reply
    await driver.bridge(["c2"], "b2")
    await settle(driver)
    assert not [e for e in events if isinstance(e, c.CallBridged)]
    assert ("DELETE", "/bridges/b2") in requests(stub)


async def test_a_leg_that_hangs_up_while_its_add_is_unanswered_ends_after_it(rig: Any) -> None:
    """Under load the addChannel reply can come after the leg's ChannelDestroyed: the leg
    was bridged all the same (Asterisk answered 204), and the events keep their order."""
    driver, ari, stub, events = rig
    await ari._dispatch_raw(event("StasisStart", args=["inbound", "4001"], channel=channel("c5")))
    await settle(driver)
    release = asyncio.Event()

    async def slow_add() -> None:
        await release.wait()

    stub.handler = lambda r: slow_add() if "addChannel" in r.path else None
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
    assert ("DELETE", "/bridges/b5") in requests(stub)


async def test_a_caller_gone_before_the_subscription_still_ends(rig: Any) -> None:
    driver, ari, stub, events = rig

    def reply(r: MemoryRequest) -> Any:
        if r.path.endswith("/subscription"):
            return ari_error(422, "Event source does not exist")
        if r.method == "GET" and r.path == "/channels/c3":
            return ari_error(404, "Channel not found")
        return None

    stub.handler = reply
    await ari._dispatch_raw(event("StasisStart", args=["inbound", "4001"], channel=channel("c3")))
    await settle(driver)
    ended = [e for e in events if isinstance(e, c.CallEnded)]
    assert [e.leg_id for e in ended] == ["c3"]
    assert "c3" not in driver.legs


async def test_a_failed_subscription_of_a_live_caller_keeps_the_leg(rig: Any) -> None:
    driver, ari, stub, events = rig

    def reply(r: MemoryRequest) -> Any:
        if r.path.endswith("/subscription"):
            return ari_error(400, "something else")
        return channel("c4") if r.method == "GET" else None

    stub.handler = reply
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
    stub.handler = lambda r: endpoints if r.path == "/endpoints/PJSIP" else None

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


# ------------------------------------------------------------------ originate meets 409
ORIGINATED_STATE = {"Ringing": {}, "Up": {"app_name": "Stasis", "app_data": f"{APP},dialed"}}


def dialed(cid: str, call_id: str, state: str) -> dict[str, Any]:
    """A leg we originated, as ``GET /channels/{id}`` shows it (in the app once Up)."""
    return {
        **channel(cid, state),
        "name": f"PJSIP/1001-{cid}",
        "dialplan": {"context": "default", "exten": "s", "priority": 1, **ORIGINATED_STATE[state]},
        "channelvars": {"CC_CALL_ID": call_id, "CC_ROLE": "agent"},
    }


def exists_already(cid: str, call_id: str, state: str) -> Any:
    """POST /channels refused with 409 (a channel with our channelId exists); GET shows it."""

    def reply(r: MemoryRequest) -> Any:
        if r.method == "POST" and r.path == "/channels":
            return ari_error(409, "Channel with given unique ID already exists")
        if r.method == "GET" and r.path == f"/channels/{cid}":
            return dialed(cid, call_id, state)
        return None

    return reply


def of_leg(events: list[c.Event], leg_id: str) -> list[str]:
    return [type(e).__name__ for e in events if getattr(e, "leg_id", "") == leg_id]


async def test_originate_meeting_409_on_its_own_channel_id_keeps_the_leg(rig: Any) -> None:
    """SW-1 (issue 12, part 5): the originate was sent twice (the first one did create the
    channel), and the second got 409 for our own channelId. The leg exists and is ours:
    the driver keeps it, so when the agent answers it is joined to the caller's bridge
    (before: the leg was dropped after being announced; the agent answered into silence)."""
    driver, ari, stub, events = rig
    stub.handler = exists_already("a1", "call-1", "Ringing")
    leg = await driver.originate(
        leg_id="a1", destination="1001", variables={"CC_CALL_ID": "call-1"}, join_bridge="b1"
    )
    assert leg == "a1" and "a1" in driver.legs
    assert ("GET", "/channels/a1") in requests(stub)  # it asked the switch what the leg is
    assert "CallEnded" not in of_leg(events, "a1")

    stub.handler = lambda r: None
    await ari._dispatch_raw(event("ChannelStateChange", channel=dialed("a1", "call-1", "Up")))
    await ari._dispatch_raw(
        event("StasisStart", args=["dialed"], channel=dialed("a1", "call-1", "Up"))
    )
    await settle(driver)
    assert ("POST", "/bridges/b1/addChannel") in requests(stub)
    assert of_leg(events, "a1") == ["CallOffered", "CallAnswered", "CallBridged"]


async def test_a_re_sent_originate_adopts_a_leg_that_answered_meanwhile(rig: Any) -> None:
    """The first originate timed out although the switch dialled (the leg's events were
    not ours then: the driver had let the leg go); the command is retried, meets 409, and
    the switch says the leg is up in the app: answered and joined now, not left alone."""
    driver, ari, stub, events = rig

    def timeout(r: MemoryRequest) -> Any:
        raise TimeoutError("no answer in time")

    stub.handler = timeout
    with pytest.raises(SwitchUnavailable):
        await driver.originate(
            leg_id="a2", destination="1001", variables={"CC_CALL_ID": "call-2"}, join_bridge="b2"
        )
    assert "a2" not in driver.legs
    await ari._dispatch_raw(
        event("StasisStart", args=["dialed"], channel=dialed("a2", "call-2", "Up"))
    )

    stub.handler = exists_already("a2", "call-2", "Up")
    assert (
        await driver.originate(
            leg_id="a2", destination="1001", variables={"CC_CALL_ID": "call-2"}, join_bridge="b2"
        )
        == "a2"
    )
    await settle(driver)
    assert ("POST", "/bridges/b2/addChannel") in requests(stub)
    assert of_leg(events, "a2")[-3:] == ["CallOffered", "CallAnswered", "CallBridged"]
    assert driver.legs["a2"].bridge_id == "b2"


async def test_409_for_a_channel_of_another_call_is_a_refusal(rig: Any) -> None:
    driver, _ari, stub, events = rig
    stub.handler = exists_already("a3", "some-other-call", "Up")
    with pytest.raises(CommandRejected, match="409"):
        await driver.originate(leg_id="a3", destination="1001", variables={"CC_CALL_ID": "call-3"})
    assert "a3" not in driver.legs
    assert of_leg(events, "a3") == ["CallOffered", "CallEnded"]  # announced, so ended


async def test_409_for_a_channel_gone_by_now_ends_the_leg(rig: Any) -> None:
    driver, _ari, stub, events = rig

    def reply(r: MemoryRequest) -> Any:
        if r.method == "POST":
            return ari_error(409, "Channel with given unique ID already exists")
        return ari_error(404, "Channel not found")

    stub.handler = reply
    assert await driver.originate(leg_id="a4", destination="1001") == "a4"
    assert "a4" not in driver.legs
    assert of_leg(events, "a4") == ["CallOffered", "CallEnded"]


async def test_an_originate_crossed_by_the_idle_close_is_resent_and_kept(rig: Any) -> None:
    """SW-1 (issue 12, part 5): the transport does not resend a POST whose reused
    connection Asterisk closed before any answer (it may have dialled). The driver does,
    once: its own channel id makes that safe. Here the first POST did reach the switch, so
    the second meets 409 and the leg is kept — the agent is not lost to the race."""
    driver, _ari, stub, events = rig
    answer = exists_already("a2", "call-2", "Ringing")
    posts = 0

    def reply(r: MemoryRequest) -> Any:
        nonlocal posts
        if r.method == "POST" and r.path == "/channels":
            posts += 1
            if posts == 1:
                raise NotResent("connection closed by the server; POST not sent again")
        return answer(r)

    stub.handler = reply
    leg = await driver.originate(
        leg_id="a2", destination="1001", variables={"CC_CALL_ID": "call-2"}, join_bridge="b2"
    )
    assert leg == "a2" and "a2" in driver.legs
    assert posts == 2
    assert "CallEnded" not in of_leg(events, "a2")


async def test_an_originate_unanswered_twice_surfaces_the_error(rig: Any) -> None:
    """Two unanswered POSTs in a row: the switch is going away. The error reaches the
    caller of originate (a bus command is redelivered) and the leg is not kept."""
    driver, _ari, stub, _events = rig

    def reply(r: MemoryRequest) -> Any:
        if r.method == "POST" and r.path == "/channels":
            raise NotResent("connection closed by the server; POST not sent again")
        return None

    stub.handler = reply
    with pytest.raises(SwitchUnavailable):
        await driver.originate(leg_id="a3", destination="1001", variables={"CC_CALL_ID": "c3"})
    assert "a3" not in driver.legs
    assert len(stub.sent("POST", "/channels")) == 2


async def test_a_bridge_whose_id_exists_already_is_used(rig: Any) -> None:
    """SW-4: bridge ids are ours; a 409 on creating one means an earlier attempt (a
    redelivered command) or a controller that died made it. The driver uses it instead of
    failing the command (seen: a supervisor's listen refused for a left-over spy bridge)."""
    driver, _ari, stub, _events = rig

    def reply(r: MemoryRequest) -> Any:
        if r.method == "POST" and r.path == "/bridges/b9":
            return ari_error(409, "Bridge with id 'b9' already exists")
        return None

    stub.handler = reply
    assert await driver.bridge([], "b9") == "b9"
    assert "b9" in driver.table.bridges
