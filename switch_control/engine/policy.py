"""The fixed-list route (``engine.router.RouteKind.FIXED_LIST``, the default until the
queue runtime lands) and the hygiene every call gets, whatever its route.

Pure: ``decide(before, after, event)`` returns the commands to run. The rules:
- fixed list: an inbound caller is answered, hears the welcome prompt, is put in the
  call's bridge and the configured agent extensions are rung one after another (connect
  on answer); when an agent leg fails (busy, no answer, offline) the next extension is
  rung; when none is left the caller is told so (prompt) and released;
- every route: when the customer leg ends, every other leg of the call is hung up;
- ``reject`` (the blacklist's route, IVR-9): the caller hears the refusal prompt, if any,
  and is released.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..contract import (
    AnswerCall,
    Bridge,
    CallEnded,
    CallOffered,
    Command,
    Direction,
    Event,
    Hangup,
    HangupCause,
    LegRole,
    Originate,
    PlayPrompt,
)
from ..contract.commands import EndpointKind
from .calls import CallPhase, CallState
from .router import Route, RouteKind

# calls whose ``route`` is one of these follow the fixed list ("": state written before
# routes existed, i.e. by a controller that only had the fixed list)
FIXED_LIST_KEYS = frozenset({"", RouteKind.FIXED_LIST.value})


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    welcome: tuple[str, ...] = ("sound:hello-world",)
    agents: tuple[str, ...] = ()
    ring_timeout: int = 20
    no_agent_prompt: tuple[str, ...] = ("sound:all-circuits-busy-now",)


def agent_leg_id(call_id: str, attempt: int) -> str:
    """Deterministic: a redelivered decision never dials the same agent twice."""
    return f"a{attempt}-{call_id}"


def decide(
    before: CallState | None, after: CallState | None, event: Event, cfg: PolicyConfig
) -> Sequence[Command]:
    if after is None:
        return ()
    fixed = after.route in FIXED_LIST_KEYS
    if (
        isinstance(event, CallOffered)
        and event.role is LegRole.CALLER
        and event.direction is Direction.INBOUND
    ):
        if not fixed:
            return ()  # the route's own runtime decides
        cmds: list[Command] = [AnswerCall(leg_id=event.leg_id)]
        if cfg.welcome:
            cmds.append(PlayPrompt(leg_id=event.leg_id, media=cfg.welcome))
        if cfg.agents:
            cmds.append(
                Bridge(call_id=after.call_id, leg_ids=(event.leg_id,), bridge_id=after.call_id)
            )
            cmds.append(_ring(after, event.caller_number, cfg, 0))
        return cmds
    if not isinstance(event, CallEnded) or before is None:
        return ()
    ended = before.leg(event.leg_id)
    if ended is None:
        return ()
    customer = after.customer_leg
    if after.phase is CallPhase.ENDED and before.phase is not CallPhase.ENDED:
        return tuple(
            Hangup(leg_id=x.leg_id, cause=HangupCause.NORMAL_CLEARING)
            for x in before.live_legs
            if x.leg_id != event.leg_id
        )
    if fixed and ended.role == LegRole.AGENT.value and customer is not None and not customer.ended:
        agent_legs = [x for x in after.legs if x.role == LegRole.AGENT.value]
        if any(not x.ended for x in agent_legs):
            return ()
        if ended.up:  # the agent talked and hung up: the call is over
            return (Hangup(leg_id=customer.leg_id),)
        attempt = len(agent_legs)
        if attempt < len(cfg.agents):
            return (_ring(after, after.caller, cfg, attempt),)
        return (
            PlayPrompt(leg_id=customer.leg_id, media=cfg.no_agent_prompt, wait=True),
            Hangup(leg_id=customer.leg_id, cause=HangupCause.NORMAL_CLEARING),
        )
    return ()


def reject(leg_id: str, route: Route) -> Sequence[Command]:
    """A refused caller (IVR-9): with a prompt, answered to hear it, then released with
    the route's cause; without one, released unanswered (no charge to the caller)."""
    if not route.prompt:
        return (Hangup(leg_id=leg_id, cause=route.cause),)
    return (
        AnswerCall(leg_id=leg_id),
        PlayPrompt(leg_id=leg_id, media=route.prompt, wait=True),
        Hangup(leg_id=leg_id, cause=route.cause),
    )


def _ring(state: CallState, caller: str, cfg: PolicyConfig, attempt: int) -> Originate:
    return Originate(
        call_id=state.call_id,
        leg_id=agent_leg_id(state.call_id, attempt),
        destination=cfg.agents[attempt],
        kind=EndpointKind.AGENT,
        caller_id_number=caller,
        timeout=cfg.ring_timeout,
        bridge_id=state.call_id,
    )
