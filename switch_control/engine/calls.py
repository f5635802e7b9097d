"""The call state machine (SW-2): one ``CallState`` per customer call, folded from events.

States: offered -> ringing -> talking <-> held, transferring, ended. ``apply`` is pure and
returns the next state; the controller persists the result in Redis so a restart loses
nothing (SW-4).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum

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


def _with_leg(state: CallState, leg_id: str, **changes: object) -> CallState:
    legs = tuple(replace(x, **changes) if x.leg_id == leg_id else x for x in state.legs)  # type: ignore[arg-type]
    return replace(state, legs=legs)


def _phase_from_legs(state: CallState) -> CallPhase:
    live = state.live_legs
    if not live:
        return CallPhase.ENDED
    if state.phase in (CallPhase.HELD, CallPhase.TRANSFERRING):
        return state.phase
    bridges = [x.bridge_id for x in live if x.bridge_id and x.up]
    if any(bridges.count(b) >= 2 for b in bridges):
        return CallPhase.TALKING
    if any(x.up for x in live) and state.phase is CallPhase.TALKING:
        return CallPhase.TALKING
    return CallPhase.RINGING if state.phase is not CallPhase.OFFERED else state.phase


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
        if state.leg(event.leg_id) is None:
            state = replace(
                state, legs=(*state.legs, Leg(event.leg_id, event.role.value, event.callee_number))
            )
        if event.role is LegRole.CALLER or not state.caller:
            state = replace(
                state,
                caller=event.caller_number,
                callee=event.callee_number,
                direction=event.direction.value,
                started_at=min(state.started_at, event.at),
            )
        return state
    leg = state.leg(getattr(event, "leg_id", ""))
    if leg is None:
        return state
    if isinstance(event, CallRinging):
        return (
            replace(state, phase=CallPhase.RINGING) if state.phase is CallPhase.OFFERED else state
        )
    if isinstance(event, CallAnswered):
        state = _with_leg(state, leg.leg_id, up=True)
        if not state.answered_at:
            state = replace(state, answered_at=event.at)
        return replace(state, phase=_phase_from_legs(state))
    if isinstance(event, CallBridged):
        state = _with_leg(state, leg.leg_id, bridge_id=event.bridge_id)
        return replace(state, phase=_phase_from_legs(replace(state, phase=CallPhase.RINGING)))
    if isinstance(event, CallUnbridged):
        return _with_leg(state, leg.leg_id, bridge_id="")
    if isinstance(event, CallHeld):
        return replace(state, phase=CallPhase.HELD)
    if isinstance(event, CallResumed):
        return replace(state, phase=CallPhase.TALKING)
    if isinstance(event, CallEnded):
        state = _with_leg(state, leg.leg_id, ended=True, up=False, bridge_id="")
        if not state.live_legs or leg.role == LegRole.CALLER.value:
            return replace(state, phase=CallPhase.ENDED, ended_at=event.at)
        return state
    return state
