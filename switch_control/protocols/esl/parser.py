"""Sans-IO parser of the FreeSWITCH Event Socket byte stream.

``EslParser.feed(data)`` takes whatever bytes arrived from the socket and returns
the complete :class:`~.message.EslMessage` frames they finish; partial frames are
kept until the next call.  No I/O, no asyncio: the same parser serves the asyncio
client, tests and benchmarks.

Framing (see the captures README): a frame is a header block terminated by an
empty line (``\\n\\n``); when it has a ``Content-Length`` header, exactly that many
body bytes follow (no terminator after the body; a JSON event is directly
followed by the next frame).  Stray empty lines between frames are skipped.
Lines end in ``\\n`` (FreeSWITCH never sends ``\\r\\n``; a CR is kept as data).

Decoding rules:

* outer header values are url-decoded when they contain ``%`` (as libesl does;
  needed for the outbound ``connect`` reply, ``Reply-Text: %2BOK%0A``);
* ``text/event-plain`` bodies are ``Name: url-encoded value`` lines, then
  optionally a blank line and an inner body framed by the inner ``Content-Length``
  header (``BACKGROUND_JOB``); the inner body is the event body, the inner
  ``Content-Length`` stays in the event headers (as in the JSON format);
* ``text/event-json`` bodies are decoded with orjson; ``_body`` becomes the event
  body, JSON arrays become ``ARRAY::a|:b`` strings (one-element arrays: the element),
  like the plain format renders them, and other non-string scalars become their
  JSON text, so headers are always ``dict[str, str]``;
* FreeSWITCH repeats some header names within one event (``Hangup-Cause`` in
  CHANNEL_HANGUP_COMPLETE, the base headers of a PRIVATE_COMMAND...): the dict
  keeps the first position and the *last* value, in both formats (orjson does the
  same for JSON objects).

Text decoding: bytes are UTF-8.  ``unicode_errors`` chooses what happens with
invalid UTF-8: ``"surrogateescape"`` (default) keeps every byte, losslessly, as
lone surrogates (``str.encode("utf-8", "surrogateescape")`` restores the bytes);
``"replace"`` substitutes U+FFFD; ``"strict"`` raises :class:`EslProtocolError`.

Limits, so that a broken or hostile peer cannot exhaust memory: a header block
larger than ``max_header_bytes`` (default 1 MiB) and a ``Content-Length`` larger
than ``max_body_bytes`` (default 64 MiB) raise :class:`EslProtocolError`; nothing
else is buffered.  Malformed input never raises anything but
:class:`EslProtocolError`; after one, the parser refuses further input (the
framing is lost: close the connection, or :meth:`EslParser.reset`).  Messages
completed earlier in the same ``feed`` call are attached to the error as
``messages``.
"""

from __future__ import annotations

from typing import Final, NoReturn

import orjson
from orjson import JSONDecodeError

from .decoding import (
    content_length,
    decode_text,
    header_lines,
    json_event,
    json_fallback,
    json_text,
    plain_event,
    stringify_values,
)
from .errors import EslProtocolError
from .message import CT_EVENT_JSON, CT_EVENT_PLAIN, EslEvent, EslMessage

__all__ = ["DEFAULT_MAX_BODY_BYTES", "DEFAULT_MAX_HEADER_BYTES", "EslParser"]

DEFAULT_MAX_BODY_BYTES: Final = 64 * 1024 * 1024
DEFAULT_MAX_HEADER_BYTES: Final = 1024 * 1024
_UNICODE_ERRORS: Final = ("strict", "replace", "surrogateescape")

_CL_PREFIX: Final = b"Content-Length: "
_CT_JSON_LINE: Final = b"Content-Type: text/event-json"
_CT_PLAIN_LINE: Final = b"Content-Type: text/event-plain"
_JSON_TAIL: Final = b"\nContent-Type: text/event-json\n\n"  # 32 bytes


