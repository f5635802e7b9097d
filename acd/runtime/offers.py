"""Offering waiting calls to agents, and where a call goes when it cannot stay (ACD-1,
ACD-6): the engine decides (``dispatch``, ``decide_overflow``), the live store reserves
(``reserve_first``), the switch rings the agent into the call's bridge.

One dispatch pass per queue at a time in this controller (requests meanwhile are
coalesced into one more pass); the reservation in Redis is what keeps two controllers
from offering one agent two calls. Locks: a queue pass takes each call's lock while it
offers that call; call work never waits for a queue pass (it only requests one).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from acd.engine import (
    AgentState,
    AgentView,
    OverflowAction,
    OverflowDecision,
    OverflowTrigger,
    PickMemory,
    decide_overflow,
    dispatch,
)
from acd.live import AgentState as LiveState
from acd.live import LiveStateError, UnknownCall
from switch_control import contract as c
from switch_control.handlers import KeyedLocks
from switch_control.timers import Timers

from .config import QueueConfig
from .state import DONE, OFFERING, RING, WAITING, AgentOffer, QueuedCall

if TYPE_CHECKING:
    from .runtime import AcdRuntime

logger = logging.getLogger(__name__)

_ENGINE_STATE = {s.value: AgentState(s.value) for s in LiveState}


class Offers:
    calls: dict[str, QueuedCall]
    timers: Timers  # set by ``QueueCalls.register_timers``

    def __init__(self, rt: AcdRuntime) -> None:
        self.rt = rt
        self.locks = KeyedLocks()  # per call: the runtime's own steps for it, in order
        self.memory: dict[str, PickMemory] = {}  # round robin, per queue
        self._pending: set[str] = set()
        self._running: set[str] = set()

    # ------------------------------------------------------------------ dispatching
    def request_dispatch(self, queue_id: str) -> None:
        """Offer the queue's waiting calls to its free agents, soon (coalesced)."""
        self._pending.add(queue_id)
        if queue_id not in self._running:
            self._running.add(queue_id)
            self.rt.spawn(self._dispatch_loop(queue_id), f"dispatch of queue {queue_id}")

    async def _dispatch_loop(self, queue_id: str) -> None:
        try:
            while queue_id in self._pending:
                self._pending.discard(queue_id)
                await self._dispatch_once(queue_id)
        finally:
            self._running.discard(queue_id)

    async def _dispatch_once(self, queue_id: str) -> None:
        conf = self.rt.config.queues.get(queue_id)
        if conf is None:
            return
        waiting = [q for q in self.calls.values() if q.queue_id == queue_id and q.queued]
        waiting = [q for q in waiting if q.phase == WAITING]
        if not waiting:
            return
        agents = await self._views(conf)
        now = self.rt.now()
        memory = self.memory.get(queue_id, PickMemory())
        result = dispatch(conf.view, [q.engine_view() for q in waiting], agents, now, memory)
        self.memory[queue_id] = result.memory
        for offer in result.offers:
            await self._offer(offer.call_id, offer.agent_ids, conf)

    async def _views(self, conf: QueueConfig) -> dict[str, AgentView]:
        """The members as the engine sees them; one not signed into this queue counts as
        logged out for it (ACD-8)."""
        ids = [m.agent_id for m in conf.view.members]
        views: dict[str, AgentView] = {}
        for agent_id, snap in zip(ids, await self.rt.store.agents(ids), strict=True):
            agent = self.rt.config.agents.get(agent_id)
            if snap is None or agent is None:
                continue
            state = _ENGINE_STATE[snap.state.value]
            if conf.queue_id not in snap.queues:
                state = AgentState.LOGGED_OUT
            views[agent_id] = AgentView(
                agent_id=agent_id,
                extension=agent.extension,
                state=state,
                idle_since=snap.idle_since,
                skills=agent.skills,
                teams=agent.teams,
                calls_today=snap.calls_today,
                talk_time_today=snap.talk_today_s,
            )
        return views

    async def _offer(self, call_id: str, agent_ids: tuple[str, ...], conf: QueueConfig) -> None:
        """Reserve the first free of ``agent_ids`` and ring him (MVP: ring-all rings the
        first of its agents that could be reserved, one at a time)."""
        dispatch_again = False
        async with self.locks.hold(call_id):
            qc = self.calls.get(call_id)
            if qc is None or qc.phase != WAITING or qc.queue_id != conf.queue_id:
                return
            now = self.rt.now()
            ttl = conf.view.ring_timeout + self.rt.settings.reservation_slack_s
            t = await self.rt.store.reserve_first(agent_ids, call_id, self.rt.name, ttl, now)
            if t is None:
                return  # taken meanwhile (by another controller): the next pass sees it
            await self.rt.emit_transition(t, "system")
            agent_id = t.agent_id
            extension = await self.rt.agents.extension(agent_id)
            qc.attempts += 1
            leg_id = f"acd{qc.attempts}-{call_id}"
            qc.offer, qc.phase = AgentOffer(agent_id, leg_id), OFFERING
            due = now + conf.view.ring_timeout
            await self.timers.schedule(
                f"acd-ring-{call_id}", RING, due, {"call": call_id, "leg": leg_id}
            )
            cmds: list[c.Command] = []
            if not qc.bridged:
                cmds.append(c.Bridge(call_id=call_id, leg_ids=(qc.leg_id,), bridge_id=call_id))
                qc.bridged = True
            cmds.append(
                c.Originate(
                    call_id=call_id,
                    leg_id=leg_id,
                    destination=extension,
                    kind=c.EndpointKind.AGENT,
                    bridge_id=call_id,
                    caller_id_number=qc.caller,
                    timeout=int(conf.view.ring_timeout) + 5,  # our ring timer decides
                )
            )
            if extension and await self.rt.run(call_id, cmds):
                await self.rt.emit(
                    c.AgentOffered(
                        call_id=call_id, agent_id=agent_id, queue_id=qc.queue_id, leg_id=leg_id
                    )
                )
            else:  # no extension, offline, refused at once: a busy offer
                logger.warning("[call %s] agent %s could not be rung", call_id, agent_id)
                dispatch_again = bool(await self.offer_failed(qc, OverflowTrigger.BUSY))
        if dispatch_again:
            self._pending.add(conf.queue_id)  # the running pass loops once more

    async def offer_failed(self, qc: QueuedCall, trigger: OverflowTrigger) -> tuple[str, ...]:
        """No answer / busy (ACD-6): the agent is released with a missed offer (not ready
        after ``max_missed`` in a row) and the overflow decides. The caller holds the
        call's lock. Returns the queues to dispatch."""
        offer, qc.offer = qc.offer, None
        qc.phase = WAITING
        await self.timers.cancel(f"acd-ring-{qc.call_id}")
        if offer is None:
            return ()
        qc.tried.add(offer.agent_id)
        qc.failed += 1
        try:
            t = await self.rt.store.release(
                offer.agent_id,
                qc.call_id,
                self.rt.now(),
                missed=True,
                max_missed=self.rt.settings.max_missed,
            )
            await self.rt.emit_transition(t, "system")
        except LiveStateError as exc:
            logger.warning("[call %s] release of %s: %s", qc.call_id, offer.agent_id, exc)
        conf = self.rt.config.queues.get(qc.queue_id)
        if conf is None:
            return ()
        decision = decide_overflow(conf.view, qc.engine_view(), trigger)
        return await self.overflow(qc, decision)

    # ------------------------------------------------------------------ overflow
    async def overflow(self, qc: QueuedCall, decision: OverflowDecision) -> tuple[str, ...]:
        """Carry out an overflow decision (the call's lock is held); the queues to
        dispatch. MVP: voicemail and an external number become the overflow prompt and
        a hangup (the caller is told, never dropped silently)."""
        logger.info(
            "[call %s] overflow from %s: %s %s",
            qc.call_id,
            qc.queue_id,
            decision.action.value,
            decision.target,
        )
        if decision.action is OverflowAction.NEXT_AGENT:
            return (qc.queue_id,)
        if decision.action is OverflowAction.QUEUE and decision.target in self.rt.config.queues:
            await self._leave_line(qc)
            qc.visited.append(qc.queue_id)
            qc.queue_id, qc.tried, qc.failed, qc.phase = decision.target, set(), 0, WAITING
            await self._enqueue(qc, self.rt.now())
            return (qc.queue_id,)
        await self._leave_line(qc)
        qc.phase = DONE
        self.calls.pop(qc.call_id, None)
        try:
            await self.rt.controller.driver.stop_playback(qc.hold_id)
        except Exception as exc:
            logger.debug("[call %s] hold media not stopped: %s", qc.call_id, exc)
        media = self.rt.settings.overflow_prompt
        # (spawned: a prompt with wait=True must not hold the call's lock meanwhile)
        self.rt.spawn(
            self._tell_and_release(qc.call_id, qc.leg_id, media), f"overflow of {qc.call_id}"
        )
        return ()

    async def _enqueue(self, qc: QueuedCall, now: float) -> None:
        raise NotImplementedError  # (QueueCalls)

    async def _tell_and_release(self, call_id: str, leg_id: str, media: tuple[str, ...]) -> None:
        cmds: list[c.Command] = [c.Hangup(leg_id=leg_id)]
        if media:
            cmds.insert(0, c.PlayPrompt(leg_id=leg_id, media=media, wait=True))
        await self.rt.run(call_id, cmds)

    async def _leave_line(self, qc: QueuedCall) -> None:
        await self.timers.cancel(f"acd-mw-{qc.call_id}")
        if qc.queued:
            qc.queued = False
            try:
                await self.rt.store.dequeue(qc.call_id)
            except UnknownCall:
                pass
