"""Calls in queues (issue 13 Part 4; ACD-1, ACD-2, ACD-5, ACD-6, ACD-7).

A call routed to a queue is answered, hears the hold media, is put in line (``acd.live``,
shared by every controller) and gets a ``CallQueued``. The engine picks an agent
(``acd.engine.dispatch``), the live store reserves him (``reserve_first``: never two calls
for one agent), his extension is rung into the call's bridge (``AgentOffered``) with a
durable ring timer. On answer the reservation is confirmed (the call leaves the line);
on no answer or busy the agent is released with a missed offer and the engine's overflow
decides (by default the next agent). The caller hanging up while waiting or while the
agent rings is a ``CallAbandoned`` with the wait; a ringing agent is released (ready
again) in the same step. When the talk ends the agent wraps up for the queue's wrap-up
time (a durable timer), then is ready again; whenever an agent becomes ready the waiting
callers are offered. At the queue's maximum wait the overflow decides: another queue, or
(MVP) the overflow prompt and a hangup; never a silent drop.

Per-call memory here (tried agents, the offer in progress) is this process's; the line
and the agents are in Redis (a restart keeps the caller's place: see the report).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from acd.engine import OverflowTrigger, QueueView, Strategy, decide_overflow
from acd.live import LiveStateError, UnknownCall
from switch_control import contract as c
from switch_control.engine.calls import CallState
from switch_control.engine.router import Route, national
from switch_control.timers import Timer, Timers

from .offers import Offers
from .state import (
    BUSY_CAUSES,
    CONNECTED,
    DONE,
    MAX_WAIT,
    OFFERING,
    RING,
    WAITING,
    WRAP_UP,
    AgentOffer,
    QueuedCall,
)

if TYPE_CHECKING:
    from .runtime import AcdRuntime

logger = logging.getLogger(__name__)


class QueueCalls(Offers):
    def __init__(self, rt: AcdRuntime) -> None:
        super().__init__(rt)
        self.rt = rt
        self.calls: dict[str, QueuedCall] = {}

    def register_timers(self, timers: Timers) -> None:
        self.timers = timers
        timers.on(RING, self._ring_timeout)
        timers.on(MAX_WAIT, self._max_wait)
        timers.on(WRAP_UP, self._wrap_up_due)

    # ------------------------------------------------------------------ entering
    async def on_route(self, state: CallState, event: c.CallOffered, route: Route) -> None:
        """The route handler of ``RouteKind.QUEUE`` (on the event path: spawn the work).
        An unknown queue raises: the routing falls back to the fixed list, logged."""
        conf = self.rt.config.queues.get(route.target)
        if conf is None:
            raise LookupError(f"queue {route.target} is not configured")
        vips = {national(n) for n in self.rt.config.vip_numbers}
        qc = QueuedCall(
            call_id=state.call_id,
            leg_id=event.leg_id,
            queue_id=conf.queue_id,
            caller=event.caller_number,
            priority=route.priority + conf.priority,  # ACD-2
            vip=national(event.caller_number) in vips,
        )
        self.calls[qc.call_id] = qc
        self.rt.spawn(self._enter(qc), f"call {qc.call_id} entering {qc.queue_id}")

    async def _enter(self, qc: QueuedCall) -> None:
        async with self.locks.hold(qc.call_id):
            if qc.phase == DONE:
                return
            hold = c.PlayPrompt(
                leg_id=qc.leg_id, media=self.rt.settings.hold_media, playback_id=qc.hold_id
            )
            # into the call's bridge first: on Asterisk a channel's playback holds up its
            # later channel operations (a bridge join would wait for the endless tone);
            # the agent's leg joins that bridge when he answers
            bridge = c.Bridge(call_id=qc.call_id, leg_ids=(qc.leg_id,), bridge_id=qc.call_id)
            if not await self.rt.run(qc.call_id, [c.AnswerCall(leg_id=qc.leg_id), bridge, hold]):
                self._forget(qc)
                return
            qc.bridged = True
            try:
                await self._enqueue(qc, self.rt.now())
            except Exception:  # (Redis away, a bad id): told and released, never left on hold
                logger.exception("[call %s] not queued in %s", qc.call_id, qc.queue_id)
                self._forget(qc)
                await self._tell_and_release(
                    qc.call_id, qc.leg_id, self.rt.settings.overflow_prompt
                )
                return
        self.request_dispatch(qc.queue_id)

    async def _enqueue(self, qc: QueuedCall, now: float) -> None:
        position = await self.rt.store.enqueue(
            qc.call_id, qc.queue_id, self.rt.name, now, vip=qc.vip, priority=qc.priority
        )
        qc.enqueued_at, qc.queued, qc.phase = now, True, WAITING
        await self.rt.emit(
            c.CallQueued(
                call_id=qc.call_id,
                queue_id=qc.queue_id,
                position=position,
                leg_id=qc.leg_id,
                priority=qc.priority,
            )
        )
        conf = self.rt.config.queues[qc.queue_id]
        if conf.view.max_wait is not None:
            due = now + conf.view.max_wait
            await self.timers.schedule(f"acd-mw-{qc.call_id}", MAX_WAIT, due, {"call": qc.call_id})

    def _forget(self, qc: QueuedCall) -> None:
        qc.phase = DONE
        self.calls.pop(qc.call_id, None)

    # ------------------------------------------------------------------ events
    def tap(self, event: c.Event) -> None:
        """The controller's event tap: only answers and hangups of calls in a queue."""
        if isinstance(event, c.CallAnswered | c.CallEnded) and event.call_id in self.calls:
            self.rt.spawn(self._on_leg_event(event), f"{event.TYPE} of {event.leg_id}")

    async def _on_leg_event(self, event: c.CallAnswered | c.CallEnded) -> None:
        dispatch: tuple[str, ...] = ()
        async with self.locks.hold(event.call_id):
            qc = self.calls.get(event.call_id)
            if qc is None or qc.phase == DONE:
                return
            offer = qc.offer
            if isinstance(event, c.CallAnswered):
                if offer is not None and event.leg_id == offer.leg_id and not offer.answered:
                    await self._answered(qc, offer)
                return
            if event.leg_id == qc.leg_id:
                dispatch = await self._caller_gone(qc)
            elif offer is not None and event.leg_id == offer.leg_id:
                if offer.answered:
                    dispatch = await self._talk_ended(qc, offer, hang_up=qc.leg_id)
                else:
                    trigger = (
                        OverflowTrigger.BUSY
                        if event.cause in BUSY_CAUSES
                        else OverflowTrigger.NO_ANSWER
                    )
                    dispatch = await self.offer_failed(qc, trigger)
        for queue_id in dispatch:
            self.request_dispatch(queue_id)

    async def _answered(self, qc: QueuedCall, offer: AgentOffer) -> None:
        now = self.rt.now()
        try:
            t, _entry = await self.rt.store.confirm(offer.agent_id, qc.call_id, now)
        except LiveStateError as exc:  # the reservation expired meanwhile: not his call
            logger.error(
                "[call %s] answer of %s not confirmed: %s", qc.call_id, offer.agent_id, exc
            )
            await self.rt.run(qc.call_id, [c.Hangup(leg_id=offer.leg_id)])
            return
        offer.answered, qc.phase, qc.queued = True, CONNECTED, False
        await self.timers.cancel(f"acd-ring-{qc.call_id}")
        await self.timers.cancel(f"acd-mw-{qc.call_id}")
        await self.rt.emit_transition(t, "system")
        try:
            await self.rt.controller.driver.stop_playback(qc.hold_id)
        except Exception as exc:  # gone already: nothing to stop
            logger.debug("[call %s] hold media not stopped: %s", qc.call_id, exc)

    async def _caller_gone(self, qc: QueuedCall) -> tuple[str, ...]:
        """The caller hung up: abandoned if not connected yet (ACD-5 abandon with its
        wait), a ringing agent released at once; else the talk is over."""
        offer = qc.offer
        if qc.phase == CONNECTED and offer is not None:
            return await self._talk_ended(qc, offer, hang_up=offer.leg_id)
        now = self.rt.now()
        position = 0
        if qc.queued:
            found = await self.rt.store.position(qc.call_id)
            position = found[0] if found else 0
            try:
                await self.rt.store.dequeue(qc.call_id)
            except UnknownCall:
                pass
        await self.timers.cancel(f"acd-mw-{qc.call_id}")
        freed: tuple[str, ...] = ()
        if offer is not None:
            await self.timers.cancel(f"acd-ring-{qc.call_id}")
            try:
                t = await self.rt.store.release(offer.agent_id, qc.call_id, now)
                await self.rt.emit_transition(t, "system")
                freed = t.agent.queues
            except LiveStateError as exc:
                logger.warning("[call %s] release of %s: %s", qc.call_id, offer.agent_id, exc)
            await self.rt.run(qc.call_id, [c.Hangup(leg_id=offer.leg_id)])
        self._forget(qc)
        if qc.enqueued_at:
            await self.rt.emit(
                c.CallAbandoned(
                    call_id=qc.call_id,
                    queue_id=qc.queue_id,
                    waited=max(0.0, now - qc.enqueued_at),
                    position=position,
                )
            )
        return freed

    async def _talk_ended(self, qc: QueuedCall, offer: AgentOffer, hang_up: str) -> tuple[str, ...]:
        """Either side hung up after the answer: the other leg is released and the agent
        wraps up for the queue's wrap-up time (ACD-7), then is ready again (timer)."""
        self._forget(qc)
        conf = self.rt.config.queues.get(qc.queue_id)
        wrap_up = conf.wrap_up_s if conf is not None else 30.0
        now = self.rt.now()
        freed: tuple[str, ...] = ()
        try:
            t = await self.rt.store.end_call(offer.agent_id, qc.call_id, now, wrap_up)
            await self.rt.emit_transition(t, "system")
            if t.agent.until is not None and t.agent.state.value == "wrap_up":
                await self.timers.schedule(f"acd-wrap-{offer.agent_id}", WRAP_UP, t.agent.until, {})
            elif t.agent.state.value == "ready":
                freed = t.agent.queues
        except LiveStateError as exc:
            logger.warning("[call %s] end of call for %s: %s", qc.call_id, offer.agent_id, exc)
        await self.rt.run(qc.call_id, [c.Hangup(leg_id=hang_up)])
        return freed

    # ------------------------------------------------------------------ timers
    async def _ring_timeout(self, timer: Timer) -> None:
        """The offered agent let it ring for the queue's ring timeout: his leg is hung up
        and its CallEnded takes the no-answer path."""
        call_id, leg_id = str(timer.data.get("call")), str(timer.data.get("leg"))
        async with self.locks.hold(call_id):
            qc = self.calls.get(call_id)
            offer = qc.offer if qc is not None else None
            if offer is None or offer.leg_id != leg_id or offer.answered:
                return
        await self.rt.run(call_id, [c.Hangup(leg_id=leg_id, cause=c.HangupCause.NO_ANSWER)])

    async def _max_wait(self, timer: Timer) -> None:
        call_id = str(timer.data.get("call"))
        dispatch: tuple[str, ...] = ()
        async with self.locks.hold(call_id):
            qc = self.calls.get(call_id)
            if qc is None or qc.phase not in (WAITING, OFFERING):
                return
            conf = self.rt.config.queues.get(qc.queue_id)
            if qc.phase == OFFERING and conf is not None:  # let the ringing offer finish
                due = self.rt.now() + conf.view.ring_timeout
                await self.timers.schedule(timer.id, MAX_WAIT, due, timer.data)
                return
            view = conf.view if conf is not None else QueueView(qc.queue_id, Strategy.LONGEST_IDLE)
            decision = decide_overflow(view, qc.engine_view(), OverflowTrigger.MAX_WAIT)
            dispatch = await self.overflow(qc, decision)
        for queue_id in dispatch:
            self.request_dispatch(queue_id)

    async def _wrap_up_due(self, timer: Timer) -> None:
        for t in await self.rt.store.end_wrap_ups(self.rt.now()):
            await self.rt.emit_transition(t, "system")
            self.rt.agents.after(t)
