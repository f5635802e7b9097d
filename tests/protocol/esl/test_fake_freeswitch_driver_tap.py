"""The fake FreeSWITCH against ``extra/driver-originate-reconnect``: the project's own
driver on a real FreeSWITCH 1.11 (issue 12, parts 1-3; SW-1, SW-4).

The ``.tap`` holds both ESL connections of the driver (``@@ <epoch> <dir> <len>`` chunks,
read by :func:`capture_tools.read_tap`): a caller parked, answered and moved into its
conference, agent 1001 originated into it, the connection dropped, the agent gone, the
driver back. Its commands are replayed verbatim against the fake, the test controls
playing the SIP side, and compared with what FreeSWITCH answered:

* every command reply and api response (as the other fidelity tests compare them), but
  ``version`` (another build than the other captures) -- among them ``global_getvar``
  of a variable nobody set, ``-ERR no reply``;
* which of the originate's ``{...}`` variables reach the agent leg (FreeSWITCH drops a
  value with ``${`` in it) and the CRIT log line each refusal gives
  (``driver-originate-reconnect.log-excerpt.txt``);
* that ``uuid_setvar`` does put such a hook on a channel.

What the capture only describes (``driver-originate-reconnect.md``) is checked against
that description: the lag of ``show channels`` and the nameless event a reporting hook
fires.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator

import pytest

from switch_control.protocols.esl import EslMessage, EslParser
from tests.e2e.harness import until
from tests.fakes.fake_freeswitch import FakeFreeSwitch
from tests.fakes.fake_freeswitch.engine import DEFAULT_LIST_LAG
from tests.fakes.fake_freeswitch.originate import parse_originate

from .capture_tools import TapConnection, captures_dir, read_tap, tap_connections
from .fidelity import RawClient, is_event, reply_signature

pytestmark = pytest.mark.timeout(30)

STEM = "extra/driver-originate-reconnect"
PASSWORD = "fslab-Pa55"  # the lab's, in the capture
CALLER = "bac5dd62-c0f5-4e6a-9614-245b59fa6739"
AGENT = "ag-" + CALLER


def _tap() -> list[TapConnection]:
    return tap_connections(read_tap(captures_dir() / f"{STEM}.tap"))


def _messages(data: bytes) -> list[EslMessage]:
    return EslParser(unicode_errors="strict").feed(data)


# conference members' audio state (who talks, so who holds the floor): SIPp's RTP
_AUDIO = re.compile(r'"(talking|has_floor|energy)":\t\w+')


def _replies(messages: list[EslMessage], skip: set[int]) -> list[tuple[object, ...]]:
    replies = [m for m in messages if m.event is None and m.content_type != "auth/request"]
    out = []
    for i, message in enumerate(replies):
        if i not in skip:
            kind, headers, body = reply_signature(message)
            out.append((kind, headers, _AUDIO.sub(r'"\1":\t?', str(body))))
    return out


def _create(messages: list[EslMessage], uuid: str) -> EslMessage:
    return next(m for m in messages if is_event("CHANNEL_CREATE", uuid)(m))


def test_the_tap_reader_reads_both_connections_whole() -> None:
    chunks = read_tap(captures_dir() / f"{STEM}.tap")
    assert len(chunks) == 50
    first, second = _tap()
    assert first.commands[0] == f"auth {PASSWORD}\n\n" and second.commands[-1] == "exit\n\n"
    assert len(_messages(first.received)) == 34 and len(_messages(second.received)) == 11


class _Replayed:
    """The fake after the replay, and what each connection (and a log listener) got."""

    def __init__(
        self, fake: FakeFreeSwitch, first: RawClient, second: RawClient, logs: RawClient
    ) -> None:
        self.fake, self.first, self.second, self.logs = fake, first, second, logs


async def _send(client: RawClient, command: str) -> None:
    before = client.replies()
    client.send(command)
    await client.wait(lambda m: m.is_reply, before + 1)


async def _replay(fake: FakeFreeSwitch, logs: RawClient) -> _Replayed:
    first_tap, second_tap = _tap()
    reader, writer = await asyncio.open_connection("127.0.0.1", fake.port)
    first = RawClient(reader, writer)
    await first.wait(lambda m: m.content_type == "auth/request")
    commands = iter(first_tap.commands)
    for _ in range(6):  # auth, event json ..., version, domain, show channels, json_list
        await _send(first, next(commands))
    fake.agent_register("1001")
    fake.queue_uuids([CALLER])
    fake.inbound_call("13800138000", "4008001234", caller_name="13800138000")
    await first.wait(is_event("CHANNEL_PARK", CALLER))
    for _ in range(3):  # uuid_setvar (the hangup hook), uuid_answer, uuid_transfer
        await _send(first, next(commands))
    await _send(first, next(commands))  # bgapi originate of the agent into the conference
    await first.wait(is_event("BACKGROUND_JOB"))
    await first.wait(is_event("CUSTOM/conference::maintenance", AGENT, Action="add-member"))
    writer.close()  # the connection drops
    await asyncio.wait_for(first.task, 5)
    fake.hangup(AGENT)  # meanwhile the agent hangs up
    # the driver came back ~0.5 s later, past the channel list's lag both ways: the caller
    # listed, the agent no longer
    caller, agent = fake.channel(CALLER), fake.channel(AGENT)
    await until(lambda: fake.listed(caller) and not fake.listed(agent), 5, "list settled")
    reader, writer = await asyncio.open_connection("127.0.0.1", fake.port)
    second = RawClient(reader, writer)
    await second.wait(lambda m: m.content_type == "auth/request")
    for command in second_tap.commands:
        await _send(second, command)
    await asyncio.wait_for(second.task, 5)  # "exit": the fake hangs up
    writer.close()
    await writer.wait_closed()
    return _Replayed(fake, first, second, logs)


@pytest.fixture
async def replayed() -> AsyncIterator[_Replayed]:
    create = _create(_messages(_tap()[0].received), CALLER).event
    assert create is not None
    core_uuid = create["Core-UUID"]  # FreeSWITCH's per-boot id
    async with FakeFreeSwitch(password=PASSWORD, core_uuid=core_uuid) as fake:
        fake.next_member_id = 7  # the capture's member ids (global in FreeSWITCH)
        reader, writer = await asyncio.open_connection("127.0.0.1", fake.port)
        logs = RawClient(reader, writer)
        logs.send(f"auth {PASSWORD}\n\nlog 2\n\n")
        await logs.wait(lambda m: m.is_reply, 2)
        try:
            yield await _replay(fake, logs)
        finally:
            writer.close()
            await writer.wait_closed()
            await asyncio.wait_for(logs.task, 5)
        assert not fake.errors, fake.errors


async def test_replies_match_the_real_switch(replayed: _Replayed) -> None:
    """Both connections' replies, ``global_getvar`` of the unset end record included."""
    for tap, client in zip(_tap(), (replayed.first, replayed.second), strict=True):
        version = next(i for i, c in enumerate(tap.commands) if c == "api version\n\n")
        expected = _replies(_messages(tap.received), {version})
        assert _replies(client.messages, {version}) == expected
    unset = _messages(_tap()[1].received)[-4]  # the end record nobody wrote
    assert (unset.content_type, unset.body) == ("api/response", "-ERR no reply\n")


