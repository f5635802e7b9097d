"""The controller process: composition root (DESIGN.md "Processes").

Owns the switch connection (a ``CallControl`` driver), the command consumers (its own
stream ``callctl:commands:<name>`` and the shared ``callctl:commands``), the command
dispatcher (handlers by command type; one call's commands in order, different calls'
concurrently: ``handlers.py``), the inbound call router (``engine/router.py``), durable
timers (``timers.py``), the event publisher to ``callctl:events``, live call state in
Redis (namespaced per controller: ``livestate.py``) and a heartbeat/status key the web's
status page reads. No Django here: ``manage.py run_controller`` builds a
``ControllerConfig`` from settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from . import contract as c
from .bus import COMMANDS_STREAM, EVENTS_STREAM, Bus, Consumer
from .bus.redis_streams import HARD_MAXLEN, trim_consumed, xadd_many
from .callcontrol import CallControl, KnownLeg
from .clock import Clock, SystemClock
from .engine.calls import CallPhase, CallState, apply, routed
from .engine.policy import PolicyConfig, decide
from .engine.router import CallRouter, Route
from .errors import SwitchUnavailable
from .executor import Executor
from .handlers import Dispatcher
from .livestate import call_prefix, command_stream, live_calls_key, load_calls, queue_leg_owners
from .routing import InboundRouting, is_inbound_caller
from .supervise import supervise
from .timers import Timers

logger = logging.getLogger(__name__)

STATUS_PREFIX = "callctl:status:"


@dataclass(frozen=True)
class ControllerConfig:
    name: str = "controller-1"
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    heartbeat_s: float = 2.0
    trim_every_s: float = 30.0  # trim the streams behind their consumers this often
    status_ttl_s: int = 10
    drain_timeout_s: float = 10.0
    # the publisher lets a burst of events gather this long before one Redis round trip
    # writes them all (and each call's latest state once)
    publish_linger_s: float = 0.025


class Controller:
    def __init__(
        self,
        config: ControllerConfig,
        driver: CallControl,
        bus: Bus,
        redis: aioredis.Redis,
        *,
        router: CallRouter | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.config = config
        self.driver = driver
        self.bus = bus
        self.redis = redis
        self.clock: Clock = clock or SystemClock()
        self.executor = Executor(driver, self.on_driver_event)
        self.calls: dict[str, CallState] = {}
        self._leg_call: dict[str, str] = {}  # leg id -> its call (ordering of commands)
        self.dispatcher = Dispatcher(self.on_driver_event, self._call_of_leg)
        self.dispatcher.register(c.SWITCH_COMMANDS, self.handle_command, owner="executor")
        # inbound calls: the router decides, a handler per route kind carries it out
        # (``routing.register(RouteKind.QUEUE, ...)`` by the ACD runtime)
        self.routing = InboundRouting(config.policy, self._run_later, router)
        self.timers = Timers(redis, config.name, self.clock)
        self._call_prefix = call_prefix(config.name)
        self._live_calls = live_calls_key(config.name)
        # its own stream (the web routes a leg's commands to its controller) and, for
        # publishers that do not route yet, the shared one
        self.consumers = [
            Consumer(
                bus,
                stream=stream,
                group="controller",
                name=config.name,
                handler=self.dispatcher.dispatch,
                kind=c.Command,
                ledger=True,
                transient=(SwitchUnavailable, RedisError),
                key=self.dispatcher.key_of,
            )
            for stream in (command_stream(config.name), COMMANDS_STREAM)
        ]
        self._outbox: asyncio.Queue[tuple[c.Event, CallState | None]] = asyncio.Queue()
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[None]] = set()
        # features composed in (the ACD runtime): event taps see every event after it is
        # folded into call state (a tap only filters and spawns: it runs on the event
        # path), services are extra supervised tasks started with the controller
        self._taps: list[Callable[[c.Event], None]] = []
        self._services: list[tuple[str, Callable[[], Awaitable[None]]]] = []
        self.started_at = time.time()
        self.events_published = 0
        self.redis_ok = True

    # ------------------------------------------------------------------ composition
    def add_event_tap(self, tap: Callable[[c.Event], None]) -> None:
        """``tap(event)`` for every event (driver's and the controller's own), after the
        call state took it. It must not block or raise: filter, then spawn the work."""
        self._taps.append(tap)

    def add_service(self, name: str, run: Callable[[], Awaitable[None]]) -> None:
        """A supervised task started with the controller (restarted if it fails)."""
        self._services.append((name, run))

    async def run_commands(self, call_id: str, cmds: Sequence[c.Command]) -> bool:
        """Run a feature's commands for ``call_id`` in order under the call's lock (the
        one bus commands take); False at the first that failed (reported as a
        ``CommandFailed``), the rest not run. ``SwitchUnavailable`` propagates."""
        async with self.dispatcher.locks.hold(call_id):
            for cmd in cmds:
                if not await self.executor.run_reporting(cmd, internal=True):
                    return False
        return True

    # ------------------------------------------------------------------ lifecycle
    def stop(self) -> None:
        logger.info("controller %s stopping (draining)", self.config.name)
        self._stop.set()
        for consumer in self.consumers:
            consumer.stop()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.stop)
        await self._load_state()
        if self._stop.is_set():
            logger.info("controller %s stopped before it could start", self.config.name)
            return
        self._tasks = [
            *(
                asyncio.create_task(
                    supervise(f"commands {k.stream}", k.run, stop=self._stop, quiet=(RedisError,)),
                    name=f"commands {k.stream}",
                )
                for k in self.consumers
            ),
            asyncio.create_task(supervise("publisher", self._publisher), name="publisher"),
            asyncio.create_task(supervise("heartbeat", self._heartbeat), name="heartbeat"),
            asyncio.create_task(
                supervise("timers", self.timers.run, quiet=(RedisError,)), name="timers"
            ),
            *(
                asyncio.create_task(supervise(name, run, quiet=(RedisError,)), name=name)
                for name, run in self._services
            ),
        ]
        await self.driver.start(self.on_driver_event)
        await self._stop.wait()
        await self._shutdown()

    async def _shutdown(self) -> None:
        commands = asyncio.gather(*self._tasks[: len(self.consumers)])
        try:
            await asyncio.wait_for(asyncio.shield(commands), self.config.drain_timeout_s)
        except TimeoutError:
            logger.warning("command in hand did not finish in time; it will be redelivered")
        for t in self._background:
            t.cancel()
        await self.driver.close()
        deadline = time.monotonic() + 5
        while not self._outbox.empty() and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(RedisError):
            await self.redis.delete(STATUS_PREFIX + self.config.name)
        logger.info("controller %s stopped", self.config.name)

    # ------------------------------------------------------------------ state
    async def _load_state(self) -> None:
        """Live calls persisted by the previous process of this controller (SW-4); live
        calls of a controller that wrote un-namespaced keys are adopted once."""
        warned = False
        while not self._stop.is_set():
            try:
                raws = await load_calls(self.redis, self.config.name)
                break
            except RedisError as exc:
                if not warned:
                    logger.warning("Redis unavailable (%s); retrying until it is back", exc)
                    warned = True
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), 1.0)
        else:
            return
        if warned:
            logger.info("Redis is back")
        if not raws:
            return
        for raw in raws:
            st = CallState.from_json(raw)
            self.calls[st.call_id] = st
            for x in st.legs:
                self._leg_call[x.leg_id] = st.call_id
        await self.driver.restore(
            [
                KnownLeg(x.leg_id, st.call_id, _role(x.role), x.up, x.bridge_id)
                for st in self.calls.values()
                for x in st.live_legs
            ]
        )
        logger.info("restored %d live calls from Redis", len(self.calls))

    # ------------------------------------------------------------------ events
    async def on_driver_event(self, event: c.Event) -> None:
        """Every event from the driver: fold into call state, publish, apply the policy."""
        call_id = getattr(event, "call_id", "")
        before = self.calls.get(call_id) if call_id else None
        after = apply(before, event) if call_id else None
        route: Route | None = None
        if after is not None:
            if isinstance(event, c.CallOffered):
                self._leg_call[event.leg_id] = call_id
                if before is None and is_inbound_caller(event):
                    route = self.routing.route(event)  # never raises
                    after = routed(after, route.key)
            if after.phase is CallPhase.ENDED:
                self.calls.pop(call_id, None)
                for x in after.legs:
                    self._leg_call.pop(x.leg_id, None)
            else:
                self.calls[call_id] = after
        await self.executor.on_event(event)
        self._outbox.put_nowait((event, after))
        for tap in self._taps:
            tap(event)
        if after is None:
            return
        if route is not None and isinstance(event, c.CallOffered):
            await self.routing.carry_out(after, event, route)
            return
        cmds = decide(before, after, event, self.config.policy)
        if cmds:
            self._run_later(call_id, cmds)

    def _run_later(self, call_id: str, cmds: Sequence[c.Command]) -> None:
        self._spawn(self._run_batch(call_id, cmds))

    def _call_of_leg(self, leg_id: str) -> str:
        return self._leg_call.get(leg_id, leg_id)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _run_batch(self, call_id: str, cmds: Sequence[c.Command]) -> None:
        async with self.dispatcher.locks.hold(call_id):  # the lock bus commands take too
            for cmd in cmds:
                try:
                    if not await self.executor.run_reporting(cmd, internal=True):
                        if isinstance(cmd, c.AnswerCall | c.Bridge):
                            break  # the rest depends on it
                except SwitchUnavailable as exc:
                    logger.warning("[call %s] %s not run: %s", call_id, cmd.TYPE, exc)
                    break

    async def _publisher(self) -> None:
        """Drain the outbox into Redis: the event stream and the live call state, in one
        pipeline per batch. On a Redis failure the batch is retried, never dropped."""
        while True:
            batch = [await self._outbox.get()]
            if self._outbox.qsize() < 50:
                # let the burst this event belongs to gather: far fewer round trips, and
                # a call's state is written once per batch (publishing cost 20 % of the
                # controller's CPU when done per event); events wait at most the linger
                await asyncio.sleep(self.config.publish_linger_s)
            while not self._outbox.empty() and len(batch) < 500:
                batch.append(self._outbox.get_nowait())
            states: dict[str, CallState] = {}
            offered: list[str] = []
            gone: list[str] = []
            for event, state in batch:
                if state is not None:
                    states[state.call_id] = state  # the last state of each call wins
                if isinstance(event, c.CallOffered):
                    offered.append(event.leg_id)
                elif isinstance(event, c.CallEnded):
                    gone.append(event.leg_id)
            prefix = self._call_prefix
            live = {
                prefix + st.call_id: st.to_json()
                for st in states.values()
                if st.phase is not CallPhase.ENDED
            }
            ended = [st.call_id for st in states.values() if st.phase is CallPhase.ENDED]
            payloads = [c.encode(event) for event, _ in batch]
            delay = 0.2
            while True:
                try:
                    async with self.redis.pipeline(transaction=False) as pipe:
                        xadd_many(pipe, EVENTS_STREAM, payloads, HARD_MAXLEN)
                        if live:
                            pipe.mset(live)
                            pipe.sadd(self._live_calls, *(k[len(prefix) :] for k in live))
                        if ended:
                            pipe.delete(*(prefix + x for x in ended))
                            pipe.srem(self._live_calls, *ended)
                        queue_leg_owners(pipe, self.config.name, offered, gone)
                        await pipe.execute()
                    if not self.redis_ok:
                        logger.info("Redis is back; publishing resumed")
                    self.redis_ok = True
                    self.events_published += len(batch)
                    break
                except RedisError as exc:
                    if self.redis_ok:
                        logger.warning("Redis unavailable (%s); holding %d events", exc, len(batch))
                    self.redis_ok = False
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)

    # ------------------------------------------------------------------ commands
    async def handle_command(self, message: c.Command, in_flight: bool) -> None:
        """A switch command from the bus (the dispatcher holds its call's lock)."""
        new_leg = getattr(message, "new_leg_id", "") or (
            message.leg_id if isinstance(message, c.Originate) else ""
        )
        if in_flight and new_leg and not await self.driver.wait_connected(5.0):
            # before the driver reconciled, a leg restored from Redis looks alive whether
            # or not the switch ever created it (its CallOffered goes out before the
            # request): ask once the switch has been compared with what we knew
            raise SwitchUnavailable("switch not connected: cannot tell if the leg was created")
        if in_flight and new_leg and await self.driver.leg_existed(new_leg):
            logger.warning(
                "%s %s was executed before the restart; not repeated", message.TYPE, message.id
            )
            return
        call_id = getattr(message, "call_id", "") or "-"
        logger.info("[call %s] command %s %s", call_id, message.TYPE, message.id)
        if isinstance(message, c.Originate):
            # a command from the bus may be redelivered after a crash: ask the switch to
            # remember creating the leg (resolves in-flight commands, see leg_existed)
            message = replace(message, variables={**message.variables, "CC_MARK": "1"})
        await self.executor.run_reporting(message)

    # ------------------------------------------------------------------ status
    async def status(self) -> dict[str, Any]:
        info = await self.driver.info()
        return {
            "name": self.config.name,
            "pid": os.getpid(),
            "switch": info.kind,
            "version": info.version,
            "connected": info.connected,
            # SW-4: "switch reachable but app not registered since <time>: <reason>"
            "app_registration": _app_registration(self.driver),
            "calls": len(self.calls),
            "legs": info.calls,
            "started_at": self.started_at,
            "heartbeat_at": time.time(),
            "commands_handled": sum(k.stats.handled for k in self.consumers),
            "commands_duplicate": sum(k.stats.duplicates for k in self.consumers),
            "dead_lettered": sum(k.stats.dead_lettered for k in self.consumers),
            "commands_in_progress": len(self.dispatcher.locks),
            "events_published": self.events_published,
            "timers_fired": self.timers.fired,
        }

    async def _heartbeat(self) -> None:
        trimmed_at = 0.0
        while True:
            try:
                await self.redis.set(
                    STATUS_PREFIX + self.config.name,
                    orjson.dumps(await self.status()),
                    ex=self.config.status_ttl_s,
                )
                if time.monotonic() - trimmed_at >= self.config.trim_every_s:
                    trimmed_at = time.monotonic()
                    for stream in (EVENTS_STREAM, *(k.stream for k in self.consumers)):
                        await trim_consumed(self.redis, stream)
            except RedisError as exc:
                logger.debug("heartbeat not written: %s", exc)
            await asyncio.sleep(self.config.heartbeat_s)


def _app_registration(driver: CallControl) -> dict[str, Any] | None:
    """Whether the driver's app is registered on the switch (Asterisk's Stasis app), or
    None for drivers without one (an optional ``app_registration()`` of the driver)."""
    probe = getattr(driver, "app_registration", None)
    if not callable(probe):
        return None
    snapshot = probe()
    return dict(snapshot) if isinstance(snapshot, dict) else None


def _role(value: str) -> c.LegRole:
    try:
        return c.LegRole(value)
    except ValueError:
        return c.LegRole.OTHER