class EslParser:
    """Incremental ESL frame parser (bytes in, :class:`EslMessage` out)."""

    __slots__ = (
        "_body_need",
        "_errors",
        "_failed",
        "_offset",
        "_pending_headers",
        "_rest",
        "_rest_size",
        "max_body_bytes",
        "max_header_bytes",
    )

    def __init__(
        self,
        *,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
        unicode_errors: str = "surrogateescape",
    ) -> None:
        if unicode_errors not in _UNICODE_ERRORS:
            raise ValueError(f"unicode_errors must be one of {_UNICODE_ERRORS}")
        if max_body_bytes < 0 or max_header_bytes < 2:
            raise ValueError("limits must be positive")
        self.max_body_bytes = max_body_bytes
        self.max_header_bytes = max_header_bytes
        self._errors = unicode_errors
        self._rest: list[bytes] = []  # undecoded bytes of the frame in progress
        self._rest_size = 0
        self._pending_headers: dict[str, str] | None = None  # headers of a frame awaiting its body
        self._body_need = 0
        self._offset = 0  # stream offset of the start of ``_rest``
        self._failed: EslProtocolError | None = None

    # -- public API ---------------------------------------------------------------

    @property
    def buffered(self) -> int:
        """Bytes held for the frame in progress (bounded by the configured limits)."""
        return self._rest_size

    @property
    def at_boundary(self) -> bool:
        """True when no partial frame is buffered (a clean place for the stream to end)."""
        return self._rest_size == 0 and self._pending_headers is None

    @property
    def failed(self) -> bool:
        return self._failed is not None

    def reset(self) -> None:
        """Forget any partial frame and a previous error (e.g. for a new connection)."""
        self._rest.clear()
        self._rest_size = 0
        self._pending_headers = None
        self._body_need = 0
        self._offset = 0
        self._failed = None

    def feed(self, data: bytes | bytearray | memoryview) -> list[EslMessage]:
        """Consume ``data``; return the frames it completes, in order."""
        if self._failed is not None:
            raise EslProtocolError("parser already failed: " + str(self._failed.args[0]))
        if not data:
            return []
        chunk = bytes(data) if not isinstance(data, bytes) else data
        out: list[EslMessage] = []
        try:
            if self._rest_size or self._pending_headers is not None:
                if not self._enough(chunk):
                    return out
                self._rest.append(chunk)
                chunk = b"".join(self._rest)
                self._rest.clear()
                self._rest_size = 0
            self._parse(chunk, out)
        except EslProtocolError as exc:
            exc.messages = out
            self._failed = exc
            self._rest.clear()
            self._rest_size = 0
            self._pending_headers = None
            raise
        return out

    # -- internals ----------------------------------------------------------------

    def _enough(self, chunk: bytes) -> bool:
        """Buffer ``chunk`` if the frame in progress still is not complete with it."""
        size = self._rest_size + len(chunk)
        if self._pending_headers is not None:
            if size < self._body_need:
                self._rest.append(chunk)
                self._rest_size = size
                return False
            return True
        # Waiting for the end of a header block: only the new bytes (plus the
        # boundary with the previous ones) need to be searched.
        last = self._rest[-1]
        if chunk.find(b"\n\n") >= 0 or (last[-1] == 10 and chunk[0] == 10):
            return True
        if size > self.max_header_bytes:
            self._fail(f"header block longer than {self.max_header_bytes} bytes", self._offset)
        self._rest.append(chunk)
        self._rest_size = size
        return False

    def _fail(self, message: str, offset: int | None = None) -> NoReturn:
        raise EslProtocolError(message, offset)

    def _parse(self, data: bytes, out: list[EslMessage]) -> None:
        n = len(data)
        pos = 0
        base = self._offset
        find = data.find
        startswith = data.startswith
        append = out.append
        view = memoryview(data)
        headers = self._pending_headers
        if headers is not None:
            # The body of a frame whose header block came in an earlier call.
            length = self._body_need
            self._pending_headers = None
            append(self._finish(headers, data, view, 0, length, base))
            pos = length
        max_header = self.max_header_bytes
        max_body = self.max_body_bytes
        loads = orjson.loads
        join = "".join
        new_frame = EslMessage.event_frame
        while pos < n:
            # Fastest path, the JSON event frame: one search checks the whole header block
            # ("Content-Length: <digits>\nContent-Type: text/event-json\n\n"); anything
            # else (incomplete, too long, other frames) goes the general way below.
            if startswith(_CL_PREFIX, pos):
                nl = find(_JSON_TAIL, pos + 16, pos + 60)
                if nl > pos + 16:
                    digits = data[pos + 16 : nl]
                    start = nl + 32
                    if digits.isdigit() and (length := int(digits)) <= max_body:
                        if n - start >= length:
                            try:
                                obj = loads(view[start : start + length])
                            except JSONDecodeError:
                                obj = json_fallback(
                                    view[start : start + length], self._errors, base + start
                                )
                            if type(obj) is not dict:
                                self._fail("JSON event body is not an object", base + start)
                            body = obj.pop("_body", None)
                            try:
                                join(obj.values())  # in C: every value is a str
                            except TypeError:
                                stringify_values(obj)
                            if body is not None and type(body) is not str:
                                body = json_text(body)
                            append(new_frame(EslEvent(obj, body, "json"), CT_EVENT_JSON, digits))
                            pos = start + length
                            continue
            if data[pos] == 10:  # stray empty line between frames
                pos += 1
                continue
            end = find(b"\n\n", pos)
            if end < 0 or end - pos > max_header:
                if n - pos > max_header or end >= 0:
                    self._fail(f"header block longer than {max_header} bytes", base + pos)
                break
            # Fast path: the two-line header block of every event frame.
            if startswith(_CL_PREFIX, pos):
                nl = find(b"\n", pos + 16, end)
                if nl > 0 and end - nl == 30 and startswith(_CT_JSON_LINE, nl + 1):
                    ct = CT_EVENT_JSON
                elif nl > 0 and end - nl == 31 and startswith(_CT_PLAIN_LINE, nl + 1):
                    ct = CT_EVENT_PLAIN
                else:
                    ct = ""
                if ct:
                    digits = data[pos + 16 : nl]
                    if not digits.isdigit() or len(digits) > 12:
                        self._fail(f"invalid Content-Length {digits!r}", base + pos)
                    length = int(digits)
                    if length > max_body:
                        self._fail(f"Content-Length {length} exceeds limit {max_body}", base + pos)
                    start = end + 2
                    if n - start < length:
                        self._pending_headers = {
                            "Content-Length": digits.decode("ascii"),
                            "Content-Type": ct,
                        }
                        self._body_need = length
                        pos = start
                        break
                    if ct is CT_EVENT_JSON:  # (complete JSON frames take the path above)
                        event = json_event(view[start : start + length], self._errors, base + start)
                    else:
                        event = plain_event(data, start, start + length, self._errors, base + start)
                    append(new_frame(event, ct, digits))
                    pos = start + length
                    continue
            hdrs = header_lines(
                decode_text(data[pos:end], self._errors, base + pos), self._errors, base + pos
            )
            start = end + 2
            cl = hdrs.get("Content-Length")
            if cl is None:
                append(EslMessage(hdrs))
                pos = start
                continue
            length = content_length(cl, self.max_body_bytes, base + pos)
            if n - start < length:
                self._pending_headers = hdrs
                self._body_need = length
                pos = start
                break
            append(self._finish(hdrs, data, view, start, length, base))
            pos = start + length
        view.release()
        if pos < n:
            rest = data[pos:] if pos else data
            self._rest.append(rest)
            self._rest_size = len(rest)
        self._offset = base + pos

    def _finish(
        self,
        headers: dict[str, str],
        data: bytes,
        view: memoryview,
        start: int,
        length: int,
        base: int,
    ) -> EslMessage:
        ct = headers.get("Content-Type", "")
        if ct == CT_EVENT_JSON:
            event = json_event(view[start : start + length], self._errors, base + start)
            return EslMessage(headers, None, event)
        if ct == CT_EVENT_PLAIN:
            event = plain_event(data, start, start + length, self._errors, base + start)
            return EslMessage(headers, None, event)
        return EslMessage(
            headers, decode_text(data[start : start + length], self._errors, base + start)
        )
