"""The fake's additions for the call-center driver (``platform_calls``, ``api_platform``),
checked against the captures where the captures show the same kind of frame.

The captures do not exercise the inline dialplan, conference hold or recording; what they
do show is the shape of every event those features produce: CHANNEL_EXECUTE of the
``conference`` application, conference::maintenance member events (add-member, mute-member
have the layout hold-member shares) and conference-level events (conference-create has the
header block start-recording builds on). Those layouts are compared header name by header
name, in order; optional caller-profile fields FreeSWITCH only sends when set (a caller
name, the callee id a bridge gives) are left out of the comparison.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from switch_control.protocols.esl import EslClient, EslEvent
from tests.e2e.harness import until
from tests.fakes.fake_freeswitch import FakeFreeSwitch

from .capture_tools import RawEvent, captures_dir, raw_events

pytestmark = pytest.mark.timeout(30)

OPTIONAL = {
    "Caller-Caller-ID-Name",
    "Caller-Orig-Caller-ID-Name",
    "Caller-Callee-ID-Name",
    "Caller-Callee-ID-Number",
}


def layout(names: list[str]) -> list[str]:
    return [n for n in names if not n.startswith("variable_") and n not in OPTIONAL]


def captured(**match: str) -> RawEvent:
    events = raw_events((captures_dir() / "scenario-09-plain.esl").read_bytes())
    return next(
        e
        for e in events
        if isinstance(e, RawEvent) and all(e.fields.get(k) == v for k, v in match.items())
    )


class Listener:
    def __init__(self, client: EslClient) -> None:
        self.client = client
        self.events: list[EslEvent] = []
        client.add_event_handler(self.events.append)

    def find(self, **match: str) -> EslEvent:
        return next(e for e in self.events if all(e.get(k) == v for k, v in match.items()))

    async def wait(self, **match: str) -> EslEvent:
        def seen() -> bool:
            return any(all(e.get(k) == v for k, v in match.items()) for e in self.events)

        await until(seen, 5, str(match))
        return self.find(**match)


@pytest.fixture
async def fs() -> AsyncIterator[tuple[FakeFreeSwitch, Listener]]:
    async with FakeFreeSwitch() as fake:
        client = EslClient("127.0.0.1", fake.port, "ClueCon")
        await client.connect()
        await client.subscribe("ALL", fmt="plain")
        try:
            yield fake, Listener(client)
        finally:
            await client.close()
        assert not fake.errors, fake.errors


async def test_inline_transfer_into_a_conference(fs: tuple[FakeFreeSwitch, Listener]) -> None:
    fake, events = fs
    ch = fake.inbound_call("13800138000", "4008001234")
    await events.wait(**{"Event-Name": "CHANNEL_PARK", "Unique-ID": ch.uuid})
    reply = await events.client.api(f"uuid_transfer {ch.uuid} conference:cc-x@threeway,park inline")
    assert reply == "+OK\n"
    added = await events.wait(Action="add-member", **{"Unique-ID": ch.uuid})
    execute = events.find(**{"Event-Name": "CHANNEL_EXECUTE", "Application": "conference"})
    assert execute["Application-Data"] == "cc-x@threeway"
    assert execute["Caller-Dialplan"] == "inline"
    assert layout(list(added.headers)) == layout(
        [k for k, _ in captured(Action="add-member").pairs]
    )
    assert layout(list(execute.headers)) == layout(
        [
            k
            for k, _ in captured(
                **{"Event-Name": "CHANNEL_EXECUTE", "Application": "conference"}
            ).pairs
        ]
    )
    names = [e.name for e in events.events if e.unique_id == ch.uuid and "CHANNEL" in e.name]
    sequence = names[names.index("CHANNEL_UNPARK") :]
    # park left, then the transfer's state changes as in the captured blind transfer
    assert sequence == [
        "CHANNEL_UNPARK",
        "CHANNEL_EXECUTE_COMPLETE",
        "CHANNEL_CALLSTATE",
        "CHANNEL_STATE",
        "CHANNEL_CALLSTATE",
        "CHANNEL_STATE",
        "CHANNEL_EXECUTE",
    ]
    # a second transfer: the member leaves the first room before joining the next
    await events.client.api(f"uuid_transfer {ch.uuid} conference:cc-y@threeway,park inline")
    await events.wait(Action="add-member", **{"Conference-Name": "cc-y"})
    names = [(e.get("Action"), e.get("Conference-Name")) for e in events.events if e.get("Action")]
    assert names.index(("del-member", "cc-x")) < names.index(("add-member", "cc-y"))
    assert ch.get_var("conference_name") == "cc-y"
    # kicked out of a room, the channel parks (the rest of the inline extension)
    await events.client.api("conference cc-y kick all")
    await until(lambda: ch.app == "park" and ch.alive, 5, "parked again")


async def test_conference_hold_and_recording(
    fs: tuple[FakeFreeSwitch, Listener], tmp_path: Path
) -> None:
    fake, events = fs
    ch = fake.inbound_call("13800138000", "4008001234")
    await events.wait(**{"Event-Name": "CHANNEL_PARK"})
    await events.client.api(f"uuid_transfer {ch.uuid} conference:cc-r@threeway,park inline")
    added = await events.wait(Action="add-member")
    member = added["Member-ID"]
    api = events.client.api
    assert await api(f"conference cc-r hold {member} local_stream://moh") == f"+OK hold {member}\n"
    held = await events.wait(Action="hold-member")
    assert held["Hold"] == "true"
    mute = captured(Action="mute-member")
    assert layout(list(held.headers))[13:] == layout([k for k, _ in mute.pairs])[13:]
    assert await api(f"conference cc-r unhold {member}") == f"+OK unhold {member}\n"
    assert (await events.wait(Action="unhold-member"))["Hold"] == "false"
    assert await api("conference cc-r hold 999", check=False) == "-ERR Non-Existant ID 999\n"

    path = str(tmp_path / "r.wav")
    assert await api(f"conference cc-r recording start {path}") == f"Record file {path}\n"
    started = await events.wait(Action="start-recording")
    create = captured(Action="conference-create")
    conference_block = [k for k, _ in create.pairs][13:-1]  # after the base, before Action
    assert list(started.headers)[13:] == [*conference_block, "Action", "Path"]
    assert await api(f"conference cc-r recording stop {path}") == (
        f"Stopped recording file {path}\n"
    )
    stopped = await events.wait(Action="stop-recording")
    assert stopped["Path"] == path and int(stopped["Milliseconds-Elapsed"]) >= 0
    assert Path(path).read_bytes()[:4] == b"RIFF"
    assert (await api(f"conference cc-r recording stop {path}", check=False)).startswith("-ERR")


async def test_markers_hooks_and_break(fs: tuple[FakeFreeSwitch, Listener]) -> None:
    fake, events = fs
    api = events.client.api
    fake.agent_register("1001")
    job = await events.client.bgapi(
        "originate {origination_uuid=leg-1,api_on_originate='global_setvar cc_leg_x=1',"
        "api_reporting_hook='global_setvar cc_end_x=${end_epoch}:${hangup_cause_q850}'}"
        "user/1001 &park()"
    )
    assert (await job.result(5)).strip() == "+OK leg-1"
    assert await api("global_getvar cc_leg_x") == "1"
    # like FreeSWITCH, the {...} variable with ${...} in it never reaches the channel
    assert fake.channel("leg-1").get_var("api_on_originate") == "global_setvar cc_leg_x=1"
    assert fake.channel("leg-1").get_var("api_reporting_hook") is None
    hook = "global_setvar cc_end_x=${end_epoch}:${hangup_cause_q850}"
    assert await api(f"uuid_setvar leg-1 api_reporting_hook {hook}") == "+OK\n"  # not checked
    await api("uuid_kill leg-1 USER_BUSY")
    await until(lambda: fake.global_vars.get("cc_end_x"), 5, "hangup hook")
    stamp, _, code = fake.global_vars["cc_end_x"].partition(":")
    assert stamp.isdigit() and code == "17"
    ran = await events.wait(**{"Unique-ID": "leg-1", "API-Command": "global_setvar"})
    assert ran.name == "" and ran.get("API-Command-Argument") == f"cc_end_x={stamp}:17"
    assert await api("global_setvar cc_leg_x=") == "+OK"
    assert await api("global_getvar cc_leg_x", check=False) == "-ERR no reply\n"
    ch = fake.inbound_call("13800138000", "4008001234")
    await events.wait(**{"Event-Name": "CHANNEL_PARK", "Unique-ID": ch.uuid})
    await events.client.sendmsg(ch.uuid, app="playback", arg="local_stream://moh", event_uuid="m1")
    await events.client.sendmsg(
        ch.uuid, app="playback", arg="tone_stream://%(1,0,1)", event_uuid="m2"
    )
    await events.wait(**{"Event-Name": "PLAYBACK_START"})
    assert await api(f"uuid_break {ch.uuid} all") == "+OK\n"
    done = await events.wait(**{"Event-Name": "CHANNEL_EXECUTE_COMPLETE", "Application-UUID": "m1"})
    assert done["Application"] == "playback"
    await asyncio.sleep(0.05)
    assert not any(e.get("Application-UUID") == "m2" for e in events.events)  # flushed
    assert await api("uuid_break 00000000-0000-0000-0000-000000000000", check=False) == (
        "-ERR No such channel!\n"
    )
