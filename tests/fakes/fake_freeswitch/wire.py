"""Byte-level output of the fake FreeSWITCH: frames exactly as mod_event_socket writes them.

Reference: the real captures in ``shared/freeswitch-captures`` (see their README).
"""

from __future__ import annotations

from collections.abc import Iterable

import orjson

# Headers are (name, value) pairs; a value may be a list (an array header, e.g.
# ``variable_DP_MATCH``): JSON renders it as an array, plain as ``ARRAY::a|:b``.
HeaderValue = str | list[str]
Headers = list[tuple[str, HeaderValue]]

# Characters FreeSWITCH's url encoder escapes (plus control and non-ASCII bytes).
_UNSAFE = frozenset(b'\r\n "#%&+:;<=>?@[\\]^`{|}')
_SAFE_TABLE = [not (b < 0x20 or b > 0x7E or b in _UNSAFE) for b in range(256)]

DISCONNECT_BODY = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"


def url_encode(value: str) -> str:
    raw = value.encode("utf-8", "surrogateescape")
    if all(_SAFE_TABLE[b] for b in raw):
        return value
    return "".join(chr(b) if _SAFE_TABLE[b] else f"%{b:02X}" for b in raw)


def plain_value(value: HeaderValue) -> str:
    if isinstance(value, list):
        return "ARRAY::" + "|:".join(value)
    return value


def event_plain(headers: Headers, body: str | None = None) -> bytes:
    """A ``text/event-plain`` frame (outer headers + url-encoded event)."""
    lines = "".join(f"{name}: {url_encode(plain_value(value))}\n" for name, value in headers)
    payload = lines.encode("utf-8", "surrogateescape") + b"\n"
    if body is not None:
        payload += body.encode("utf-8", "surrogateescape")
    return b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(payload) + payload


def event_json(headers: Headers, body: str | None = None) -> bytes:
    """A ``text/event-json`` frame (no newline after the JSON object, like FreeSWITCH).

    Written pair by pair: FreeSWITCH events can repeat a header name, and so does
    its JSON object.
    """
    dumps = orjson.dumps
    items = [dumps(name) + b":" + dumps(value) for name, value in headers]
    if body is not None:
        items.append(b'"_body":' + dumps(body))
    payload = b"{" + b",".join(items) + b"}"
    return b"Content-Length: %d\nContent-Type: text/event-json\n\n" % len(payload) + payload


def serialize_event(fmt: str, headers: Headers, body: str | None = None) -> bytes:
    if fmt == "json":
        return event_json(headers, body)
    return event_plain(headers, body)


def command_reply(text: str, extra: Iterable[tuple[str, str]] = ()) -> bytes:
    """``command/reply`` with ``Reply-Text`` (plus e.g. ``Job-UUID`` for bgapi)."""
    head = f"Content-Type: command/reply\nReply-Text: {text}\n"
    head += "".join(f"{name}: {value}\n" for name, value in extra)
    return (head + "\n").encode("utf-8")


def api_response(body: str) -> bytes:
    payload = body.encode("utf-8", "surrogateescape")
    return b"Content-Type: api/response\nContent-Length: %d\n\n" % len(payload) + payload


def auth_request() -> bytes:
    return b"Content-Type: auth/request\n\n"


def disconnect_notice(
    body: str = DISCONNECT_BODY,
    *,
    session: tuple[str, str] | None = None,
    linger: int | None = None,
) -> bytes:
    """``text/disconnect-notice``.

    Inbound ``exit``: the goodbye body only.  Outbound sockets (``session`` =
    (uuid, channel name)): ``Controlled-Session-UUID`` and ``Content-Disposition``;
    with ``linger`` the lingering variant with ``Content-Length: 0``.
    """
    head = "Content-Type: text/disconnect-notice\n"
    if session is not None and linger is not None:
        head += (
            f"Controlled-Session-UUID: {session[0]}\nContent-Disposition: linger\n"
            f"Channel-Name: {session[1]}\nLinger-Time: {linger}\nContent-Length: 0\n\n"
        )
        return head.encode("utf-8")
    payload = body.encode("utf-8")
    if session is not None:
        head += f"Controlled-Session-UUID: {session[0]}\nContent-Disposition: disconnect\n"
    head += f"Content-Length: {len(payload)}\n\n"
    return head.encode("utf-8") + payload


def log_data(headers: list[tuple[str, str]], line: str) -> bytes:
    payload = line.encode("utf-8", "surrogateescape")
    head = "".join(f"{name}: {value}\n" for name, value in headers)
    return (
        b"Content-Type: log/data\nContent-Length: %d\n" % len(payload)
        + head.encode("utf-8")
        + b"\n"
        + payload
    )


def outbound_connect_reply(headers: Headers) -> bytes:
    """The reply to ``connect`` on an outbound socket: one url-encoded header block."""
    lines = "".join(f"{name}: {url_encode(plain_value(value))}\n" for name, value in headers)
    return (lines + "\n").encode("utf-8", "surrogateescape")
