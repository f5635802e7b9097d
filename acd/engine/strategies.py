"""Distribution strategies (ACD-1): which of the free members gets the call.

Every strategy works on the members of the lowest tier that has a free one (see
``QueueMember.tier``) and breaks ties the same documented way, so two controllers
deciding over the same snapshot pick the same agent:

- longest idle: earliest ``idle_since``; ties -> lower ``position``, then agent id;
- fewest calls / least talk time / skill-weighted: the best score (fewest
  ``calls_today``, least ``talk_time_today``, highest sum of the agent's levels in the
  wanted skills); ties -> longest idle, then position, then agent id;
- linear (top-down): lowest (position, agent id), every time;
- round robin: the first member after the remembered one in (position, agent id)
  order, wrapping around; the memory returned names the one picked;
- random: a choice by the RNG passed in, over the members in (position, agent id)
  order, so a seed alone decides;
- ring all: every free member in (position, agent id) order, up to ``ring_all_limit``.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

from .snapshots import AgentState, AgentView, PickMemory, QueueMember, Strategy

Candidate = tuple[QueueMember, AgentView]


def has_skills(agent: AgentView, wanted: Mapping[str, int]) -> bool:
    """Whether the agent has every wanted skill at the minimum level or above."""
    skills = agent.skills
    return all(skills.get(name, -1) >= level for name, level in wanted.items())


def merged_skills(a: Mapping[str, int], b: Mapping[str, int]) -> Mapping[str, int]:
    """The queue's and the call's wanted skills together (the higher minimum wins)."""
    if not b:
        return a
    if not a:
        return b
    out = dict(a)
    for name, level in b.items():
        out[name] = max(level, out.get(name, level))
    return out


def free_candidates(
    members: Sequence[QueueMember],
    agents: Mapping[str, AgentView],
    wanted: Mapping[str, int],
    excluded: frozenset[str],
) -> list[Candidate]:
    """Members who are ready, have the skills and were not tried for this call, all of
    the lowest tier that has any."""
    best_tier: int | None = None
    out: list[Candidate] = []
    for member in members:
        if best_tier is not None and member.tier > best_tier:
            continue
        agent = agents.get(member.agent_id)
        if agent is None or agent.state is not AgentState.READY:
            continue
        if member.agent_id in excluded or (wanted and not has_skills(agent, wanted)):
            continue
        if best_tier is None or member.tier < best_tier:
            best_tier = member.tier
            out = []
        out.append((member, agent))
    return out


def _order_key(c: Candidate) -> tuple[int, str]:
    return (c[0].position, c[0].agent_id)


def _idle_key(c: Candidate) -> tuple[float, int, str]:
    return (c[1].idle_since, c[0].position, c[0].agent_id)


def rank(
    strategy: Strategy,
    candidates: Sequence[Candidate],
    memory: PickMemory,
    *,
    wanted: Mapping[str, int],
    rng: random.Random | None,
    ring_all_limit: int | None,
) -> tuple[tuple[str, ...], PickMemory]:
    """The agent(s) to offer among ``candidates`` and the queue's next memory."""
    if not candidates:
        return (), memory
    chosen: Candidate
    if strategy is Strategy.RING_ALL:
        ordered = sorted(candidates, key=_order_key)
        if ring_all_limit is not None:
            ordered = ordered[:ring_all_limit]
        return tuple(m.agent_id for m, _ in ordered), memory
    if strategy is Strategy.LONGEST_IDLE:
        chosen = min(candidates, key=_idle_key)
    elif strategy is Strategy.LINEAR:
        chosen = min(candidates, key=_order_key)
    elif strategy is Strategy.FEWEST_CALLS:
        chosen = min(candidates, key=lambda c: (c[1].calls_today, *_idle_key(c)))
    elif strategy is Strategy.LEAST_TALK_TIME:
        chosen = min(candidates, key=lambda c: (c[1].talk_time_today, *_idle_key(c)))
    elif strategy is Strategy.SKILL_WEIGHTED:

        def score(c: Candidate) -> tuple[int, float, int, str]:
            levels = c[1].skills
            return (-sum(levels.get(s, 0) for s in wanted), *_idle_key(c))

        chosen = min(candidates, key=score)
    elif strategy is Strategy.ROUND_ROBIN:
        last = memory.last
        after = [c for c in candidates if last is None or _order_key(c) > last]
        chosen = min(after or candidates, key=_order_key)
        return (chosen[0].agent_id,), PickMemory(last=_order_key(chosen))
    elif strategy is Strategy.RANDOM:
        if rng is None:
            raise ValueError("the random strategy needs an rng (random.Random) passed in")
        chosen = rng.choice(sorted(candidates, key=_order_key))
    else:  # pragma: no cover - exhaustive over Strategy
        raise ValueError(f"unknown strategy {strategy!r}")
    return (chosen[0].agent_id,), memory
