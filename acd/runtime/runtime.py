"""``AcdRuntime``: the ACD composed into one controller (issue 13 Parts 3 and 4).

It owns the configuration (loaded from ``acd:config`` at start and on every notice on
``acd:config:changes``, no restart), the live store (``acd.live``), the agent command
handlers (``agents.py``) and the queue calls (``calls.py``), and wires them into the
controller: command types into the dispatcher, the ``queue`` route kind into the inbound
routing, timer kinds into the durable timers, an event tap, and the config watcher as a
supervised service. The daemon stays ignorant of the ACD (``switch_control.daemon`` may
not import ``acd``): ``attach`` is called by the composition in ``wiring.py``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from acd.live import AgentState, LiveStore, Transition
from switch_control import contract as c
from switch_control.clock import Clock
from switch_control.daemon import Controller
from switch_control.engine.router import CallRouter, RouteKind, RouterChain

from .agents import AgentCommands
from .calls import QueueCalls
from .config import CHANGES_STREAM, AcdConfig, load_config

logger = logging.getLogger(__name__)

# the live store's "reserved" is what the agent's phone does meanwhile: it rings
_PUBLIC_STATE = {AgentState.RESERVED: "ringing"}


@dataclass(frozen=True, slots=True)
class RuntimeSettings:
    """What the configuration snapshot does not carry (yet)."""

    # what a waiting caller hears (a tone plays until stopped on both drivers; the
    # queue's music-on-hold class needs a driver MOH call, see the report of issue 13)
    hold_media: tuple[str, ...] = ("tone:ring",)
    # the final overflow of the MVP (voicemail / external number): told, then released
    overflow_prompt: tuple[str, ...] = ("sound:all-circuits-busy-now",)
    max_missed: int = 3  # ACD-7: offers missed in a row before the agent goes not ready
    reservation_slack_s: float = 30.0  # reservation TTL = ring timeout + this
    config_block_ms: int = 1000  # how long one read of the change stream waits
    expire_every_s: float = 5.0  # how often expired reservations are looked for


def public_state(state: AgentState) -> str:
    return _PUBLIC_STATE.get(state, state.value)


def state_changed(t: Transition, by: str) -> c.AgentStateChanged:
    """The AgentStateChanged of one store transition (ACD-7)."""
    return c.AgentStateChanged(
        agent_id=t.agent_id,
        state=public_state(t.agent.state),
        reason=t.agent.reason,
        previous=public_state(t.previous_state),
        by=by,
        queue_ids=t.agent.queues or t.previous_queues,
    )


class AcdRuntime:
    def __init__(
        self,
        controller: Controller,
        store: LiveStore | None = None,
        *,
        settings: RuntimeSettings | None = None,
        config: AcdConfig | None = None,
    ) -> None:
        self.controller = controller
        self.redis: aioredis.Redis = controller.redis
        self.store = store or LiveStore(controller.redis)
        self.settings = settings or RuntimeSettings()
        self.config = config or AcdConfig()
        self.name = controller.config.name
        self.clock: Clock = controller.clock
        self._base_router: CallRouter = controller.routing.router
        self._tasks: set[asyncio.Task[None]] = set()
        self.agents = AgentCommands(self)
        self.calls = QueueCalls(self)
        if config is not None:
            self._use(config)

    # ------------------------------------------------------------------ wiring
    def attach(self) -> AcdRuntime:
        c_ = self.controller
        c_.dispatcher.register(c.ACD_COMMANDS, self.agents.handle, owner="acd")
        c_.routing.register(RouteKind.QUEUE, self.calls.on_route)
        self.calls.register_timers(c_.timers)
        c_.add_event_tap(self.calls.tap)
        c_.add_service("acd config", self.watch_config)
        return self

    # ------------------------------------------------------------------ configuration
    def _use(self, config: AcdConfig) -> None:
        self.config = config
        # access numbers routed to a queue first; every other call as before
        self.controller.routing.router = RouterChain((config.router(), self._base_router))

    async def reload(self) -> bool:
        """Load the published configuration; True if it was a new version."""
        try:
            config = await load_config(self.redis)
        except ValueError as exc:  # (orjson's decode error is one)
            logger.error("ACD configuration not loaded: %s", exc)
            return False
        if config is None or config.version == self.config.version:
            return False
        self._use(config)
        logger.info(
            "ACD configuration version %d: %d queues, %d agents, %d access numbers",
            config.version,
            len(config.queues),
            len(config.agents),
            len(config.routes),
        )
        for queue_id in config.queues:  # new members or rules may serve who waits
            self.calls.request_dispatch(queue_id)
        return True

    async def watch_config(self) -> None:
        """At start and on every change notice (a supervised service, for ever); between
        notices, reservations whose TTL passed are released (a lost offer never keeps
        an agent reserved)."""
        await self.store.load_scripts()
        await self.recover()
        last = await self.redis.xrevrange(CHANGES_STREAM, count=1)
        last_id: Any = last[0][0] if last else b"0-0"
        await self.reload()
        expired_at = self.now()
        while True:
            reply: Any = await self.redis.xread(
                {CHANGES_STREAM: last_id}, count=100, block=self.settings.config_block_ms
            )
            if reply:
                last_id = reply[0][1][-1][0]
                await self.reload()
            if self.now() - expired_at >= self.settings.expire_every_s:
                expired_at = self.now()
                await self.expire()

    async def recover(self) -> None:
        """At start: reservations this controller's previous process held are released
        (its offers died with it). Its waiting callers keep their entries (see the
        package report: re-adopting them is not done yet)."""
        recovery = await self.store.recover_controller(self.name, self.now())
        for t in recovery.released:
            await self.emit_transition(t, "system")
            self.agents.after(t)
        if recovery.released or recovery.kept:
            logger.warning(
                "ACD recovery of %s: %d reservations released, %d waiting calls kept",
                self.name,
                len(recovery.released),
                len(recovery.kept),
            )

    async def expire(self) -> None:
        for t in await self.store.expire_reservations(self.now()):
            logger.warning("reservation of agent %s expired", t.agent_id)
            await self.emit_transition(t, "system")
            self.agents.after(t)

    # ------------------------------------------------------------------ plumbing
    async def emit(self, event: c.Event) -> None:
        await self.controller.on_driver_event(event)

    async def emit_transition(self, t: Transition, by: str) -> None:
        if t.changed:
            await self.emit(state_changed(t, by))

    async def fail(self, cmd: c.Command, error: str, reason: str) -> None:
        logger.warning("%s %s refused: %s", cmd.TYPE, cmd.id, reason)
        await self.emit(
            c.CommandFailed(command_id=cmd.id, command_type=cmd.TYPE, error=error, reason=reason)
        )

    async def run(self, call_id: str, cmds: Sequence[c.Command]) -> bool:
        return await self.controller.run_commands(call_id, cmds)

    def now(self) -> float:
        return self.clock.now()

    def spawn(self, coro: Coroutine[Any, Any, None], what: str) -> None:
        task = asyncio.create_task(self._guard(coro, what))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guard(self, coro: Coroutine[Any, Any, None], what: str) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception:  # one bad event must not stop the others, nor the controller
            logger.exception("ACD: %s failed", what)

    async def idle(self) -> None:
        """Until no work of the runtime is in progress (tests wait on this, never sleep)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
