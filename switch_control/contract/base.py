"""Base types of the contract: every message has a type name, an id and a schema version."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from random import getrandbits
from typing import ClassVar

_V4_CLEAR = ~(0xF000 << 64 | 0xC000 << 48)  # version and variant bits
_V4_SET = 0x4000 << 64 | 0x8000 << 48  # version 4, RFC 4122 variant


def new_id() -> str:
    """A random version-4 UUID as 32 hex digits, like ``uuid.uuid4().hex``.

    From the process's Mersenne Twister (seeded from the OS at start and again after a
    fork) rather than ``os.urandom``: ids name messages and legs, they are not secrets,
    and this is ~6x cheaper (a few ids per event, a dozen events per call)."""
    return f"{(getrandbits(128) & _V4_CLEAR) | _V4_SET:032x}"


class HangupCause(StrEnum):
    """Q.850 cause names, the vocabulary both switches map to (SW-2)."""

    NORMAL_CLEARING = "NORMAL_CLEARING"
    USER_BUSY = "USER_BUSY"
    NO_USER_RESPONSE = "NO_USER_RESPONSE"
    NO_ANSWER = "NO_ANSWER"
    SUBSCRIBER_ABSENT = "SUBSCRIBER_ABSENT"
    CALL_REJECTED = "CALL_REJECTED"
    UNALLOCATED_NUMBER = "UNALLOCATED_NUMBER"
    NO_ROUTE_DESTINATION = "NO_ROUTE_DESTINATION"
    ORIGINATOR_CANCEL = "ORIGINATOR_CANCEL"
    NORMAL_TEMPORARY_FAILURE = "NORMAL_TEMPORARY_FAILURE"
    NETWORK_OUT_OF_ORDER = "NETWORK_OUT_OF_ORDER"
    SWITCH_CONGESTION = "SWITCH_CONGESTION"
    USER_NOT_REGISTERED = "USER_NOT_REGISTERED"
    MANAGER_REQUEST = "MANAGER_REQUEST"
    LOSE_RACE = "LOSE_RACE"
    PICKED_OFF = "PICKED_OFF"
    ATTENDED_TRANSFER = "ATTENDED_TRANSFER"
    SWITCH_LOST = "SWITCH_LOST"
    UNKNOWN = "UNKNOWN"


Q850_CODES: dict[int, HangupCause] = {
    1: HangupCause.UNALLOCATED_NUMBER,
    3: HangupCause.NO_ROUTE_DESTINATION,
    16: HangupCause.NORMAL_CLEARING,
    17: HangupCause.USER_BUSY,
    18: HangupCause.NO_USER_RESPONSE,
    19: HangupCause.NO_ANSWER,
    20: HangupCause.SUBSCRIBER_ABSENT,
    21: HangupCause.CALL_REJECTED,
    26: HangupCause.PICKED_OFF,  # "non-selected user clearing": answered elsewhere
    27: HangupCause.NO_ROUTE_DESTINATION,
    38: HangupCause.NETWORK_OUT_OF_ORDER,
    41: HangupCause.NORMAL_TEMPORARY_FAILURE,
    42: HangupCause.SWITCH_CONGESTION,
    34: HangupCause.SWITCH_CONGESTION,
}
CAUSE_TO_Q850: dict[HangupCause, int] = {v: k for k, v in Q850_CODES.items()} | {
    HangupCause.NO_ROUTE_DESTINATION: 3,
    HangupCause.SWITCH_CONGESTION: 34,
    HangupCause.ORIGINATOR_CANCEL: 16,
    HangupCause.MANAGER_REQUEST: 16,
}


def cause_from_q850(code: int | None) -> HangupCause:
    if code is None:
        return HangupCause.UNKNOWN
    return Q850_CODES.get(code, HangupCause.UNKNOWN)


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"
    INTERNAL = "internal"


class LegRole(StrEnum):
    """What a leg is to its customer call."""

    CALLER = "caller"  # the customer who dialled in
    AGENT = "agent"
    EXTERNAL = "external"  # an outside number we dialled (outbound, transfer to a mobile)
    SUPERVISOR = "supervisor"
    OTHER = "other"


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """Base of commands and events.

    ``id`` is unique per message (for commands it is the ``command_id`` that makes redelivery
    harmless; for events it is the key projectors deduplicate on). ``VERSION`` is the schema
    version written on the wire as ``v``.
    """

    TYPE: ClassVar[str] = "Message"
    VERSION: ClassVar[int] = 1
    id: str = field(default_factory=new_id)


@dataclass(frozen=True, slots=True, kw_only=True)
class Command(Message):
    """An imperative request to the controller. ``id`` doubles as the command id."""

    @property
    def command_id(self) -> str:
        return self.id


@dataclass(frozen=True, slots=True, kw_only=True)
class Event(Message):
    """Something that happened, in the past tense. ``at`` is epoch seconds (UTC)."""

    at: float = field(default_factory=time.time)
