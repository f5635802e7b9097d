"""EslParser on the real FreeSWITCH captures and on hand-made edge cases."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from switch_control.errors import SwitchControlError
from switch_control.protocols.esl import EslMessage, EslParser, EslProtocolError

from .capture_tools import capture_files, captures_dir, md_event_counts, parse_capture

CAPTURES = capture_files()


def _scenario_runs() -> list[tuple[str, int, dict[str, int]]]:
    runs = []
    for md in sorted(captures_dir().glob("scenario-*.md")):
        for stem, (total, counts) in md_event_counts(md.stem).items():
            runs.append((stem, total, counts))
    return runs


def test_captures_are_there() -> None:
    assert len(CAPTURES) >= 25  # 22 scenario runs + 2 outbound + extra/
    assert len(_scenario_runs()) >= 24


@pytest.mark.parametrize("path", CAPTURES, ids=[p.name for p in CAPTURES])
def test_capture_parses_completely(path: Path) -> None:
    data = path.read_bytes()
    parser = EslParser(unicode_errors="strict")
    messages = parser.feed(data)
    assert parser.at_boundary and parser.buffered == 0
    assert messages
    # any chunking gives the same messages
    rng = random.Random(path.name)
    chunked = EslParser(unicode_errors="strict")
    again: list[EslMessage] = []
    pos = 0
    while pos < len(data):
        size = rng.choice((1, 2, 7, 100, 1500, 65536))
        again += chunked.feed(data[pos : pos + size])
        pos += size
    assert again == messages
    assert chunked.at_boundary
    # every frame kind seen in the captures is decoded
    kinds = Counter(m.content_type for m in messages)
    assert set(kinds) <= {
        "auth/request",
        "command/reply",
        "api/response",
        "text/event-plain",
        "text/event-json",
        "text/disconnect-notice",
        "log/data",
    }
    for message in messages:
        if message.event is not None:
            assert message.event.name and all(
                isinstance(v, str) for v in message.event.headers.values()
            )
        elif message.content_type in ("api/response", "log/data"):
            assert message.body is not None


@pytest.mark.parametrize(("stem", "total", "counts"), _scenario_runs(), ids=lambda v: str(v)[:40])
def test_event_counts_match_scenario_description(
    stem: str, total: int, counts: dict[str, int]
) -> None:
    messages = parse_capture(captures_dir() / f"{stem}.esl")
    events = [m.event for m in messages if m.event is not None]
    assert len(events) == total
    assert Counter(e.full_name for e in events) == counts


def test_byte_by_byte_feeding() -> None:
    data = (captures_dir() / "scenario-11-plain.esl").read_bytes()
    parser = EslParser(unicode_errors="strict")
    messages: list[EslMessage] = []
    for i in range(len(data)):
        messages += parser.feed(data[i : i + 1])
    assert messages == EslParser().feed(data)
    assert sum(m.content_type == "log/data" for m in messages) == 76


def _messages(name: str) -> list[EslMessage]:
    return parse_capture(captures_dir() / name)


def test_plain_values_are_url_decoded() -> None:
    events = [m.event for m in _messages("scenario-04-plain.esl") if m.event]
    register = next(e for e in events if e.name == "CUSTOM")
    assert register.subclass == "sofia::register"
    assert register.full_name == "CUSTOM/sofia::register"
    assert register["contact"] == '"" <sip:1001@127.0.0.1:5090>'
    first = events[1]
    assert first["Event-Date-Local"].count(":") == 2 and " " in first["Event-Date-Local"]
    assert first["FreeSWITCH-IPv6"] == "fd00::2"
    job = next(e for e in events if e.name == "BACKGROUND_JOB")
    assert job["Job-Command-Arg"].endswith("user/1001 &park()")
    assert job["Job-Command-Arg"].startswith("{origination_caller_id_number=5550104,")
    dtmf = [
        m.event for m in _messages("scenario-02-plain.esl") if m.event and m.event.name == "DTMF"
    ]
    assert [e["DTMF-Digit"] for e in dtmf] == ["1", "2", "3", "#", "9"]
    assert [e["DTMF-Source"] for e in dtmf] == ["RTP", "RTP", "RTP", "RTP", "APP"]


@pytest.mark.parametrize("fmt", ["plain", "json"])
def test_background_job_body_stays_the_event_body(fmt: str) -> None:
    jobs = [
        m.event
        for m in _messages(f"scenario-06-{fmt}.esl")
        if m.event is not None and m.event.name == "BACKGROUND_JOB"
    ]
    bodies = [e.body for e in jobs]
    assert bodies[0] == "-ERR USER_NOT_REGISTERED\n"
    assert bodies[1:4] == ["-ERR NO_ANSWER\n", "-ERR USER_BUSY\n", "-ERR NO_ROUTE_DESTINATION\n"]
    assert bodies[4] is not None and bodies[4].startswith("-USAGE: <call url>")
    for event in jobs:
        assert event.body is not None and int(event["Content-Length"]) == len(event.body.encode())
        assert "_body" not in event.headers
        assert not any(
            value.startswith("+OK") or value.startswith("-ERR") for value in event.headers.values()
        )
    assert "Job-Command-Arg" not in jobs[4]  # ``bgapi originate`` without arguments


def test_plain_and_json_events_decode_alike() -> None:
    plain = [m.event for m in _messages("scenario-04-plain.esl") if m.event]
    json_ = [m.event for m in _messages("scenario-04-json.esl") if m.event]
    for a, b in zip(plain, json_, strict=True):
        if a.name != b.name:
            continue  # the two runs interleave channels differently
        assert a.format == "plain" and b.format == "json"
        stable = ("Event-Calling-Function", "Channel-State", "Answer-State", "Application")
        for key in stable:
            assert (key in a) == (key in b)


def test_json_arrays_become_plain_format_strings() -> None:
    events = [m.event for m in _messages("scenario-09-json.esl") if m.event]
    matches = {e["variable_DP_MATCH"] for e in events if "variable_DP_MATCH" in e}
    assert matches == {"ARRAY::conf-lab|:lab"}
    plain = [m.event for m in _messages("scenario-09-plain.esl") if m.event]
    assert {e["variable_DP_MATCH"] for e in plain if "variable_DP_MATCH" in e} == matches


def test_replies_and_responses() -> None:
    messages = _messages("scenario-08-plain.esl")
    assert messages[0].content_type == "auth/request" and messages[0].body is None
    assert messages[1].reply_text == "+OK accepted"
    responses = [m.body for m in messages if m.content_type == "api/response"]
    assert "true" in responses and "false" in responses and "5550108" in responses
    assert "-ERR No such channel!\n" in responses and "-ERROR\n" in responses
    jobs = [m for m in messages if m.job_uuid]
    assert all(m.reply_text == f"+OK Job-UUID: {m.job_uuid}" for m in jobs)
    notice = messages[-1]
    assert notice.content_type == "text/disconnect-notice"
    assert notice.body == "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"


def test_outbound_connect_reply_and_linger_notices() -> None:
    messages = _messages("scenario-10-outbound-plain.esl")
    connect = messages[0]
    assert connect.content_type == "command/reply"
    assert connect.reply_text == "+OK\n"  # url-encoded on the wire: %2BOK%0A
    assert connect.headers["Event-Name"] == "CHANNEL_DATA"
    assert connect.headers["Channel-Name"] == "sofia/lab/5550110@127.0.0.1:5061"
    assert connect.headers["Socket-Mode"] == "async" and connect.body is None
    linger, final = messages[-2], messages[-1]
    assert linger.headers["Content-Disposition"] == "linger" and linger.body == ""
    assert final.headers["Content-Disposition"] == "disconnect" and "goodbye" in (final.body or "")
    getvar = [
        m for m in messages if m.content_type == "command/reply" and m.reply_text == "5550110"
    ]
    assert len(getvar) == 1


def test_log_data_messages() -> None:
    logs = [m for m in _messages("scenario-11-json.esl") if m.content_type == "log/data"]
    assert len(logs) == 76
    first = logs[0]
    assert first.headers["Log-Level"] == "5" and first.headers["Log-File"] == "switch_channel.c"
    assert first.body is not None and "New Channel sofia/lab/5550111@127.0.0.1:5061" in first.body


# -- edge cases ------------------------------------------------------------------------------


def test_protocol_error_is_a_value_error_and_a_switch_control_error() -> None:
    assert issubclass(EslProtocolError, ValueError)
    assert issubclass(EslProtocolError, SwitchControlError)


@pytest.mark.parametrize(
    "data",
    [
        b"Content-Type: api/response\nno colon here\n\n",
        b": no name\n\n",
        b"Content-Length: abc\n\n",
        b"Content-Length: -5\n\n",
        b"Content-Length: 1e3\n\n",
        b"Content-Length: 99999999999999999999\n\n",
        b"Content-Length: 67108865\n\n",
        b"Content-Length: 3\nContent-Type: text/event-json\n\n[1]",
        b"Content-Length: 3\nContent-Type: text/event-json\n\n{x}",
        b"Content-Length: 12\nContent-Type: text/event-plain\n\nno-colon\n\nxx",
        b"Content-Length: 30\nContent-Type: text/event-plain\n\nContent-Length: 99\n\nshort body\n",
    ],
)
def test_malformed_input_raises_protocol_error(data: bytes) -> None:
    parser = EslParser()
    with pytest.raises(EslProtocolError):
        parser.feed(data)
    assert parser.failed
    with pytest.raises(EslProtocolError, match="already failed"):
        parser.feed(b"Content-Type: auth/request\n\n")
    parser.reset()
    assert len(parser.feed(b"Content-Type: auth/request\n\n")) == 1


def test_messages_before_the_error_are_kept() -> None:
    good = b"Content-Type: command/reply\nReply-Text: +OK\n\n"
    with pytest.raises(EslProtocolError) as info:
        EslParser().feed(good + b"garbage line\n\n")
    assert [m.reply_text for m in info.value.messages] == ["+OK"]
    assert info.value.offset == len(good)


def test_header_block_size_is_bounded() -> None:
    parser = EslParser(max_header_bytes=1024)
    for _ in range(4):
        parser.feed(b"X" * 200)
    assert parser.buffered == 800
    with pytest.raises(EslProtocolError, match="header block longer"):
        parser.feed(b"X" * 300)
    assert parser.buffered == 0


def test_body_size_limit_is_configurable() -> None:
    with pytest.raises(EslProtocolError, match="exceeds limit"):
        EslParser(max_body_bytes=10).feed(b"Content-Length: 11\n\n")
    (message,) = EslParser(max_body_bytes=11).feed(b"Content-Length: 11\n\nhello world")
    assert message.body == "hello world"


@pytest.mark.parametrize(
    ("errors", "expected"),
    [("surrogateescape", "caf\udce9"), ("replace", "caf\ufffd")],
)
def test_invalid_utf8_policies(errors: str, expected: str) -> None:
    data = b"Content-Type: api/response\nContent-Length: 4\n\ncaf\xe9"
    (message,) = EslParser(unicode_errors=errors).feed(data)
    assert message.body == expected
    event = (
        b"Content-Length: 40\nContent-Type: text/event-plain\n\n"
        b"Event-Name: CUSTOM\nCaller-Name: Jos%E9\n\n"
    )
    (message,) = EslParser(unicode_errors=errors).feed(event)
    assert message.event is not None and message.event["Caller-Name"] == "Jos" + expected[-1]
    json_event = (
        b'Content-Length: 32\nContent-Type: text/event-json\n\n{"Event-Name":"X","Name":"Jos\xe9"}'
    )
    (message,) = EslParser(unicode_errors=errors).feed(json_event)
    assert message.event is not None and message.event["Name"] == "Jos" + expected[-1]
    with pytest.raises(EslProtocolError, match="UTF-8"):
        EslParser(unicode_errors="strict").feed(data)


def test_surrogateescape_is_lossless() -> None:
    raw = bytes(range(256))
    data = b"Content-Type: api/response\nContent-Length: 256\n\n" + raw
    (message,) = EslParser().feed(data)
    assert message.body is not None
    assert message.body.encode("utf-8", "surrogateescape") == raw


def test_unknown_unicode_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="unicode_errors"):
        EslParser(unicode_errors="ignore")


def test_repeated_headers_keep_the_last_value_like_the_json_path() -> None:
    plain = b"Event-Name: COMMAND\nX: 1\nEvent-Name: PRIVATE_COMMAND\n\n"
    frame = b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(plain) + plain
    (message,) = EslParser().feed(frame)
    assert message.event is not None and message.event.name == "PRIVATE_COMMAND"
    assert list(message.event.headers) == ["Event-Name", "X"]


def test_stray_newlines_between_frames_are_skipped() -> None:
    data = b"\n\nContent-Type: auth/request\n\n\nContent-Type: command/reply\nReply-Text: +OK\n\n"
    assert [m.content_type for m in EslParser().feed(data)] == ["auth/request", "command/reply"]


def test_non_standard_escapes_take_the_exact_path() -> None:
    # '%' not followed by two hex digits, '=' and an encoded newline: decoded like urllib
    body = b"Event-Name: X\nA: 100%\nB: a=b%20c\nC: line1%0Aline2\nD:tight\n\n"
    frame = b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(body) + body
    (message,) = EslParser().feed(frame)
    assert message.event is not None
    assert message.event.headers == {
        "Event-Name": "X",
        "A": "100%",
        "B": "a=b c",
        "C": "line1\nline2",
        "D": "tight",
    }


@pytest.mark.parametrize("chunk", [1, 7, 10_000])
def test_json_events_decode_alike_whole_or_split_across_reads(chunk: int) -> None:
    """A complete JSON frame takes the parser's fastest path, one split across reads the
    general one: headers and body must come out the same, odd values included."""
    body = (
        b'{"Event-Name":"CUSTOM","Event-Subclass":"x::y","n":5,"ok":true,"none":null,'
        b'"arr":["a","b"],"one":["\xe5\xbc\xa0"],"obj":{"k":"v"},"_body":{"r":[1,2]}}'
    )
    frame = b"Content-Length: %d\nContent-Type: text/event-json\n\n%s" % (len(body), body)
    data = frame * 3
    parser = EslParser()
    split = [m for i in range(0, len(data), chunk) for m in parser.feed(data[i : i + chunk])]
    (whole, *_) = EslParser().feed(data)
    assert len(split) == 3
    for message in split:
        assert message.event is not None and whole.event is not None
        assert message.event.headers == whole.event.headers
        assert message.event.body == whole.event.body
        assert message.headers == whole.headers
    headers = whole.event.headers
    assert (headers["n"], headers["ok"], headers["none"]) == ("5", "true", "null")
    assert (headers["arr"], headers["one"], headers["obj"]) == ("ARRAY::a|:b", "张", '{"k": "v"}')
    assert whole.event.body == '{"r": [1, 2]}'
    assert whole.headers == {"Content-Length": str(len(body)), "Content-Type": "text/event-json"}