async def test_originate_variables_with_expansions_never_reach_the_leg(
    replayed: _Replayed,
) -> None:
    tap = _tap()[0]
    originate = next(c for c in tap.commands if c.startswith("bgapi originate"))
    names = parse_originate(originate.split("\n", 1)[0].removeprefix("bgapi originate "))[0]
    assert "api_reporting_hook" in names and "api_on_originate" in names

    def kept(message: EslMessage) -> set[str]:
        assert message.event is not None
        return {n for n in names if message.event.variable(n) is not None}

    real = kept(_create(_messages(tap.received), AGENT))
    assert "api_reporting_hook" not in real and "api_on_originate" in real
    assert kept(_create(replayed.first.messages, AGENT)) == real
    # the caller's hook, set with uuid_setvar, is on its channel in both
    hook = next(c for c in tap.commands if "uuid_setvar" in c).split(" ", 4)[4].strip()
    assert replayed.fake.channel(CALLER).get_var("api_reporting_hook") == hook


async def test_each_refusal_is_a_crit_log_line(replayed: _Replayed) -> None:
    excerpt = (captures_dir() / f"{STEM}.log-excerpt.txt").read_text().splitlines()
    lines = [line.split(":", 1)[1] for line in excerpt if line]  # "<line number>:<text>"
    real = [(line.split()[0], line.split("[CRIT] ", 1)[1]) for line in lines]
    fake = [
        (m.headers.get("User-Data", ""), (m.body or "").split("[CRIT] ", 1)[1].strip())
        for m in replayed.logs.messages
        if m.content_type == "log/data" and "[CRIT] " in (m.body or "")
    ]
    assert fake == real
    text = "switch_channel.c:1509 Invalid data (${api_reporting_hook} contains a variable)"
    assert real == [(AGENT, text)] * 2


