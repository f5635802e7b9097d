"""The call state machine (SW-2): one ``CallState`` per customer call, folded from events.

States: offered -> ringing -> talking <-> held, transferring, ended. ``apply`` is pure and
returns the next state; the controller persists the result in Redis so a restart loses
nothing (SW-4).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

import orjson

from ..contract import (
    CallAnswered,
    CallBridged,
    CallEnded,
    CallHeld,
    CallOffered,
    CallResumed,
    CallRinging,
    CallUnbridged,
    Event,
    LegRole,
)


class CallPhase(StrEnum):
    OFFERED = "offered"
    RINGING = "ringing"
    TALKING = "talking"
    HELD = "held"
    TRANSFERRING = "transferring"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class Leg:
    leg_id: str
    role: str
    number: str = ""
    up: bool = False
    bridge_id: str = ""
    ended: bool = False


@dataclass(frozen=True, slots=True)
class CallState:
    call_id: str
    phase: CallPhase = CallPhase.OFFERED
    caller: str = ""
    callee: str = ""
    direction: str = ""
    started_at: float = 0.0
    answered_at: float = 0.0
    ended_at: float = 0.0
    legs: tuple[Leg, ...] = field(default_factory=tuple)
    # the route an inbound call took (``engine.router.Route.key``: "fixed", "queue:<id>"…);
    # "" for other calls and for state written before routes existed
    route: str = ""

    def leg(self, leg_id: str) -> Leg | None:
        return next((x for x in self.legs if x.leg_id == leg_id), None)

    @property
    def live_legs(self) -> tuple[Leg, ...]:
        return tuple(x for x in self.legs if not x.ended)

    @property
    def customer_leg(self) -> Leg | None:
        return next((x for x in self.legs if x.role == LegRole.CALLER.value), None)

    def to_json(self) -> bytes:
        return orjson.dumps(self)

    @classmethod
    def from_json(cls, data: bytes) -> CallState:
        d = orjson.loads(data)
        d["phase"] = CallPhase(d["phase"])
        d["legs"] = tuple(Leg(**x) for x in d["legs"])
        return cls(**d)


def routed(state: CallState, route_key: str) -> CallState:
    """The state with the route its call took."""
    return _evolve(state, route=route_key)


T = TypeVar("T", CallState, Leg)


def _evolve(obj: T, **changes: Any) -> T:
    """``dataclasses.replace`` for these frozen, slotted records, ~4x cheaper (no
    ``__init__`` to run: every field is copied or changed; there is no ``__post_init__``).
    The state is folded several times per event, a dozen events per call."""
    new = object.__new__(type(obj))
    for name in obj.__slots__:
        object.__setattr__(new, name, changes[name] if name in changes else getattr(obj, name))
    return new


def _legs_with(state: CallState, leg_id: str, **changes: Any) -> tuple[Leg, ...]:
    return tuple(_evolve(x, **changes) if x.leg_id == leg_id else x for x in state.legs)


def _phase_from_legs(legs: tuple[Leg, ...], phase: CallPhase) -> CallPhase:
    live = [x for x in legs if not x.ended]
    if not live:
        return CallPhase.ENDED
    if phase in (CallPhase.HELD, CallPhase.TRANSFERRING):
        return phase
    bridges = [x.bridge_id for x in live if x.bridge_id and x.up]
    if any(bridges.count(b) >= 2 for b in bridges):
        return CallPhase.TALKING
    if any(x.up for x in live) and phase is CallPhase.TALKING:
        return CallPhase.TALKING
    return CallPhase.RINGING if phase is not CallPhase.OFFERED else phase


def apply(state: CallState | None, event: Event) -> CallState | None:
    """Fold one event into the call's state; None for events that are not about a call."""
    call_id = getattr(event, "call_id", "")
    if not call_id:
        return state
    if state is None:
        if not isinstance(event, CallOffered):
            return None  # a late event of a call that is over (or never was ours)
        state = CallState(call_id=call_id, started_at=event.at)
    if state.phase is CallPhase.ENDED:
        return state
    if isinstance(event, CallOffered):
        changes: dict[str, Any] = {}
        if state.leg(event.leg_id) is None:
            changes["legs"] = (
                *state.legs,
                Leg(event.leg_id, event.role.value, event.callee_number),
            )
        if event.role is LegRole.CALLER or not state.caller:
            changes.update(
                caller=event.caller_number,
                callee=event.callee_number,
                direction=event.direction.value,
                started_at=min(state.started_at, event.at),
            )
        return _evolve(state, **changes) if changes else state
    leg = state.leg(getattr(event, "leg_id", ""))
    if leg is None:
        return state
    if isinstance(event, CallRinging):
        return (
            _evolve(state, phase=CallPhase.RINGING) if state.phase is CallPhase.OFFERED else state
        )
    if isinstance(event, CallAnswered):
        legs = _legs_with(state, leg.leg_id, up=True)
        return _evolve(
            state,
            legs=legs,
            answered_at=state.answered_at or event.at,
            phase=_phase_from_legs(legs, state.phase),
        )
    if isinstance(event, CallBridged):
        legs = _legs_with(state, leg.leg_id, bridge_id=event.bridge_id)
        return _evolve(state, legs=legs, phase=_phase_from_legs(legs, CallPhase.RINGING))
    if isinstance(event, CallUnbridged):
        return _evolve(state, legs=_legs_with(state, leg.leg_id, bridge_id=""))
    if isinstance(event, CallHeld):
        return _evolve(state, phase=CallPhase.HELD)
    if isinstance(event, CallResumed):
        return _evolve(state, phase=CallPhase.TALKING)
    if isinstance(event, CallEnded):
        legs = _legs_with(state, leg.leg_id, ended=True, up=False, bridge_id="")
        if leg.role == LegRole.CALLER.value or all(x.ended for x in legs):
            return _evolve(state, legs=legs, phase=CallPhase.ENDED, ended_at=event.at)
        return _evolve(state, legs=legs)
    return state
