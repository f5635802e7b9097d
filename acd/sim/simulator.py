"""Discrete-event simulation of one queue, driving the real ACD engine.

Poisson arrivals, handle times and caller patience from ``distributions``; a fake clock
(the event heap's time) is the only time there is. At every event the queue is
dispatched by ``acd.engine.dispatch`` (so call ordering and ``pick_agent`` with the
scenario's strategy decide who takes what), exactly as the controller's runtime will.

Statistics cover the calls arriving after the warm-up; arrivals stop after the measured
ones and the run continues until each of them was answered or abandoned, so no call is
cut off. Service level = calls answered within the target / (answered + abandoned).
"""

from __future__ import annotations

import heapq
import itertools
import random
from dataclasses import dataclass, field, replace
from enum import IntEnum

from acd.engine import (
    AgentState,
    AgentView,
    PickMemory,
    QueueMember,
    QueueView,
    Strategy,
    WaitingCall,
    dispatch,
)

from .distributions import Distribution


@dataclass(frozen=True, slots=True)
class Scenario:
    """One simulated queue: ``agents`` identical agents, calls per second
    ``arrival_rate``, handle times ``handle`` (talk; wrap-up ``wrap_up`` seconds after
    each call), ``patience`` (``None``: nobody hangs up), ``ring_time`` before an agent
    answers, ``vip_share`` of callers flagged VIP."""

    name: str
    agents: int
    arrival_rate: float
    handle: Distribution
    patience: Distribution | None = None
    wrap_up: float = 0.0
    ring_time: float = 0.0
    strategy: Strategy = Strategy.LONGEST_IDLE
    target: float = 20.0
    calls: int = 20_000
    warmup_calls: int = 1_000
    vip_share: float = 0.0
    description: str = ""

    def __post_init__(self) -> None:
        if self.agents < 1:
            raise ValueError(f"scenario {self.name}: needs at least 1 agent")
        if self.arrival_rate <= 0:
            raise ValueError(f"scenario {self.name}: arrival rate must be > 0 calls/s")
        if self.calls < 1 or self.warmup_calls < 0:
            raise ValueError(f"scenario {self.name}: needs calls >= 1 and warmup_calls >= 0")
        if self.wrap_up < 0 or self.ring_time < 0 or self.target < 0:
            raise ValueError(f"scenario {self.name}: wrap-up, ring time, target must be >= 0")
        if not 0 <= self.vip_share <= 1:
            raise ValueError(f"scenario {self.name}: VIP share must be between 0 and 1")

    @property
    def offered_erlangs(self) -> float:
        """Traffic in erlangs, counting wrap-up and ringing as handle time."""
        return self.arrival_rate * (self.handle.mean + self.wrap_up + self.ring_time)


@dataclass(frozen=True, slots=True)
class SimResult:
    scenario: str
    offered: int
    answered: int
    abandoned: int
    service_level: float
    asa: float
    abandon_rate: float
    occupancy: float
    max_wait: float
    vip_service_level: float | None = None
    picks_by_agent: dict[str, int] = field(default_factory=dict)


class _Ev(IntEnum):
    # At equal times: free agents first, so an arrival at that instant finds them.
    READY = 0
    ANSWER = 1
    HANDLED = 2
    ABANDON = 3
    ARRIVE = 4


@dataclass(slots=True)
class _Stats:
    answered: int = 0
    in_target: int = 0
    abandoned: int = 0
    wait_sum: float = 0.0
    max_wait: float = 0.0
    vip_total: int = 0
    vip_in_target: int = 0
    busy: float = 0.0


