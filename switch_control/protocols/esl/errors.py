"""ESL-specific errors and the mapping of FreeSWITCH error replies to project errors."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from switch_control.errors import (
    CommandRejected,
    NoSuchCall,
    OriginateFailed,
    SwitchControlError,
    SwitchUnavailable,
)

__all__ = [
    "EslAuthenticationError",
    "EslProtocolError",
    "error_for_reply",
    "is_error_reply",
]

if TYPE_CHECKING:
    from .message import EslMessage


class EslProtocolError(SwitchControlError, ValueError):
    """FreeSWITCH (or whatever is on the other end) sent bytes that are not valid ESL.

    Raised by :class:`~switch_control.protocols.esl.parser.EslParser`; once raised
    the parser is unusable (the framing is lost) and the connection must be closed.
    ``offset`` is the stream offset (bytes fed so far) where the problem was found;
    ``messages`` holds the frames completed by the same ``feed`` call before the
    problem (they are valid and may still be dispatched).
    """

    def __init__(self, message: str, offset: int | None = None) -> None:
        super().__init__(message if offset is None else f"{message} (at stream offset {offset})")
        self.offset = offset
        self.messages: list[EslMessage] = []


class EslAuthenticationError(CommandRejected):
    """The ``auth`` command was refused (wrong password or ACL)."""


# Reply texts FreeSWITCH uses when the uuid names no channel (see the captures README).
_NO_SUCH_CALL = (
    "no such channel",
    "invalid session id",
    "invalid uuid",
    "no such uuid",
    "non-existent uuid",
    "cannot locate session",
)
_HANGUP_CAUSE = re.compile(r"-ERR ([A-Z][A-Z0-9_]+)\s*\Z")


def is_error_reply(text: str) -> bool:
    """True when a reply/api body reports a failure (``-ERR``, ``-ERROR``, ``-USAGE``)."""
    return text.startswith("-")


def error_for_reply(command: str, text: str) -> SwitchControlError | None:
    """The project exception matching a FreeSWITCH reply, or ``None`` for a success.

    ``command`` is the command that was sent (api/bgapi command line, or ESL command);
    it only decides whether an upper-case ``-ERR CAUSE`` is an originate failure.
    """
    if not is_error_reply(text):
        return None
    stripped = text.strip()
    lowered = stripped.lower()
    detail = f"{_describe(command)}: {stripped}"
    if any(marker in lowered for marker in _NO_SUCH_CALL):
        return NoSuchCall(detail)
    verb = command.split(None, 1)[0].lower() if command.strip() else ""
    if verb in ("bgapi", "api"):
        rest = command.split(None, 1)
        verb = rest[1].split(None, 1)[0].lower() if len(rest) > 1 and rest[1].strip() else ""
    if verb == "originate":
        match = _HANGUP_CAUSE.match(stripped)
        if match is not None:
            return OriginateFailed(match.group(1), _describe(command))
    return CommandRejected(detail)


def connection_error(message: str, cause: BaseException | None = None) -> SwitchUnavailable:
    """A :class:`SwitchUnavailable` describing a connection problem."""
    if cause is not None:
        return SwitchUnavailable(f"{message}: {type(cause).__name__}: {cause}")
    return SwitchUnavailable(message)


def _describe(command: str) -> str:
    first = command.strip().split("\n", 1)[0]
    if first.lower().startswith("auth "):
        return "auth <password>"
    return first if len(first) <= 200 else first[:197] + "..."
