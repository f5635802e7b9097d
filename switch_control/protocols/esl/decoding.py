"""Decoding of header blocks and event bodies (helpers of :mod:`.parser`).

Every function raises :class:`~.errors.EslProtocolError` (never anything else) on
malformed input; ``errors`` is the ``unicode_errors`` policy of the parser.
"""

from __future__ import annotations

import binascii
import json
import re
from itertools import repeat
from typing import Any, Final, NoReturn
from urllib.parse import unquote

import orjson
from orjson import JSONDecodeError

from .errors import EslProtocolError
from .message import EslEvent

__all__ = [
    "content_length",
    "decode_text",
    "header_lines",
    "json_event",
    "json_fallback",
    "json_text",
    "plain_event",
    "plain_headers",
    "stringify_values",
]

# A "%" that does not start a two-hex-digit escape: such input takes the slow path.
_BAD_PERCENT: Final = re.compile(rb"%(?![0-9A-Fa-f]{2})")


def fail(message: str, offset: int | None = None) -> NoReturn:
    raise EslProtocolError(message, offset)


def decode_text(raw: bytes, errors: str, offset: int) -> str:
    try:
        return raw.decode("utf-8", errors)
    except UnicodeDecodeError as exc:
        raise EslProtocolError(f"invalid UTF-8: {exc.reason}", offset + exc.start) from None


def content_length(value: str, limit: int, offset: int) -> int:
    """A ``Content-Length`` value: ASCII digits only, at most ``limit``."""
    text = value.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        fail(f"invalid Content-Length {value!r}", offset)
    length = int(text)
    if length > limit:
        fail(f"Content-Length {length} exceeds limit {limit}", offset)
    return length


def _unquote(text: str, errors: str, offset: int) -> str:
    try:
        return unquote(text, errors=errors)
    except UnicodeDecodeError as exc:
        raise EslProtocolError(
            f"invalid UTF-8 in url-encoded header: {exc.reason}", offset
        ) from None


def header_lines(
    text: str, errors: str, offset: int, *, plain_event: bool = False
) -> dict[str, str]:
    """Line-by-line header parsing (outer headers; slow path of plain events).

    Outer headers: the value is url-decoded when it contains ``%`` (libesl does
    the same).  Plain event headers: the whole line is url-decoded, then split at
    the first ``": "`` (the same result as the fast path); empty lines are skipped.
    A line with ``:`` but no space after it is accepted (``Name:value``).
    """
    headers: dict[str, str] = {}
    for line in text.split("\n"):
        if plain_event:
            if not line:
                continue
            if "%" in line:
                line = _unquote(line, errors, offset)
        name, sep, value = line.partition(": ")
        if not sep:
            name, sep, value = line.partition(":")
            if not sep:
                fail(f"header line without colon: {line[:80]!r}", offset)
            value = value.lstrip(" ")
        if not name:
            fail(f"header line without name: {line[:80]!r}", offset)
        if not plain_event and "%" in value:
            value = _unquote(value, errors, offset)
        headers[name] = value
    return headers


def plain_event(data: bytes, start: int, end: int, errors: str, offset: int) -> EslEvent:
    """The ``text/event-plain`` event in ``data[start:end]``."""
    sep = data.find(b"\n\n", start, end)
    head_end = end if sep < 0 else sep
    if head_end > start and data[head_end - 1] == 10:
        head_end -= 1
    headers = plain_headers(data[start:head_end], errors, offset)
    body: str | None = None
    if sep >= 0:
        rest = sep + 2
        inner = headers.get("Content-Length")
        if inner is not None:
            length = content_length(inner, end - rest, offset)
            body = decode_text(data[rest : rest + length], errors, offset + rest - start)
        elif rest < end and data[rest:end].strip(b"\n"):
            body = decode_text(data[rest:end], errors, offset + rest - start)
    return EslEvent(headers, body, "plain")


def plain_headers(head: bytes, errors: str, offset: int) -> dict[str, str]:
    """``Name: url-encoded value`` lines -> dict (fast path in C, exact slow path)."""
    raw = head
    protect = False
    if b"%" in head:
        if b"=" in head or b"\x00" in head or b"%00" in head or _BAD_PERCENT.search(head):
            return header_lines(decode_text(raw, errors, offset), errors, offset, plain_event=True)
        # Decode every escape in one C call: binascii.a2b_qp decodes "=XX"; the
        # checks above guarantee there is no "=" to confuse it and that every "%"
        # starts a valid escape.  Encoded newlines are parked on NUL (absent from
        # the input) so that they cannot split lines, and restored below.
        protect = b"%0A" in head or b"%0a" in head
        if protect:
            head = head.replace(b"%0A", b"\x00").replace(b"%0a", b"\x00")
        head = binascii.a2b_qp(head.replace(b"%", b"="))
    text = decode_text(head, errors, offset)
    try:
        # Build the dict in C; a line without ": " makes dict() raise ValueError.
        headers = dict(map(str.split, text.split("\n"), repeat(": "), repeat(1)))
    except ValueError:
        return header_lines(decode_text(raw, errors, offset), errors, offset, plain_event=True)
    if "" in headers:
        return header_lines(decode_text(raw, errors, offset), errors, offset, plain_event=True)
    if protect:
        pos = text.find("\x00")
        while pos >= 0:
            line_start = text.rfind("\n", 0, pos) + 1
            colon = text.find(": ", line_start)
            if colon > pos:  # an encoded newline inside a header name
                return header_lines(
                    decode_text(raw, errors, offset), errors, offset, plain_event=True
                )
            name = text[line_start:colon]
            headers[name] = headers[name].replace("\x00", "\n")
            line_end = text.find("\n", pos)
            pos = -1 if line_end < 0 else text.find("\x00", line_end)
    return headers


def json_event(raw: memoryview, errors: str, offset: int) -> EslEvent:
    """The ``text/event-json`` event in ``raw`` (the parser inlines this on its hot path)."""
    try:
        obj = orjson.loads(raw)
    except JSONDecodeError:
        obj = json_fallback(raw, errors, offset)
    if type(obj) is not dict:
        fail("JSON event body is not an object", offset)
    body = obj.pop("_body", None)
    try:
        "".join(obj.values())  # cheap check (in C) that every value is a string
    except TypeError:
        stringify_values(obj)
    if body is not None and type(body) is not str:
        body = json_text(body)
    return EslEvent(obj, body, "json")


def json_text(value: Any) -> str:
    """A non-string JSON value as text (how a ``_body`` or header that is not a string
    becomes one)."""
    return json.dumps(value, ensure_ascii=False)


def json_fallback(raw: memoryview, errors: str, offset: int) -> Any:
    """orjson only accepts valid UTF-8: decode with the policy, then use the stdlib decoder."""
    text = decode_text(bytes(raw), errors, offset)
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise EslProtocolError(f"invalid JSON event body: {exc}", offset) from None


def stringify_values(obj: dict[str, Any]) -> None:
    """Make every value a str: arrays as the plain format renders them, others as JSON."""
    for key, value in obj.items():
        if type(value) is str:
            continue
        if type(value) is list and all(type(v) is str for v in value):
            obj[key] = value[0] if len(value) == 1 else "ARRAY::" + "|:".join(value)
        else:
            obj[key] = json_text(value)
