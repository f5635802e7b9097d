"""The switch-neutral contract: commands, events and their versioned JSON codec.

Importable without Django settings (checked by import-linter and a test).
"""

from .base import (
    CAUSE_TO_Q850,
    Command,
    Direction,
    Event,
    HangupCause,
    LegRole,
    Message,
    cause_from_q850,
    new_id,
)
from .codec import REGISTRY, decode, decode_as, encode
from .commands import *  # noqa: F403
from .commands import (
    ACD_COMMANDS,
    COMMANDS,
    SWITCH_COMMANDS,
    AgentStateRequest,
    EndpointKind,
    TransferMode,
)
from .events import *  # noqa: F403
from .events import EVENTS

__all__ = [
    "ACD_COMMANDS",
    "CAUSE_TO_Q850",
    "COMMANDS",
    "EVENTS",
    "REGISTRY",
    "SWITCH_COMMANDS",
    "AgentStateRequest",
    "Command",
    "Direction",
    "EndpointKind",
    "Event",
    "HangupCause",
    "LegRole",
    "Message",
    "TransferMode",
    "cause_from_q850",
    "decode",
    "decode_as",
    "encode",
    "new_id",
    *(c.__name__ for c in COMMANDS),
    *(c.__name__ for c in ACD_COMMANDS),
    *(e.__name__ for e in EVENTS),
]
