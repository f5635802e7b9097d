"""FreeSWITCH Event Socket (ESL) protocol: sans-IO parser and asyncio client."""

from __future__ import annotations

from .errors import EslAuthenticationError, EslProtocolError, error_for_reply, is_error_reply
from .message import EslEvent, EslMessage
from .parser import EslParser

__all__ = [
    "EslAuthenticationError",
    "EslEvent",
    "EslMessage",
    "EslParser",
    "EslProtocolError",
    "error_for_reply",
    "is_error_reply",
]
