"""``dispatch``: match a queue's waiting calls with its free agents in one pass.

Calls are taken in line order (``order_calls``) and each gets ``pick_agent``; an agent
offered one call is not offered the next (he counts as reserved for the rest of the
pass). A call waiting for its owner or a region team does not hold up the calls behind
it. The runtime reserves the offered agents atomically (Redis) and drops an offer whose
reservation failed; the engine only proposes.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace

from .ordering import order_calls
from .routing import PickReason, pick_agent
from .snapshots import AgentState, AgentView, PickMemory, QueueView, WaitingCall


@dataclass(frozen=True, slots=True)
class Offer:
    call_id: str
    agent_ids: tuple[str, ...]
    reason: PickReason


@dataclass(frozen=True, slots=True)
class Dispatch:
    """Offers to make now, the queue's next memory, and the earliest time a waiting
    call's preference window ends (``None``: nothing changes with time alone)."""

    offers: tuple[Offer, ...]
    memory: PickMemory
    recheck_at: float | None


class _Overlay(Mapping[str, AgentView]):
    """The caller's agents with this pass's reservations on top, without copying."""

    def __init__(self, base: Mapping[str, AgentView]) -> None:
        self.base = base
        self.changed: dict[str, AgentView] = {}

    def __getitem__(self, key: str) -> AgentView:
        found = self.changed.get(key)
        return self.base[key] if found is None else found

    def get(self, key: str, default: AgentView | None = None) -> AgentView | None:  # type: ignore[override]
        found = self.changed.get(key)
        return self.base.get(key, default) if found is None else found

    def __iter__(self) -> Iterator[str]:
        return iter(self.base)

    def __len__(self) -> int:
        return len(self.base)


def dispatch(
    queue: QueueView,
    calls: Iterable[WaitingCall],
    agents: Mapping[str, AgentView],
    now: float,
    memory: PickMemory,
    rng: random.Random | None = None,
) -> Dispatch:
    """Offers for as many of ``calls`` (this queue's) as free agents allow."""
    view = _Overlay(agents)
    free = {
        m.agent_id
        for m in queue.members
        if (a := agents.get(m.agent_id)) is not None and a.state is AgentState.READY
    }
    offers: list[Offer] = []
    recheck: float | None = None
    for call in order_calls(calls):
        # Once no member is free only a call with a preferred non-member can still be
        # served: skip the rest without deciding each (keeps a long line cheap).
        if not free and not (call.owner_agent_id or call.last_agent_id or queue.region_rules):
            continue
        pick = pick_agent(queue, call, view, now, memory, rng)
        memory = pick.memory
        if pick.recheck_at is not None and (recheck is None or pick.recheck_at < recheck):
            recheck = pick.recheck_at
        if not pick.agent_ids:
            continue
        offers.append(Offer(call.call_id, pick.agent_ids, pick.reason))
        for agent_id in pick.agent_ids:
            view.changed[agent_id] = replace(
                view[agent_id], state=AgentState.RESERVED, last_offer_at=now
            )
            free.discard(agent_id)
    return Dispatch(tuple(offers), memory, recheck)
