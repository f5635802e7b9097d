"""EslClient against the fake FreeSWITCH: auth, api, bgapi, sendmsg, errors, reconnect."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

import pytest

from switch_control.errors import (
    CommandRejected,
    NoSuchCall,
    OriginateFailed,
    SwitchUnavailable,
)
from switch_control.protocols.esl import EslAuthenticationError, EslClient, EslEvent, Subscriptions
from tests.fakes.fake_freeswitch import FakeFreeSwitch

pytestmark = pytest.mark.timeout(30)
ZERO_UUID = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
async def fake() -> AsyncIterator[FakeFreeSwitch]:
    async with FakeFreeSwitch() as fs:
        yield fs
        assert not fs.errors, fs.errors


class Recorder:
    """Event handler collecting events; ``wait`` for one matching a predicate."""

    def __init__(self) -> None:
        self.events: list[EslEvent] = []
        self.changed = asyncio.Event()

    def __call__(self, event: EslEvent) -> None:
        self.events.append(event)
        self.changed.set()

    async def wait(self, predicate: Callable[[EslEvent], bool], timeout: float = 5.0) -> EslEvent:
        async def until() -> EslEvent:
            while True:
                for event in self.events:
                    if predicate(event):
                        return event
                self.changed.clear()
                await self.changed.wait()

        return await asyncio.wait_for(until(), timeout)

    def names(self, uuid: str) -> list[str]:
        return [e.full_name for e in self.events if e.unique_id == uuid]


def named(name: str, uuid: str | None = None, **values: str) -> Callable[[EslEvent], bool]:
    def check(event: EslEvent) -> bool:
        if event.full_name != name or (uuid is not None and event.unique_id != uuid):
            return False
        return all(event.get(k.replace("_", "-")) == v for k, v in values.items())

    return check


@pytest.fixture
async def client(fake: FakeFreeSwitch) -> AsyncIterator[EslClient]:
    esl = EslClient("127.0.0.1", fake.port, "ClueCon", backoff_initial=0.01, backoff_max=0.05)
    await esl.connect()
    yield esl
    await esl.close()


async def test_connect_and_api(client: EslClient) -> None:
    assert client.connected
    assert (await client.api("status")).startswith("UP 0 years")
    assert await client.api(f"uuid_exists {ZERO_UUID}") == "false"  # no trailing newline
    assert await client.api("hostname") == "vm"


async def test_wrong_password_is_rejected(fake: FakeFreeSwitch) -> None:
    esl = EslClient("127.0.0.1", fake.port, "wrong")
    with pytest.raises(EslAuthenticationError):
        await esl.connect()
    assert not esl.connected
    await esl.close()


async def test_connection_refused_is_switch_unavailable(fake: FakeFreeSwitch) -> None:
    port = fake.port
    await fake.pause()
    esl = EslClient("127.0.0.1", port, connect_timeout=1)
    with pytest.raises(SwitchUnavailable):
        await esl.connect()
    await esl.close()


@pytest.mark.parametrize(
    ("command", "error"),
    [
        (f"uuid_kill {ZERO_UUID}", NoSuchCall),
        (f"uuid_dump {ZERO_UUID}", NoSuchCall),
        (f"uuid_bridge {ZERO_UUID} {ZERO_UUID}", NoSuchCall),
        (f"uuid_answer {ZERO_UUID}", CommandRejected),
        ("no_such_command", CommandRejected),
        ("originate", CommandRejected),
    ],
)
async def test_error_replies_raise(client: EslClient, command: str, error: type) -> None:
    with pytest.raises(error):
        await client.api(command)
    assert (await client.api(command, check=False)).startswith("-")


async def test_sendmsg_to_unknown_session_is_no_such_call(client: EslClient) -> None:
    with pytest.raises(NoSuchCall, match="invalid session id"):
        await client.hangup(ZERO_UUID)
    with pytest.raises(CommandRejected, match="command not found"):
        await client._checked("no_such_esl_command")


async def test_command_injection_is_refused(client: EslClient) -> None:
    with pytest.raises(ValueError, match="line break"):
        await client.api("status\n\nexit")
    assert await client.api("hostname") == "vm"  # the connection is intact


async def test_bgapi_results_and_failed_originates(fake: FakeFreeSwitch, client: EslClient) -> None:
    fake.agent_register("1001")
    fake.agent_register("1002")
    fake.set_endpoint("1002", "busy")
    fake.set_endpoint("ringer@127.0.0.1:5091", "no_answer")
    ok = await client.bgapi("originate {origination_caller_id_number=5550100}user/1001 &park()")
    busy = await client.bgapi("originate user/1002 &park()")
    absent = await client.bgapi("originate user/1009 &park()")
    silent = await client.bgapi(
        "originate {originate_timeout=5}sofia/lab/ringer@127.0.0.1:5091 &park()"
    )
    status = await client.bgapi("status")
    leg = (await ok.result(timeout=5)).split()[1]
    assert await client.api(f"uuid_exists {leg}") == "true"
    for job, cause in ((busy, "USER_BUSY"), (absent, "USER_NOT_REGISTERED"), (silent, "NO_ANSWER")):
        with pytest.raises(OriginateFailed) as info:
            await job.result(timeout=5)
        assert info.value.cause == cause
    assert (await status.result(timeout=5)).startswith("UP ")
    assert ok.event is not None and ok.event.get("Job-Command") == "originate"


async def test_api_originate_failure_maps_to_originate_failed(client: EslClient) -> None:
    with pytest.raises(OriginateFailed) as info:
        await client.api("originate user/1002 &park()")
    assert info.value.cause == "USER_NOT_REGISTERED"


async def test_events_sendmsg_and_handlers(fake: FakeFreeSwitch, client: EslClient) -> None:
    plain, seen_async = Recorder(), []

    async def async_handler(event: EslEvent) -> None:
        await asyncio.sleep(0)
        seen_async.append(event.name)

    client.add_event_handler(plain)
    client.add_event_handler(async_handler)
    await client.subscribe("ALL", fmt="json")
    caller = fake.inbound_call("5550101", "3001", caller_name="Caller One").uuid
    await plain.wait(named("CHANNEL_PARK", caller))
    await client.api(f"uuid_answer {caller}")
    app_uuid = await client.execute(caller, "playback", "tone_stream://%(100,0,440)")
    done = await plain.wait(named("CHANNEL_EXECUTE_COMPLETE", caller, Application="playback"))
    assert done.get("Application-UUID") == app_uuid
    assert done.get("Application-Response") == "FILE PLAYED"
    assert done.format == "json"
    fake.hangup(caller)
    await plain.wait(named("CHANNEL_DESTROY", caller))
    assert plain.names(caller)[-3:] == [
        "CHANNEL_HANGUP_COMPLETE",
        "CHANNEL_DESTROY",
        "CHANNEL_STATE",
    ]
    assert "CHANNEL_PARK" in seen_async


async def test_dtmf_and_play_and_get_digits(fake: FakeFreeSwitch, client: EslClient) -> None:
    events = Recorder()
    client.add_event_handler(events)
    await client.subscribe("ALL")
    caller = fake.inbound_call("5550102", "3002").uuid
    await events.wait(named("CHANNEL_PARK", caller))
    await client.api(f"uuid_answer {caller}")
    pagd = "1 4 1 7000 # tone_stream://%(300,0,800) silence_stream://250 digits \\d+ 3000"
    await client.execute(caller, "play_and_get_digits", pagd)
    await events.wait(named("PLAYBACK_STOP", caller))
    fake.send_dtmf(caller, "42#")
    await events.wait(named("CHANNEL_EXECUTE_COMPLETE", caller, Application="play_and_get_digits"))
    assert await client.api(f"uuid_getvar {caller} digits") == "42"
    digits = [e.get("DTMF-Digit") for e in events.events if e.name == "DTMF"]
    assert digits == ["4", "2", "#"]
    await client.api(f"uuid_recv_dtmf {caller} 9")
    app = await events.wait(named("DTMF", caller, DTMF_Digit="9"))
    assert app.get("DTMF-Source") == "APP"


async def test_bridge_hold_transfer_and_kill(fake: FakeFreeSwitch, client: EslClient) -> None:
    events = Recorder()
    client.add_event_handler(events)
    await client.subscribe("ALL")
    caller = fake.inbound_call("5550105", "3005").uuid
    await events.wait(named("CHANNEL_PARK", caller))
    await client.api(f"uuid_answer {caller}")
    job = await client.bgapi("originate sofia/lab/agent@127.0.0.1:5090 &park()")
    agent = (await job.result(timeout=5)).split()[1]
    await events.wait(named("CHANNEL_PARK", agent))
    assert await client.api(f"uuid_bridge {caller} {agent}") == f"+OK {agent}\n"
    await events.wait(named("CHANNEL_BRIDGE", caller))
    await client.api(f"uuid_hold {caller}")
    await events.wait(named("CHANNEL_HOLD", caller))
    await client.api(f"uuid_hold off {caller}")
    await events.wait(named("CHANNEL_UNHOLD", caller))
    await client.api(f"uuid_setvar {caller} crm_ticket 42")
    assert await client.api(f"uuid_getvar {caller} crm_ticket") == "42"
    await client.api(f"uuid_kill {caller}")
    await events.wait(named("CHANNEL_DESTROY", agent))
    with pytest.raises(NoSuchCall):
        await client.api(f"uuid_kill {caller}")


async def test_subscription_commands(fake: FakeFreeSwitch, client: EslClient) -> None:
    events = Recorder()
    client.add_event_handler(events)
    await client.subscribe("CHANNEL_CREATE", "CHANNEL_ANSWER", "CUSTOM", "sofia::register")
    assert "+OK filter added" in await client.filter("Caller-Caller-ID-Number", "5550111")
    fake.inbound_call("5550199", "3001")  # filtered out
    wanted = fake.inbound_call("5550111", "3001").uuid
    await events.wait(named("CHANNEL_CREATE", wanted))
    assert {e.unique_id for e in events.events} == {wanted}
    await client.filter_delete("all")
    await client.nixevent("CHANNEL_CREATE")
    assert client.subscriptions.filters == []
    assert "CHANNEL_CREATE" not in client.subscriptions.events
    assert (await client.log(7)).startswith("+OK log level 7")
    assert await client.nolog() == "+OK no longer logging"
    assert (await client.linger(5)).startswith("+OK will linger 5")
    await client.noevents()
    assert client.subscriptions.events == []


async def test_reconnect_resubscribes_and_fails_in_flight(fake: FakeFreeSwitch) -> None:
    delays: list[float] = []

    async def sleep(seconds: float) -> None:
        delays.append(seconds)
        await asyncio.sleep(0.001)

    states: list[bool] = []
    esl = EslClient("127.0.0.1", fake.port, backoff_initial=0.01, backoff_max=0.04, sleep=sleep)
    esl.add_connection_handler(states.append)
    events = Recorder()
    esl.add_event_handler(events)
    await esl.connect()
    await esl.subscribe("CHANNEL_CREATE", "BACKGROUND_JOB", fmt="json")
    await esl.filter("Caller-Caller-ID-Number", "5550123")
    port = fake.port
    await fake.pause()  # FreeSWITCH goes away
    with pytest.raises(SwitchUnavailable):
        await esl.api("status")
    while len(delays) < 4:
        await asyncio.sleep(0.01)
    await fake.start(port)  # ... and comes back
    await esl.wait_connected(timeout=5)
    assert delays[:4] == [0.01, 0.02, 0.04, 0.04]  # exponential, capped
    uuid = fake.inbound_call("5550123", "3001").uuid
    event = await events.wait(named("CHANNEL_CREATE", uuid))
    assert event.format == "json"
    replayed = [c for conn in fake.listeners for c in conn.received]
    assert "event json CHANNEL_CREATE BACKGROUND_JOB" in replayed
    assert "filter Caller-Caller-ID-Number 5550123" in replayed
    await asyncio.sleep(0.01)
    assert states[:2] == [True, False] and states[-1] is True
    await esl.close()


async def test_in_flight_bgapi_fails_when_connection_drops(fake: FakeFreeSwitch) -> None:
    fake.agent_register("1001")
    fake.set_endpoint("1001", "ring")
    esl = EslClient("127.0.0.1", fake.port, reconnect=False)
    await esl.connect()
    job = await esl.bgapi("originate user/1001 &park()")
    await fake.drop_connections()
    with pytest.raises(SwitchUnavailable):
        await job.result(timeout=5)
    assert not esl.connected
    await esl.close()


async def test_exit_and_password_not_logged(
    fake: FakeFreeSwitch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="switch_control.protocols.esl")
    esl = EslClient("127.0.0.1", fake.port, "ClueCon")
    await esl.connect()
    assert await esl.exit() == "+OK bye"
    await esl.close()
    assert "ClueCon" not in caplog.text
    assert "auth <password>" in caplog.text


async def test_bgapi_result_passes_active_filters(fake: FakeFreeSwitch, client: EslClient) -> None:
    await client.subscribe("CHANNEL_CREATE")
    await client.filter("Caller-Caller-ID-Number", "5550111")
    job = await client.bgapi("status")
    assert (await job.result(timeout=5)).startswith("UP ")
    assert ("Event-Name", "BACKGROUND_JOB") in client.subscriptions.filters
    assert client.subscriptions.covers("BACKGROUND_JOB")


async def test_concurrent_commands_get_their_own_replies(client: EslClient) -> None:
    commands = ["hostname", "version", f"uuid_exists {ZERO_UUID}", "global_getvar hold_music"]
    replies = await asyncio.gather(*(client.api(c) for c in commands * 5))
    expected = ["vm", "FreeSWITCH Version", "false", "tone_stream://"]
    for reply, prefix in zip(replies, expected * 5, strict=True):
        assert reply.startswith(prefix)


def test_subscription_replay_puts_custom_subclasses_last() -> None:
    subs = Subscriptions()
    subs.add_events("plain", ["CHANNEL_CREATE", "CUSTOM", "sofia::register"])
    subs.add_events("plain", ["CHANNEL_ANSWER", "CUSTOM", "conference::maintenance"])
    subs.nix(["CHANNEL_ANSWER"])
    subs.add_filter("Unique-ID", "abc")
    subs.log_level = "7"
    assert subs.replay() == [
        "event plain CHANNEL_CREATE CUSTOM sofia::register conference::maintenance",
        "filter Unique-ID abc",
        "log 7",
    ]
    subs.add_events("json", ["ALL"])
    subs.nix(["HEARTBEAT"])
    assert subs.covers("CHANNEL_PARK") and not subs.covers("HEARTBEAT")
    assert subs.replay()[:2] == [
        "event json CHANNEL_CREATE ALL CUSTOM sofia::register conference::maintenance",
        "nixevent HEARTBEAT",
    ]
