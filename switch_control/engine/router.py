"""Where an inbound call goes: the ``CallRouter`` port and its routes (issue 13, ACD-1,
IVR-9, SW-5).

Pure: a router looks at what the switch told about the call (``InboundCall``: access
number, caller number, trunk) and names a ``Route``; the controller carries it out. A
``RouterChain`` asks its steps in order and the first that answers decides, so a
blacklist filter (IVR-9, BL-1) goes in front of the access-number table and a schedule
(open hours) can go between them, each a small class of its own; when nobody answers, the
chain's default route applies.

Route kinds: a queue (by id; carried out by the ACD runtime once it is registered), an IVR
flow (later), today's fixed list of extensions (``engine/policy.py``: answer, welcome
prompt, ring the list; the default until the queue runtime lands) and a refusal (a
blocked caller hears a prompt, if any, and is released).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from ..contract import CallOffered, HangupCause

logger = logging.getLogger(__name__)


class RouteKind(StrEnum):
    FIXED_LIST = "fixed"
    QUEUE = "queue"
    IVR = "ivr"
    REJECT = "reject"


@dataclass(frozen=True, slots=True)
class Route:
    """What to do with an inbound call. ``target`` is the queue id or the IVR flow id."""

    kind: RouteKind
    target: str = ""
    priority: int = 0  # ACD-2: a per-number priority the queue orders calls by
    reason: str = ""  # why (a refusal's reason, for the log and the CDR)
    prompt: tuple[str, ...] = ()  # what a refused caller hears before the hangup
    cause: HangupCause = HangupCause.CALL_REJECTED

    @property
    def key(self) -> str:
        """The route as stored on the call's live state (``CallState.route``)."""
        return f"{self.kind.value}:{self.target}" if self.target else self.kind.value

    @classmethod
    def fixed_list(cls) -> Route:
        return cls(RouteKind.FIXED_LIST)

    @classmethod
    def queue(cls, queue_id: str, priority: int = 0) -> Route:
        if not queue_id:
            raise ValueError("a queue route needs a queue id")
        return cls(RouteKind.QUEUE, queue_id, priority)

    @classmethod
    def ivr(cls, flow_id: str) -> Route:
        if not flow_id:
            raise ValueError("an IVR route needs a flow id")
        return cls(RouteKind.IVR, flow_id)

    @classmethod
    def reject(
        cls,
        reason: str,
        prompt: Sequence[str] = (),
        cause: HangupCause = HangupCause.CALL_REJECTED,
    ) -> Route:
        return cls(RouteKind.REJECT, reason=reason, prompt=tuple(prompt), cause=cause)


@dataclass(frozen=True, slots=True)
class InboundCall:
    """What a router may look at (later also the schedule's clock, given by the chain)."""

    call_id: str
    leg_id: str
    caller: str  # the customer's number as the switch presented it
    access_number: str  # the number they dialled (400/800/DID, SW-5)
    channel: str = ""  # the switch's channel name: tells the trunk
    switch: str = ""
    at: float = 0.0

    @classmethod
    def from_offer(cls, event: CallOffered) -> InboundCall:
        return cls(
            call_id=event.call_id,
            leg_id=event.leg_id,
            caller=event.caller_number,
            access_number=event.callee_number,
            channel=event.channel_name,
            switch=event.switch,
            at=event.at,
        )


class CallRouter(Protocol):
    """One step of routing: a ``Route``, or None for "not mine, ask the next step"."""

    def route(self, call: InboundCall) -> Route | None: ...


def digits(number: str) -> str:
    """A number's digits only (``+86 400-812-3123`` -> ``864008123123``)."""
    return "".join(ch for ch in number if ch.isdigit())


def national(number: str, country_code: str = "86") -> str:
    """A number as the routers compare it: its digits, without the country prefix
    (``+86``/``0086``) when one is written (``+86 400-812-3123`` -> ``4008123123``)."""
    d = digits(number)
    if country_code:
        for prefix in ("00" + country_code, country_code):
            if d.startswith(prefix) and len(d) - len(prefix) >= 7:
                return d[len(prefix) :]
    return d


class RouterChain:
    """Steps asked in order; the first route wins, else ``default``. A step that raises
    is logged and skipped: one bad rule must not drop the call."""

    def __init__(self, steps: Sequence[CallRouter] = (), default: Route | None = None) -> None:
        self.steps = tuple(steps)
        self.default = default or Route.fixed_list()

    def route(self, call: InboundCall) -> Route:
        for step in self.steps:
            try:
                found = step.route(call)
            except Exception:
                logger.exception("[call %s] router %r failed; next step", call.call_id, step)
                continue
            if found is not None:
                return found
        return self.default

    def with_step_first(self, step: CallRouter) -> RouterChain:
        """The same chain with ``step`` asked before every other (a blacklist)."""
        return RouterChain((step, *self.steps), self.default)


class AccessNumberRouter:
    """Access number -> route (ACD-1 "per access number strategy and priority"). Numbers
    compare by their digits; a national prefix written or not (``+86``/``0086``) is the
    same number when ``country_code`` is given."""

    def __init__(self, routes: Mapping[str, Route], country_code: str = "86") -> None:
        self.country_code = country_code
        self._routes = {national(n, country_code): route for n, route in routes.items()}

    def route(self, call: InboundCall) -> Route | None:
        return self._routes.get(national(call.access_number, self.country_code))


class BlockedCallers:
    """Refuses callers whose number is listed (IVR-9, BL-1: the approved blacklist is
    loaded into it; the controller swaps in a new chain when the list changes)."""

    def __init__(
        self,
        numbers: Iterable[str],
        prompt: Sequence[str] = (),
        reason: str = "blacklisted",
        country_code: str = "86",
    ) -> None:
        self.country_code = country_code
        self.numbers = frozenset(x for x in (national(n, country_code) for n in numbers) if x)
        self.refusal = Route.reject(reason, prompt)

    def route(self, call: InboundCall) -> Route | None:
        number = national(call.caller, self.country_code)
        return self.refusal if number and number in self.numbers else None