async def test_the_hook_run_is_a_nameless_event_with_the_channel_variables(
    replayed: _Replayed,
) -> None:
    """Not in the tap (the caller was still up at its end): as the capture's notes say,
    an event with no ``Event-Name``, ``API-Command: global_setvar``, channel variables."""
    fake = replayed.fake
    reader, writer = await asyncio.open_connection("127.0.0.1", fake.port)
    watcher = RawClient(reader, writer)
    watcher.send(f"auth {PASSWORD}\n\nevent json ALL\n\n")
    await watcher.wait(lambda m: m.is_reply, 2)
    fake.hangup(CALLER)

    def hook_ran(message: EslMessage) -> bool:
        ev = message.event
        return ev is not None and ev.get("API-Command") == "global_setvar" and not ev.name

    await watcher.wait(hook_ran)
    event = next(m.event for m in watcher.messages if hook_ran(m))
    assert event is not None and "Event-Name" not in event.headers
    assert event.unique_id == CALLER and event.variable("hangup_cause_q850") == "16"
    stamp, _, cause = event["API-Command-Argument"].partition("=")[2].partition(":")
    assert abs(int(stamp) - time.time()) < 5 and cause == "16"
    assert sum(1 for name in event.headers if name.startswith("variable_")) > 20
    writer.close()
    await writer.wait_closed()
    await asyncio.wait_for(watcher.task, 5)


async def test_the_channel_list_lags_both_ways() -> None:
    """``show channels`` (the core database): a new leg listed 77-151 ms after its
    CHANNEL_CREATE, a gone one (``uuid_exists`` false) still listed as ACTIVE."""
    assert 0.077 <= DEFAULT_LIST_LAG[0] <= 0.151 and DEFAULT_LIST_LAG[1] > 0
    async with FakeFreeSwitch(list_lag=(0.1, 0.2)) as fake:
        ch = fake.inbound_call("13800138000", "4008001234")
        assert await fake.run_api(f"uuid_exists {ch.uuid}") == "true"
        assert ch.uuid not in await fake.run_api("show channels as json")
        await until(lambda: fake.listed(ch), 5, "listed")
        assert time.monotonic() - ch.created_mono >= 0.1
        assert '"callstate":"RINGING"' in await fake.run_api("show channels as json")
        fake.answer(ch)
        fake.hangup(ch.uuid)
        assert await fake.run_api(f"uuid_exists {ch.uuid}") == "false"
        listing = await fake.run_api("show channels as json")
        assert ch.uuid in listing and '"callstate":"ACTIVE"' in listing
        await until(lambda: not fake.listed(ch), 5, "unlisted")
        assert await fake.run_api("show channels as json") == '{"row_count": 0}\n'
        assert not fake.errors
