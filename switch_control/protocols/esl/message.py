"""Data model of what FreeSWITCH sends on an Event Socket connection.

Two levels, mirroring the wire:

* :class:`EslMessage` is one *frame*: an outer header block (``Content-Type``,
  ``Reply-Text``, ``Content-Length``...) plus an optional body.
* :class:`EslEvent` is the event carried by a ``text/event-plain`` or
  ``text/event-json`` frame: the event's own headers (url-decoded for the plain
  format) and its optional body (``BACKGROUND_JOB`` results, for example).

Both are plain Python objects with ``__slots__``; headers are ordinary ``dict``
objects, so they keep the order FreeSWITCH sent them in.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "CT_API_RESPONSE",
    "CT_AUTH_REQUEST",
    "CT_COMMAND_REPLY",
    "CT_DISCONNECT_NOTICE",
    "CT_EVENT_JSON",
    "CT_EVENT_PLAIN",
    "CT_EVENT_XML",
    "CT_LOG_DATA",
    "CT_RUDE_REJECTION",
    "EslEvent",
    "EslMessage",
]

CT_AUTH_REQUEST: Final = "auth/request"
CT_COMMAND_REPLY: Final = "command/reply"
CT_API_RESPONSE: Final = "api/response"
CT_EVENT_PLAIN: Final = "text/event-plain"
CT_EVENT_JSON: Final = "text/event-json"
CT_EVENT_XML: Final = "text/event-xml"
CT_DISCONNECT_NOTICE: Final = "text/disconnect-notice"
CT_RUDE_REJECTION: Final = "text/rude-rejection"
CT_LOG_DATA: Final = "log/data"


class EslEvent:
    """One FreeSWITCH event.

    ``headers`` holds every event header in wire order, values as text (plain
    format values are url-decoded; JSON values are taken as they are, JSON arrays
    are rendered the way the plain format renders array headers,
    ``ARRAY::a|:b``).  ``body`` is the event body (``_body`` in JSON) or ``None``.
    """

    __slots__ = ("body", "format", "headers")

    def __init__(
        self,
        headers: dict[str, str],
        body: str | None = None,
        fmt: str = "plain",
    ) -> None:
        # Kept to three stores: this runs once per event on the parser's hot path.
        self.headers = headers
        self.body = body
        self.format = fmt

    @property
    def name(self) -> str:
        """``Event-Name`` (``CHANNEL_ANSWER``, ``CUSTOM``...; ``""`` if absent)."""
        return self.headers.get("Event-Name", "")

    @property
    def subclass(self) -> str | None:
        """``Event-Subclass`` of ``CUSTOM`` events (``sofia::register``...)."""
        return self.headers.get("Event-Subclass")

    def get(self, name: str, default: str | None = None) -> str | None:
        """Header value or ``default``."""
        return self.headers.get(name, default)

    def __getitem__(self, name: str) -> str:
        return self.headers[name]

    def __contains__(self, name: object) -> bool:
        return name in self.headers

    @property
    def unique_id(self) -> str | None:
        """``Unique-ID`` of the channel the event is about (``None`` for system events)."""
        return self.headers.get("Unique-ID")

    @property
    def job_uuid(self) -> str | None:
        """``Job-UUID`` (``BACKGROUND_JOB`` events)."""
        return self.headers.get("Job-UUID")

    @property
    def full_name(self) -> str:
        """``CUSTOM/sofia::register`` style name: the subclass is appended for CUSTOM events."""
        if self.subclass and self.name == "CUSTOM":
            return f"CUSTOM/{self.subclass}"
        return self.name

    def variable(self, name: str, default: str | None = None) -> str | None:
        """Channel variable ``name`` (the ``variable_<name>`` header)."""
        return self.headers.get("variable_" + name, default)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EslEvent):
            return NotImplemented
        return self.headers == other.headers and self.body == other.body

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        uid = self.headers.get("Unique-ID")
        extra = f" uuid={uid}" if uid else ""
        return f"<EslEvent {self.full_name}{extra} headers={len(self.headers)}>"


class EslMessage:
    """One frame received from FreeSWITCH.

    ``headers`` are the outer headers (url-decoded, as libesl does), ``body``
    the frame body as text (``None`` when the frame has no ``Content-Length``).
    For event frames the body is parsed into ``event`` and ``body`` is ``None``
    (the raw text is not kept, to keep the hot path lean).
    """

    __slots__ = ("_headers", "_length", "body", "content_type", "event")

    def __init__(
        self,
        headers: dict[str, str] | None,
        body: str | None = None,
        event: EslEvent | None = None,
        *,
        content_type: str = "",
        length: bytes = b"",
    ) -> None:
        # ``headers=None``: an event frame with only Content-Length (``length``, the
        # digits) and ``content_type``; the dict is built on first use.
        self._headers = headers
        self._length = length
        self.body = body
        self.event = event
        self.content_type: str = headers.get("Content-Type", "") if headers else content_type

    @classmethod
    def event_frame(cls, event: EslEvent, content_type: str, length: bytes) -> EslMessage:
        """The frame of ``event`` (the parser's fast path: no keyword parsing, no dict)."""
        self = cls.__new__(cls)
        self._headers = None
        self._length = length
        self.body = None
        self.event = event
        self.content_type = content_type
        return self

    @property
    def headers(self) -> dict[str, str]:
        headers = self._headers
        if headers is None:
            headers = self._headers = {
                "Content-Length": self._length.decode("ascii"),
                "Content-Type": self.content_type,
            }
        return headers

    @property
    def reply_text(self) -> str | None:
        """``Reply-Text`` of a ``command/reply``."""
        return self._headers.get("Reply-Text") if self._headers else None

    @property
    def job_uuid(self) -> str | None:
        """``Job-UUID`` header of a ``bgapi`` reply."""
        return self._headers.get("Job-UUID") if self._headers else None

    @property
    def is_reply(self) -> bool:
        """True for the frames that answer a command (``command/reply``, ``api/response``)."""
        return self.content_type in (CT_COMMAND_REPLY, CT_API_RESPONSE)

    @property
    def is_event(self) -> bool:
        return self.event is not None

    @property
    def result_text(self) -> str:
        """The command's result: ``Reply-Text`` for command/reply, the body for api/response."""
        if self.content_type == CT_API_RESPONSE:
            return self.body or ""
        return self.headers.get("Reply-Text", "")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EslMessage):
            return NotImplemented
        return (
            self.headers == other.headers and self.body == other.body and self.event == other.event
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        if self.event is not None:
            return f"<EslMessage {self.content_type} {self.event!r}>"
        text = self.result_text if self.is_reply else (self.body or "")
        if len(text) > 60:
            text = text[:57] + "..."
        return f"<EslMessage {self.content_type or '?'} {text!r}>"
