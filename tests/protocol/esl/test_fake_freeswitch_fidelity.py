"""The fake FreeSWITCH against the real captures (``shared/freeswitch-captures``).

For every capture scenario (plain and JSON runs, the outbound-socket connection of
scenario 10 too) the captured commands are replayed verbatim against the fake,
with the test controls standing in for SIPp, and the fake's output is compared
with the capture by :func:`tests.protocol.esl.fidelity.compare`.

Compared exactly: every command reply / api response (content type, headers,
body), and for every channel its ordered events with every non-``variable_*``
header name in order (repeated names included) and every value, except:

* volatile values: dates, ``Event-Sequence``, ``*-Time`` stamps, random
  ``Application-UUID`` / ``Caller-Transfer-Source`` / ``Conference-Unique-ID``,
  ``DTMF-Duration``, uptime / session counters in ``status``;
* bodies describing FreeSWITCH's machine rather than the protocol: ``show
  channels|calls`` tables (FreeSWITCH reads them from its core DB, which lags the
  channels) are compared by header line and row count, ``uuid_dump`` by presence;
* ``variable_*`` headers (hundreds of SIP/RTP details; the fake keeps a subset);
* the interleaving of different channels' events (thread timing: it differs
  between the plain and JSON runs of the same scenario);
* racy events: the B-leg's ``CS_CONSUME_MEDIA`` during ``uuid_bridge``, the
  outbound socket's early ``CHANNEL_PARK``, ``Conference-Size`` on ``del-member``
  after ``hup all``; timer events (HEARTBEAT, RE_SCHEDULE); log/data line texts
  (only their presence).

Identifiers are preset through the fake's controls: the channel and job UUIDs, the
Core-UUID (per FreeSWITCH boot) and the global counters the JSON run of scenario 09
inherited from the plain run (conference member ids, presence ``event_count``).
The ``socket`` application connects to a test server on a free port but reports
the lab dialplan's ``127.0.0.1:8084``.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.fakes.fake_freeswitch import FakeFreeSwitch, wire

from .capture_tools import capture_files, split_frames
from .fidelity import CaptureInfo, RawClient, compare, racy_outbound_park
from .scenarios import DRIVERS, Replay, extra_answer_error, scenario_10

SCENARIOS = [(num, fmt) for num in [*DRIVERS, "10"] for fmt in ("plain", "json")]
SCENARIOS.append(("extra", "json"))


async def _replay(num: str, fmt: str) -> tuple[CaptureInfo, bytes, list[str]]:
    stem = "extra/uuid_answer-rtp-bind-error-json" if num == "extra" else f"scenario-{num}-{fmt}"
    info = CaptureInfo.load(stem)
    extra: list[str] = []
    core_uuid = info.events[0].fields["Core-UUID"]  # FreeSWITCH's per-boot id
    async with FakeFreeSwitch(core_uuid=core_uuid) as fake:
        fake.queue_uuids(info.channel_uuids)
        fake.queue_job_uuids(info.job_uuids)
        reader, writer = await asyncio.open_connection("127.0.0.1", fake.port)
        client = RawClient(reader, writer)
        replay = Replay(fake, client, info)
        try:
            if num == "extra":
                await extra_answer_error(replay)
            elif num == "10":
                outbound = CaptureInfo.load(f"scenario-10-outbound-{fmt}")
                data = await scenario_10(replay, outbound)
                extra = compare(outbound.data, data, racy_outbound_park)
            else:
                await DRIVERS[num](replay)
        finally:
            writer.close()
            await asyncio.wait_for(client.task, 5)
        assert not fake.errors, fake.errors
    return info, bytes(client.data), extra


@pytest.mark.timeout(30)
@pytest.mark.parametrize(("num", "fmt"), SCENARIOS, ids=[f"{n}-{f}" for n, f in SCENARIOS])
async def test_fake_replays_capture(num: str, fmt: str) -> None:
    info, output, outbound_problems = await _replay(num, fmt)
    problems = compare(info.data, output) + outbound_problems
    assert not problems, "\n".join(problems)


def test_event_encoder_reproduces_every_captured_event_byte_for_byte() -> None:
    """The fake's wire encoder, given a captured event's header pairs, writes its exact bytes."""
    checked = 0
    for path in capture_files():
        data = path.read_bytes()
        for frame in split_frames(data):
            head, _, body = frame.partition(b"\n\n")
            if b"text/event-json" in head:
                pairs = json.loads(body, object_pairs_hook=lambda p: p)
                inner = pairs.pop()[1] if pairs and pairs[-1][0] == "_body" else None
                assert wire.event_json(pairs, inner) == frame
            elif b"text/event-plain" in head:
                lines, _, rest = body.partition(b"\n\n")
                from urllib.parse import unquote

                pairs = [
                    (k, unquote(v))
                    for k, _, v in (line.partition(": ") for line in lines.decode().split("\n"))
                ]
                assert wire.event_plain(pairs, rest.decode() if rest else None) == frame
            else:
                continue
            checked += 1
    assert checked > 1400
