"""Property tests: whatever bytes arrive, the parser either returns messages or raises
EslProtocolError -- nothing else, never hangs, and never buffers beyond its limits."""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from switch_control.protocols.esl import EslMessage, EslParser, EslProtocolError

from .capture_tools import captures_dir, split_frames

MAX_HEADER = 4096
MAX_BODY = 64 * 1024
FRAMES = [
    frame
    for name in ("scenario-04-plain.esl", "scenario-04-json.esl", "scenario-11-plain.esl")
    for frame in split_frames((captures_dir() / name).read_bytes())
]
SMALL_FRAMES = [f for f in FRAMES if len(f) < 6000]
COMMON = settings(
    max_examples=150,
    deadline=1000,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def feed_all(data: bytes, cuts: list[int], **limits: int) -> tuple[list[EslMessage], EslParser]:
    """Feed ``data`` split at ``cuts``; return the messages and the parser.

    Asserts the properties every input must satisfy.
    """
    parser = EslParser(max_header_bytes=MAX_HEADER, max_body_bytes=MAX_BODY, **limits)
    messages: list[EslMessage] = []
    positions = [*sorted({c % (len(data) + 1) for c in cuts}), len(data)]
    start = 0
    started = time.monotonic()
    for end in positions:
        try:
            messages += parser.feed(data[start:end])
        except EslProtocolError as exc:
            messages += exc.messages
            assert parser.failed
            break
        # buffered bytes never exceed one frame's limits
        assert parser.buffered <= MAX_HEADER + MAX_BODY + len(data[start:end])
        start = end
    assert time.monotonic() - started < 1.0
    for message in messages:
        assert isinstance(message.headers, dict)
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in message.headers.items())
        if message.event is not None:
            assert all(isinstance(v, str) for v in message.event.headers.values())
            assert message.event.body is None or isinstance(message.event.body, str)
    return messages, parser


@COMMON
@given(st.binary(max_size=4096), st.lists(st.integers(min_value=0), max_size=8))
def test_binary_noise(data: bytes, cuts: list[int]) -> None:
    feed_all(data, cuts)


@COMMON
@given(
    st.lists(st.sampled_from(SMALL_FRAMES), min_size=1, max_size=6),
    st.lists(st.integers(min_value=0), max_size=10),
)
def test_any_chunking_of_valid_frames_gives_the_same_messages(
    frames: list[bytes], cuts: list[int]
) -> None:
    data = b"".join(frames)
    messages, parser = feed_all(data, cuts)
    assert messages == EslParser().feed(data)
    assert len(messages) == len(frames) and parser.at_boundary


@COMMON
@given(st.sampled_from(SMALL_FRAMES), st.data())
def test_truncated_frames_wait_for_more(frame: bytes, data: st.DataObject) -> None:
    cut = data.draw(st.integers(min_value=1, max_value=len(frame) - 1))
    parser = EslParser()
    head = parser.feed(frame[:cut])
    if not head:  # nothing complete yet: the rest completes the frame
        assert not parser.at_boundary
        assert len(parser.feed(frame[cut:])) == 1
    assert parser.at_boundary


@COMMON
@given(
    st.sampled_from(SMALL_FRAMES),
    st.one_of(
        st.text(max_size=12),
        st.integers(min_value=-(10**30), max_value=10**30).map(str),
        st.sampled_from(["", " ", "0x10", "1e9", "٣", "-0", "+1", "99999999999999999999999"]),
    ),
)
def test_wrong_or_huge_content_length(frame: bytes, value: str) -> None:
    head, sep, body = frame.partition(b"\n\n")
    lines = [
        b"Content-Length: " + value.encode("utf-8", "surrogateescape")
        if line.startswith(b"Content-Length: ")
        else line
        for line in head.split(b"\n")
    ]
    mutated = b"\n".join(lines) + sep + body
    feed_all(mutated, [7, 50, 400])


@COMMON
@given(
    st.sampled_from(SMALL_FRAMES),
    st.integers(min_value=0),
    st.binary(min_size=1, max_size=16),
)
def test_corrupted_bytes(frame: bytes, where: int, junk: bytes) -> None:
    pos = where % len(frame)
    feed_all(frame[:pos] + junk + frame[pos + len(junk) :], [pos, pos + 3])
    feed_all(frame[:pos] + junk + frame[pos:], [pos])


@COMMON
@given(
    st.sampled_from(SMALL_FRAMES), st.text(min_size=1, max_size=30).filter(lambda t: ":" not in t)
)
def test_header_line_without_colon(frame: bytes, line: str) -> None:
    clean = line.replace("\n", " ").strip() or "x"
    head, _, _ = frame.partition(b"\n\n")
    bad = head + b"\n" + clean.encode() + b"\n\n"
    messages, parser = feed_all(bad, [])
    assert parser.failed and not messages


@COMMON
@given(
    st.binary(min_size=1, max_size=64).filter(lambda b: not _is_utf8(b)),
    st.sampled_from(["strict", "replace", "surrogateescape"]),
)
def test_invalid_utf8_everywhere(junk: bytes, policy: str) -> None:
    body = b"Event-Name: X\nValue: " + junk.replace(b"\n", b" ") + b"\n\n"
    frames = [
        b"Content-Type: api/response\nContent-Length: %d\n\n" % len(junk) + junk,
        b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(body) + body,
        b'Content-Length: %d\nContent-Type: text/event-json\n\n{"V":"' % (len(junk) + 7)
        + junk.replace(b'"', b"'").replace(b"\\", b"/")
        + b'"}',
    ]
    for frame in frames:
        messages, parser = feed_all(frame, [], unicode_errors=policy)
        if policy == "strict":
            continue  # an EslProtocolError is the documented outcome
        assert len(messages) == 1 or parser.failed


def test_endless_header_block_is_cut_off_quickly() -> None:
    parser = EslParser(max_header_bytes=MAX_HEADER)
    started = time.monotonic()
    try:
        for _ in range(100_000):
            parser.feed(b"a")
    except EslProtocolError:
        pass
    else:  # pragma: no cover
        raise AssertionError("no error for an endless header block")
    assert parser.buffered == 0
    assert time.monotonic() - started < 2.0


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