def simulate(scenario: Scenario, seed: int = 1) -> SimResult:
    """Run ``scenario`` with ``seed`` (same seed, same result) and report it."""
    s = scenario
    arrivals = random.Random(f"{seed}:arrivals")
    service = random.Random(f"{seed}:service")
    patience_rng = random.Random(f"{seed}:patience")
    engine_rng = random.Random(f"{seed}:engine")
    ids = [f"a{i:04d}" for i in range(s.agents)]
    queue = QueueView(
        queue_id="q",
        strategy=s.strategy,
        members=tuple(QueueMember(agent_id=a, position=i) for i, a in enumerate(ids)),
    )
    agents = {a: AgentView(agent_id=a, extension=a, state=AgentState.READY) for a in ids}
    memory = PickMemory()
    waiting: dict[str, WaitingCall] = {}
    measured: set[str] = set()
    picks = dict.fromkeys(ids, 0)
    st = _Stats()
    heap: list[tuple[float, _Ev, int, str]] = []
    seq = itertools.count()
    total = s.warmup_calls + s.calls
    window_start = window_end = 0.0

    def push(at: float, kind: _Ev, ref: str) -> None:
        heapq.heappush(heap, (at, kind, next(seq), ref))

    busy_from: dict[str, float] = {}
    # (start, end) of every busy stretch: clipped to the window once its end is known.
    busy: list[tuple[float, float]] = []
    arrived = 0
    push(arrivals.expovariate(s.arrival_rate), _Ev.ARRIVE, "")
    while heap:
        now, kind, _, ref = heapq.heappop(heap)
        if kind is _Ev.ARRIVE:
            call_id = f"c{arrived}"
            if arrived == s.warmup_calls:
                window_start = now
            if arrived >= s.warmup_calls:
                measured.add(call_id)
                window_end = now
            arrived += 1
            vip = s.vip_share > 0 and arrivals.random() < s.vip_share
            waiting[call_id] = WaitingCall(call_id=call_id, queue_id="q", enqueued_at=now, vip=vip)
            if s.patience is not None:
                push(now + s.patience.sample(patience_rng), _Ev.ABANDON, call_id)
            if arrived < total:
                push(now + arrivals.expovariate(s.arrival_rate), _Ev.ARRIVE, "")
        elif kind is _Ev.ABANDON:
            gone = waiting.pop(ref, None)
            if gone is not None and ref in measured:
                st.abandoned += 1
                if gone.vip:
                    st.vip_total += 1
            continue  # an abandon frees nobody
        elif kind is _Ev.ANSWER:
            agents[ref] = replace(agents[ref], state=AgentState.ON_CALL)
            continue
        elif kind is _Ev.HANDLED and s.wrap_up > 0:
            agents[ref] = replace(agents[ref], state=AgentState.WRAP_UP)
            push(now + s.wrap_up, _Ev.READY, ref)
            continue
        else:  # READY, or HANDLED without wrap-up
            a = agents[ref]
            busy.append((busy_from.pop(ref), now))
            agents[ref] = replace(a, state=AgentState.READY, idle_since=now)
        result = dispatch(queue, waiting.values(), agents, now, memory, engine_rng)
        memory = result.memory
        for offer in result.offers:
            call = waiting.pop(offer.call_id)
            agent_id = offer.agent_ids[0]  # ring-all: the first rung answers first
            picks[agent_id] += 1
            answered_at = now + s.ring_time
            talk = s.handle.sample(service)
            a = agents[agent_id]
            # Without ringing the agent is on the call at once (one state change less).
            agents[agent_id] = replace(
                a,
                state=AgentState.RINGING if s.ring_time > 0 else AgentState.ON_CALL,
                last_offer_at=now,
                calls_today=a.calls_today + 1,
                talk_time_today=a.talk_time_today + talk,
            )
            busy_from[agent_id] = now
            if s.ring_time > 0:
                push(answered_at, _Ev.ANSWER, agent_id)
            push(answered_at + talk, _Ev.HANDLED, agent_id)
            if call.call_id in measured:
                wait = answered_at - call.enqueued_at
                st.answered += 1
                st.wait_sum += wait
                st.max_wait = max(st.max_wait, wait)
                hit = wait <= s.target
                st.in_target += hit
                if call.vip:
                    st.vip_total += 1
                    st.vip_in_target += hit
    busy.extend((start, window_end) for start in busy_from.values())
    st.busy = sum(max(0.0, min(e, window_end) - max(b, window_start)) for b, e in busy)
    offered = st.answered + st.abandoned
    span = max(window_end - window_start, 1e-9)
    return SimResult(
        scenario=s.name,
        offered=offered,
        answered=st.answered,
        abandoned=st.abandoned,
        service_level=st.in_target / offered if offered else 0.0,
        asa=st.wait_sum / st.answered if st.answered else 0.0,
        abandon_rate=st.abandoned / offered if offered else 0.0,
        occupancy=st.busy / (span * s.agents),
        max_wait=st.max_wait,
        vip_service_level=st.vip_in_target / st.vip_total if st.vip_total else None,
        picks_by_agent=picks,
    )
