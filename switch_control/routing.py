"""Carrying out the router's decision for a new inbound call (issue 13 part 0.2).

The router (``engine/router.py``, pure) names a ``Route``; a *route handler* registered
by route kind carries it out: the fixed list and refusals are built in, the ACD runtime
registers ``queue`` and the IVR runtime ``ivr`` when they are composed into the daemon. A
route whose kind has no handler here (a queue named by the configuration before the queue
runtime exists) falls back to the fixed list, with an error in the log: a call is never
dropped silently.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from . import contract as c
from .engine import policy
from .engine.calls import CallState
from .engine.policy import PolicyConfig
from .engine.router import CallRouter, InboundCall, Route, RouteKind, RouterChain

logger = logging.getLogger(__name__)

RouteHandler = Callable[[CallState, c.CallOffered, Route], Awaitable[None]]
"""Carries out a route for a new inbound call (``state`` already has ``route`` set). It
runs on the event path: start work (commands, tasks), do not wait for the call."""

RunBatch = Callable[[str, Sequence[c.Command]], None]


def is_inbound_caller(event: c.CallOffered) -> bool:
    return event.role is c.LegRole.CALLER and event.direction is c.Direction.INBOUND


class InboundRouting:
    def __init__(
        self, policy_config: PolicyConfig, run_batch: RunBatch, router: CallRouter | None = None
    ) -> None:
        self.policy_config = policy_config
        self.run_batch = run_batch  # runs commands in order under the call's lock
        self.router: CallRouter = router or RouterChain()
        self.handlers: dict[RouteKind, RouteHandler] = {
            RouteKind.FIXED_LIST: self._fixed_list,
            RouteKind.REJECT: self._reject,
        }

    def register(self, kind: RouteKind, handler: RouteHandler) -> None:
        """A runtime (the ACD's queues, the IVR) takes the calls routed to ``kind``."""
        self.handlers[kind] = handler

    def route(self, event: c.CallOffered) -> Route:
        """The route of a new inbound call; one whose kind nobody carries out here
        becomes the fixed list."""
        try:
            route: Route | None = self.router.route(InboundCall.from_offer(event))
        except Exception:  # never drop a call because of one bad rule
            logger.exception("[call %s] router failed; the fixed list takes it", event.call_id)
            route = None
        route = route or Route.fixed_list()
        if route.kind not in self.handlers:
            logger.error(
                "[call %s] no runtime for route %s in this controller; ringing the fixed list",
                event.call_id,
                route.key,
            )
            route = Route.fixed_list()
        logger.debug(  # (debug: one line per call costs at 150 calls/s)
            "[call %s] from %s to %s: route %s",
            event.call_id,
            event.caller_number,
            event.callee_number,
            route.key,
        )
        return route

    async def carry_out(self, state: CallState, event: c.CallOffered, route: Route) -> None:
        try:
            await self.handlers[route.kind](state, event, route)
        except Exception:  # one runtime's bug must not leave the caller in silence
            if route.kind is RouteKind.FIXED_LIST:
                raise
            logger.exception(
                "[call %s] route %s failed; ringing the fixed list", state.call_id, route.key
            )
            await self._fixed_list(state, event, route)

    async def _fixed_list(self, state: CallState, event: c.CallOffered, route: Route) -> None:
        cmds = policy.decide(None, state, event, self.policy_config)
        if cmds:
            self.run_batch(state.call_id, cmds)

    async def _reject(self, state: CallState, event: c.CallOffered, route: Route) -> None:
        logger.warning("[call %s] refused: %s", state.call_id, route.reason)
        self.run_batch(state.call_id, policy.reject(event.leg_id, route))
