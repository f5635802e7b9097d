"""FreeSWITCH Event Socket (ESL) protocol: sans-IO parser and asyncio inbound client.

No Django here: this package is used by the controller daemon and by tests.
"""

from __future__ import annotations

from .client import EslClient, EventHandler, LogHandler
from .commands import encode_command, event_command, sendmsg_headers
from .errors import EslAuthenticationError, EslProtocolError, error_for_reply, is_error_reply
from .jobs import BackgroundJob, Subscriptions
from .message import EslEvent, EslMessage
from .parser import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_HEADER_BYTES, EslParser

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_HEADER_BYTES",
    "BackgroundJob",
    "EslAuthenticationError",
    "EslClient",
    "EslEvent",
    "EslMessage",
    "EslParser",
    "EslProtocolError",
    "EventHandler",
    "LogHandler",
    "Subscriptions",
    "encode_command",
    "error_for_reply",
    "event_command",
    "is_error_reply",
    "sendmsg_headers",
]
