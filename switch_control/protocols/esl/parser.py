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
  JSON text, so headers are always ``dict[str, str]``.

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

import binascii
import json
import re
from itertools import repeat
from typing import Any, Final
from urllib.parse import unquote

import orjson
from orjson import JSONDecodeError

from .errors import EslProtocolError
from .message import CT_EVENT_JSON, CT_EVENT_PLAIN, EslEvent, EslMessage

__all__ = ["DEFAULT_MAX_BODY_BYTES", "DEFAULT_MAX_HEADER_BYTES", "EslParser"]

DEFAULT_MAX_BODY_BYTES: Final = 64 * 1024 * 1024
DEFAULT_MAX_HEADER_BYTES: Final = 1024 * 1024
_UNICODE_ERRORS: Final = ("strict", "replace", "surrogateescape")

_CL_PREFIX: Final = b"Content-Length: "
_CT_JSON_LINE: Final = b"Content-Type: text/event-json"
_CT_PLAIN_LINE: Final = b"Content-Type: text/event-plain"
# A "%" that does not start a two-hex-digit escape: such input takes the slow path.
_BAD_PERCENT: Final = re.compile(rb"%(?![0-9A-Fa-f]{2})")


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

    def _fail(self, message: str, offset: int | None = None) -> None:
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
        loads = orjson.loads
        join = "".join
        while pos < n:
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
                    if length > self.max_body_bytes:
                        self._fail(
                            f"Content-Length {length} exceeds limit {self.max_body_bytes}",
                            base + pos,
                        )
                    hdrs = {"Content-Length": digits.decode("ascii"), "Content-Type": ct}
                    start = end + 2
                    if n - start < length:
                        self._pending_headers = hdrs
                        self._body_need = length
                        pos = start
                        break
                    if ct is CT_EVENT_JSON:
                        # Inlined JSON event path (the hot one).
                        try:
                            obj = loads(view[start : start + length])
                        except JSONDecodeError:
                            obj = self._json_fallback(view[start : start + length], base + start)
                        if type(obj) is not dict:
                            self._fail("JSON event body is not an object", base + start)
                        body = obj.pop("_body", None)
                        try:
                            join(obj.values())  # in C: every value is a str
                        except TypeError:
                            _stringify_values(obj)
                        if body is not None and type(body) is not str:
                            body = json.dumps(body, ensure_ascii=False)
                        event = EslEvent(obj, body, "json")
                    else:
                        event = self._plain_event(data, start, start + length, base + start)
                    append(EslMessage(hdrs, None, event))
                    pos = start + length
                    continue
            hdrs = self._outer_headers(data[pos:end], base + pos)
            start = end + 2
            cl = hdrs.get("Content-Length")
            if cl is None:
                append(EslMessage(hdrs))
                pos = start
                continue
            length = self._content_length(cl, base + pos)
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
            event = self._json_event(view[start : start + length], base + start)
            return EslMessage(headers, None, event)
        if ct == CT_EVENT_PLAIN:
            event = self._plain_event(data, start, start + length, base + start)
            return EslMessage(headers, None, event)
        return EslMessage(headers, self._text(data[start : start + length], base + start))

    def _text(self, raw: bytes, offset: int) -> str:
        try:
            return raw.decode("utf-8", self._errors)
        except UnicodeDecodeError as exc:
            raise EslProtocolError(f"invalid UTF-8: {exc.reason}", offset + exc.start) from None

    def _content_length(self, value: str, offset: int) -> int:
        text = value.strip()
        if not text.isascii() or not text.isdigit() or len(text) > 12:
            self._fail(f"invalid Content-Length {value!r}", offset)
        length = int(text)
        if length > self.max_body_bytes:
            self._fail(f"Content-Length {length} exceeds limit {self.max_body_bytes}", offset)
        return length

    def _outer_headers(self, block: bytes, offset: int) -> dict[str, str]:
        return self._header_lines(self._text(block, offset), offset)

    def _header_lines(self, text: str, offset: int, *, plain_event: bool = False) -> dict[str, str]:
        """Line-by-line header parsing (outer headers; slow path of plain events).

        Outer headers: the value is url-decoded (libesl does the same).  Plain
        event headers: the whole line is url-decoded, then split at the first
        ``": "`` (same result as the fast path), empty lines are skipped.
        """
        headers: dict[str, str] = {}
        errors = self._errors
        for line in text.split("\n"):
            if plain_event:
                if not line:
                    continue
                if "%" in line:
                    line = self._unquote(line, offset)
            name, sep, value = line.partition(": ")
            if not sep:
                name, sep, value = line.partition(":")
                if not sep:
                    self._fail(f"header line without colon: {line[:80]!r}", offset)
                value = value.lstrip(" ")
            if not name:
                self._fail(f"header line without name: {line[:80]!r}", offset)
            if not plain_event and "%" in value:
                value = self._unquote(value, offset, errors)
            headers[name] = value
        return headers

    def _unquote(self, text: str, offset: int, errors: str | None = None) -> str:
        try:
            return unquote(text, errors=errors or self._errors)
        except UnicodeDecodeError as exc:
            raise EslProtocolError(
                f"invalid UTF-8 in url-encoded header: {exc.reason}", offset
            ) from None

    def _plain_event(self, data: bytes, start: int, end: int, offset: int) -> EslEvent:
        """Parse the plain event in ``data[start:end]``."""
        sep = data.find(b"\n\n", start, end)
        head_end = end if sep < 0 else sep
        if head_end > start and data[head_end - 1] == 10:
            head_end -= 1
        headers = self._plain_headers(data[start:head_end], offset)
        body: str | None = None
        if sep >= 0:
            rest = sep + 2
            inner = headers.get("Content-Length")
            if inner is not None:
                length = self._content_length(inner, offset)
                if length > end - rest:
                    self._fail(f"event body Content-Length {length} exceeds the event", offset)
                body = self._text(data[rest : rest + length], offset + rest - start)
            elif rest < end and data[rest:end].strip(b"\n"):
                body = self._text(data[rest:end], offset + rest - start)
        return EslEvent(headers, body, "plain")

    def _plain_headers(self, head: bytes, offset: int) -> dict[str, str]:
        raw = head
        protect = False
        if b"%" in head:
            if b"=" in head or b"\x00" in head or b"%00" in head or _BAD_PERCENT.search(head):
                return self._header_lines(self._text(raw, offset), offset, plain_event=True)
            # Decode every escape in one C call: binascii.a2b_qp decodes "=XX"; the
            # checks above guarantee there is no "=" to confuse it and that every "%"
            # starts a valid escape.  Encoded newlines are parked on NUL (absent from
            # the input) so that they cannot split lines, and restored below.
            protect = b"%0A" in head or b"%0a" in head
            if protect:
                head = head.replace(b"%0A", b"\x00").replace(b"%0a", b"\x00")
            head = binascii.a2b_qp(head.replace(b"%", b"="))
        text = self._text(head, offset)
        try:
            # Build the dict in C; a line without ": " makes dict() raise ValueError.
            headers = dict(map(str.split, text.split("\n"), repeat(": "), repeat(1)))
        except ValueError:
            return self._header_lines(self._text(raw, offset), offset, plain_event=True)
        if "" in headers:
            return self._header_lines(self._text(raw, offset), offset, plain_event=True)
        if protect:
            pos = text.find("\x00")
            while pos >= 0:
                line_start = text.rfind("\n", 0, pos) + 1
                colon = text.find(": ", line_start)
                if colon > pos:  # an encoded newline inside a header name
                    return self._header_lines(self._text(raw, offset), offset, plain_event=True)
                name = text[line_start:colon]
                headers[name] = headers[name].replace("\x00", "\n")
                line_end = text.find("\n", pos)
                pos = -1 if line_end < 0 else text.find("\x00", line_end)
        return headers

    def _json_event(self, raw: memoryview, offset: int) -> EslEvent:
        try:
            obj = orjson.loads(raw)
        except JSONDecodeError:
            obj = self._json_fallback(raw, offset)
        if type(obj) is not dict:
            self._fail("JSON event body is not an object", offset)
        body = obj.pop("_body", None)
        try:
            "".join(obj.values())  # cheap check (in C) that every value is a string
        except TypeError:
            _stringify_values(obj)
        if body is not None and type(body) is not str:
            body = json.dumps(body, ensure_ascii=False)
        return EslEvent(obj, body, "json")

    def _json_fallback(self, raw: memoryview, offset: int) -> Any:
        # orjson only accepts valid UTF-8; with a lenient unicode_errors policy the
        # text is decoded first and handed to the stdlib decoder.
        text = self._text(bytes(raw), offset)
        try:
            return json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise EslProtocolError(f"invalid JSON event body: {exc}", offset) from None


def _stringify_values(obj: dict[str, Any]) -> None:
    for key, value in obj.items():
        if type(value) is str:
            continue
        if type(value) is list and all(type(v) is str for v in value):
            obj[key] = value[0] if len(value) == 1 else "ARRAY::" + "|:".join(value)
        else:
            obj[key] = json.dumps(value, ensure_ascii=False)
