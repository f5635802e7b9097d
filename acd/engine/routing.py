"""``pick_agent``: who gets a waiting call now (ACD-1, ACD-3, ACD-4).

The decision, in this order, is a pure function of the snapshots and ``now``:

1. the customer's owner agent, while ``now`` is within ``sticky.owner_window`` of the
   call's entry (ACD-3);
2. then the agent of the caller's last call, within ``sticky.last_agent_window`` of
   the entry;
3. then a matching region / named-number rule (ACD-4), within its ``window``;
4. then the queue, by its strategy.

A preferred agent (steps 1-3) who is ready gets the offer. One who is busy (reserved,
ringing, on a call, in wrap-up) will be free on his own: the call waits for him and the
result says until when (``recheck_at``), so the runtime sets a timer and asks again.
One who is not ready, logged out, unknown or already failed this call is skipped at
once. Owner, last and named agents need not be members of the queue (they know the
customer); a region team's agents must be members with the skills.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from .region import match_region_rule
from .snapshots import (
    BUSY_STATES,
    AgentState,
    AgentView,
    PickMemory,
    QueueView,
    RegionTargetKind,
    WaitingCall,
)
from .strategies import free_candidates, merged_skills, rank


class PickReason(StrEnum):
    OWNER = "owner"
    LAST_AGENT = "last_agent"
    REGION = "region"
    QUEUE = "queue"


@dataclass(frozen=True, slots=True)
class Pick:
    """The outcome of ``pick_agent``.

    ``agent_ids``: whom to offer the call to, in ringing order (several for ring-all);
    empty when nobody can take it now. ``reason``: which step decided (for an empty
    pick, the step the call is waiting in). ``recheck_at``: when the answer may change
    with time alone (a sticky or region window ends); ``None`` if only a state change
    can change it. ``memory``: the queue's round-robin memory to store."""

    agent_ids: tuple[str, ...]
    reason: PickReason
    memory: PickMemory
    recheck_at: float | None = None


def _preferred_state(agent: AgentView | None) -> AgentState | None:
    return None if agent is None else agent.state


def pick_agent(
    queue: QueueView,
    call: WaitingCall,
    agents: Mapping[str, AgentView],
    now: float,
    memory: PickMemory,
    rng: random.Random | None = None,
) -> Pick:
    """Decide who is offered ``call`` at ``now`` (see the module docstring)."""
    if call.queue_id != queue.queue_id:
        raise ValueError(f"call {call.call_id} waits in {call.queue_id}, not {queue.queue_id}")
    sticky = (
        (PickReason.OWNER, call.owner_agent_id, queue.sticky.owner_window),
        (PickReason.LAST_AGENT, call.last_agent_id, queue.sticky.last_agent_window),
    )
    for reason, agent_id, window in sticky:
        if agent_id is None or window <= 0 or agent_id in call.tried_agents:
            continue
        deadline = call.enqueued_at + window
        if now >= deadline:
            continue
        state = _preferred_state(agents.get(agent_id))
        if state is AgentState.READY:
            return Pick((agent_id,), reason, memory)
        if state in BUSY_STATES:
            return Pick((), reason, memory, recheck_at=deadline)

    wanted = merged_skills(queue.skills_wanted, call.skills_wanted)
    rule = match_region_rule(queue.region_rules, call.caller_number, call.region)
    if rule is not None:
        until = None if rule.window is None else call.enqueued_at + rule.window
        if until is None or now < until:
            if rule.target_kind is RegionTargetKind.AGENT:
                agent = agents.get(rule.target_id)
                if (
                    agent is not None
                    and agent.state is AgentState.READY
                    and rule.target_id not in call.tried_agents
                ):
                    return Pick((rule.target_id,), PickReason.REGION, memory)
                return Pick((), PickReason.REGION, memory, recheck_at=until)
            team = rule.target_id
            members = [
                m
                for m in queue.members
                if (a := agents.get(m.agent_id)) is not None and team in a.teams
            ]
            candidates = free_candidates(members, agents, wanted, call.tried_agents)
            if not candidates:
                return Pick((), PickReason.REGION, memory, recheck_at=until)
            ids, new_memory = rank(
                queue.strategy,
                candidates,
                memory,
                wanted=wanted,
                rng=rng,
                ring_all_limit=queue.ring_all_limit,
            )
            return Pick(ids, PickReason.REGION, new_memory)

    candidates = free_candidates(queue.members, agents, wanted, call.tried_agents)
    ids, new_memory = rank(
        queue.strategy,
        candidates,
        memory,
        wanted=wanted,
        rng=rng,
        ring_all_limit=queue.ring_all_limit,
    )
    return Pick(ids, PickReason.QUEUE, new_memory)
