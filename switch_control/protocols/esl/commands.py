"""Serialization of the commands sent to FreeSWITCH (the client side of the wire).

Every command is one line, optional ``Name: value`` header lines, an empty line,
and an optional body framed by ``Content-Length``.  A newline inside a command or
header would let a caller smuggle extra commands onto the socket, so it is
rejected with :class:`ValueError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = [
    "encode_command",
    "event_command",
    "sendmsg_headers",
]

_FORMATS = ("plain", "json", "xml")


def _check(text: str, what: str) -> None:
    if "\n" in text or "\r" in text:
        raise ValueError(f"{what} must not contain a line break: {text[:60]!r}")


def encode_command(
    command: str,
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    body: str | None = None,
) -> bytes:
    """Bytes of one ESL command (``command``, headers, blank line, body)."""
    _check(command, "command")
    lines = [command]
    items = headers.items() if isinstance(headers, Mapping) else (headers or ())
    for name, value in items:
        _check(name, "header name")
        _check(value, "header value")
        if not name or ":" in name:
            raise ValueError(f"invalid header name {name!r}")
        lines.append(f"{name}: {value}")
    payload = b""
    if body is not None:
        payload = body.encode("utf-8")
        lines.append(f"Content-Length: {len(payload)}")
    return ("\n".join(lines) + "\n\n").encode("utf-8") + payload


def event_command(fmt: str, events: Iterable[str]) -> str:
    """``event <fmt> <names...>`` (``ALL`` when ``events`` is empty)."""
    if fmt not in _FORMATS:
        raise ValueError(f"event format must be one of {_FORMATS}, not {fmt!r}")
    names = [e for e in events if e]
    for name in names:
        _check(name, "event name")
        if " " in name:
            raise ValueError(f"event name must not contain spaces: {name!r}")
    return f"event {fmt} {' '.join(names) if names else 'ALL'}"


def sendmsg_headers(
    call_command: str,
    *,
    app: str | None = None,
    arg: str | None = None,
    event_lock: bool = False,
    loops: int | None = None,
    event_uuid: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> list[tuple[str, str]]:
    """Headers of a ``sendmsg`` (``call-command``, ``execute-app-name``...), in wire order."""
    headers: list[tuple[str, str]] = [("call-command", call_command)]
    if app is not None:
        headers.append(("execute-app-name", app))
    if arg is not None:
        headers.append(("execute-app-arg", arg))
    if loops is not None:
        if loops < 1:
            raise ValueError("loops must be >= 1")
        headers.append(("loops", str(loops)))
    if event_lock:
        headers.append(("event-lock", "true"))
    if extra:
        headers.extend(extra.items())
    if event_uuid is not None:
        headers.append(("Event-UUID", event_uuid))
    return headers
