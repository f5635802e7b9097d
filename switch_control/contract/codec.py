"""Versioned JSON codec for contract messages.

Wire form: ``{"type": "CallOffered", "v": 1, "id": "...", ...fields}``. ``decode`` refuses
anything it cannot fully trust — not JSON, not an object, unknown type, unsupported
version, missing or extra fields, wrong field types — with a ``ContractError`` whose message
says exactly what is wrong, so a poison message can be dead-lettered with its reason.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from enum import StrEnum
from typing import Any, TypeVar

import orjson

from ..errors import ContractError
from .base import Command, Event, Message
from .commands import ACD_COMMANDS, COMMANDS
from .events import EVENTS

M = TypeVar("M", bound=Message)

REGISTRY: dict[str, type[Message]] = {cls.TYPE: cls for cls in (*COMMANDS, *ACD_COMMANDS, *EVENTS)}
MAX_MESSAGE_BYTES = 256 * 1024


def _v1_agent_state(payload: dict[str, Any]) -> dict[str, Any]:
    return payload  # v2 only added fields with defaults (by, queue_ids)


# (type, older version) -> what makes its fields the current version's. A type whose
# schema changed lists every older version it still reads; anything else is refused.
UPGRADES: dict[tuple[str, int], typing.Callable[[dict[str, Any]], dict[str, Any]]] = {
    ("AgentStateChanged", 1): _v1_agent_state,
}


def encode(message: Message) -> bytes:
    payload: dict[str, Any] = {"type": message.TYPE, "v": message.VERSION}
    for name in _schema(type(message)).order:
        payload[name] = getattr(message, name)
    return orjson.dumps(payload)


@dataclasses.dataclass(frozen=True, slots=True)
class _Schema:
    """What ``encode`` and ``decode`` need of a message class, worked out once per class."""

    order: tuple[str, ...]  # the fields, in declaration order
    names: frozenset[str]
    # (name, hint, the JSON type a valid value of a plain hint has, the enum to convert
    # it to or None, required); None as the JSON type: always the full check
    fields: tuple[tuple[str, Any, type | None, type[StrEnum] | None, bool], ...]


_SCHEMAS: dict[type[Message], _Schema] = {}


def _fast_path(hint: Any) -> tuple[type | None, type[StrEnum] | None]:
    if hint in (str, int, bool):
        return hint, None
    if hint is float:  # orjson parses no NaN or infinity: a float from it is finite
        return float, None
    if isinstance(hint, type) and issubclass(hint, StrEnum):
        return str, hint
    return None, None


def _schema(cls: type[Message]) -> _Schema:
    schema = _SCHEMAS.get(cls)
    if schema is None:
        hints = typing.get_type_hints(cls)
        fields = tuple(
            (
                f.name,
                hints[f.name],
                *_fast_path(hints[f.name]),
                f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING,
            )
            for f in dataclasses.fields(cls)
        )
        order = tuple(x[0] for x in fields)
        schema = _SCHEMAS[cls] = _Schema(order, frozenset(order), fields)
    return schema


def _check(value: Any, hint: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _check(value, arg, where)
            except ContractError as exc:
                errors.append(str(exc))
        raise ContractError("; ".join(errors) or f"{where}: unexpected null")
    if origin is tuple:
        if not isinstance(value, list):
            raise ContractError(f"{where}: expected a list, got {type(value).__name__}")
        (item,) = typing.get_args(hint)[:1]
        return tuple(_check(v, item, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise ContractError(f"{where}: expected an object, got {type(value).__name__}")
        _, vt = typing.get_args(hint)
        return {str(k): _check(v, vt, f"{where}.{k}") for k, v in value.items()}
    if isinstance(hint, type) and issubclass(hint, StrEnum):
        try:
            return hint(value)
        except ValueError:
            allowed = ", ".join(m.value for m in hint)
            raise ContractError(f"{where}: {value!r} is not one of {allowed}") from None
    if hint is bool:
        if not isinstance(value, bool):
            raise ContractError(f"{where}: expected true/false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ContractError(f"{where}: expected an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ContractError(f"{where}: expected a number, got {value!r}")
        if not math.isfinite(value):
            raise ContractError(f"{where}: number must be finite")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ContractError(f"{where}: expected a string, got {type(value).__name__}")
        return value
    raise ContractError(f"{where}: unsupported field type {hint!r}")  # pragma: no cover


def decode(data: bytes | str) -> Message:
    """Parse and validate one message; raise ``ContractError`` with the reason otherwise."""
    if isinstance(data, str):
        data = data.encode()
    if len(data) > MAX_MESSAGE_BYTES:
        raise ContractError(f"message too large ({len(data)} bytes > {MAX_MESSAGE_BYTES})")
    try:
        payload = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ContractError(f"not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise ContractError(f"expected a JSON object, got {type(payload).__name__}")
    type_name = payload.pop("type", None)
    if not isinstance(type_name, str):
        raise ContractError("missing 'type'")
    cls = REGISTRY.get(type_name)
    if cls is None:
        raise ContractError(f"unknown message type {type_name!r}")
    version = payload.pop("v", None)
    if type(version) is not int or version != cls.VERSION:
        upgrade = UPGRADES.get((type_name, version)) if type(version) is int else None
        if upgrade is None:
            raise ContractError(
                f"{type_name}: unsupported schema version {version!r} (this build speaks "
                f"v{cls.VERSION})"
            )
        payload = upgrade(payload)
    schema = _schema(cls)
    unknown = [name for name in payload if name not in schema.names]
    if unknown:
        raise ContractError(f"{type_name}: unknown field(s) {', '.join(sorted(unknown))}")
    kwargs: dict[str, Any] = {}
    for name, hint, json_type, enum, required in schema.fields:
        if name not in payload:
            if required:
                raise ContractError(f"{type_name}: missing field {name!r}")
            continue
        value = payload[name]
        if type(value) is json_type:  # the common case: no conversion, or a known enum
            if enum is None:
                kwargs[name] = value
                continue
            if value in enum._value2member_map_:
                kwargs[name] = enum._value2member_map_[value]
                continue
        kwargs[name] = _check(value, hint, f"{type_name}.{name}")
    if not kwargs.get("id", "x"):
        raise ContractError(f"{type_name}: empty id")
    return cls(**kwargs)


_TYPE_PREFIX = b'{"type":"'


def peek_name(data: bytes) -> str | None:
    """The type name a message carries, read from the start of its bytes the way
    ``encode`` writes them, known to this build or not; None if it does not start that
    way. Nothing else is decoded or checked."""
    if data.startswith(_TYPE_PREFIX):
        end = data.find(b'"', len(_TYPE_PREFIX), 100)
        if end > 0:
            return data[len(_TYPE_PREFIX) : end].decode("ascii", "replace")
    return None


def peek_type(data: bytes) -> str | None:
    """As ``peek_name``, for types this build knows only (``decode`` says what is wrong
    with the others)."""
    name = peek_name(data)
    return name if name in REGISTRY else None


def decode_as(data: bytes | str, kind: type[M]) -> M:
    """Decode and insist on a kind (``Command`` or ``Event``)."""
    msg = decode(data)
    if not isinstance(msg, kind):
        raise ContractError(f"{msg.TYPE} is not a {kind.__name__}")
    return msg


__all__ = [
    "REGISTRY",
    "Command",
    "Event",
    "decode",
    "decode_as",
    "encode",
    "peek_name",
    "peek_type",
]
