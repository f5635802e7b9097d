"""Overflow decisions (ACD-6) and the overflow-loop check the admin reuses.

When an offer fails (no answer, busy), the caller has waited the queue's max wait, or
nobody is staffed, ``decide_overflow`` says where the call goes: the next agent,
another queue, voicemail or an outside number. Without a matching rule a failed offer
moves on to the next agent and a call that cannot wait any longer goes to the queue's
voicemail: a call is never dropped silently.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .snapshots import (
    BUSY_STATES,
    AgentState,
    AgentView,
    OverflowAction,
    OverflowRule,
    OverflowTrigger,
    QueueView,
    WaitingCall,
)

_FAILED_OFFER = (OverflowTrigger.NO_ANSWER, OverflowTrigger.BUSY)


class OverflowConfigError(ValueError):
    """Overflow rules that cannot work: a loop or an unknown target queue."""


@dataclass(frozen=True, slots=True)
class OverflowDecision:
    action: OverflowAction
    target: str
    rule: OverflowRule | None  # None: the built-in default


def decide_overflow(
    queue: QueueView, call: WaitingCall, trigger: OverflowTrigger
) -> OverflowDecision:
    """What to do with ``call`` on ``trigger``.

    For no-answer/busy, the rule with the highest ``after_failures`` the call has
    reached (``call.failed_offers``) wins, so "next agent, after 3 failures a mobile"
    reads as two rules. A rule moving the call to a queue it already passed through (or
    to this one) is skipped: a call never loops. Ties go to the configured order."""
    if call.queue_id != queue.queue_id:
        raise ValueError(f"call {call.call_id} waits in {call.queue_id}, not {queue.queue_id}")
    visited = {*call.visited_queues, queue.queue_id}
    best: OverflowRule | None = None
    for rule in queue.overflow:
        if rule.trigger is not trigger:
            continue
        if trigger in _FAILED_OFFER and rule.after_failures > call.failed_offers:
            continue
        if rule.action is OverflowAction.QUEUE and rule.target in visited:
            continue
        if best is None or rule.after_failures > best.after_failures:
            best = rule
    if best is not None:
        return OverflowDecision(best.action, best.target, best)
    if trigger in _FAILED_OFFER:
        return OverflowDecision(OverflowAction.NEXT_AGENT, "", None)
    return OverflowDecision(OverflowAction.VOICEMAIL, "", None)


def max_wait_deadline(queue: QueueView, call: WaitingCall) -> float | None:
    """When the call's max-wait overflow is due (``None``: the queue has no limit)."""
    return None if queue.max_wait is None else call.enqueued_at + queue.max_wait


def staffed_agents(queue: QueueView, agents: Mapping[str, AgentView]) -> int:
    """Members who are ready or working (and so will take calls on their own).

    Not-ready and logged-out members do not count: with none staffed the queue's
    ``no_agents`` overflow applies instead of an endless wait."""
    n = 0
    for member in queue.members:
        agent = agents.get(member.agent_id)
        if agent is not None and (agent.state is AgentState.READY or agent.state in BUSY_STATES):
            n += 1
    return n


def overflow_targets(rules: Sequence[OverflowRule]) -> tuple[str, ...]:
    """The queues these rules can send a call to, in configured order, once each."""
    return tuple(dict.fromkeys(r.target for r in rules if r.action is OverflowAction.QUEUE))


def find_overflow_loop(
    rules_by_queue: Mapping[str, Sequence[OverflowRule]],
) -> tuple[str, ...] | None:
    """A cycle of queue overflows as a path (``("A", "B", "A")``), or ``None``.

    Queues are visited in sorted order, so the same configuration always reports the
    same loop. Targets that are not in ``rules_by_queue`` are treated as leaves."""
    graph = {q: overflow_targets(rules) for q, rules in rules_by_queue.items()}
    done: set[str] = set()
    for start in sorted(graph):
        if start in done:
            continue
        path: list[str] = [start]
        on_path = {start}
        stack = [iter(graph[start])]
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                stack.pop()
                done.add(path[-1])
                on_path.discard(path.pop())
                continue
            if nxt in on_path:
                return (*path[path.index(nxt) :], nxt)
            if nxt in done or nxt not in graph:
                continue
            path.append(nxt)
            on_path.add(nxt)
            stack.append(iter(graph[nxt]))
    return None


def validate_overflow(rules_by_queue: Mapping[str, Sequence[OverflowRule]]) -> None:
    """Raise ``OverflowConfigError`` naming the problem: an overflow to a queue that does
    not exist, or a loop (``overflow loop: A → B → A``)."""
    for queue_id in sorted(rules_by_queue):
        for target in overflow_targets(rules_by_queue[queue_id]):
            if target not in rules_by_queue:
                raise OverflowConfigError(
                    f"queue {queue_id} overflows to queue {target}, which does not exist"
                )
    loop = find_overflow_loop(rules_by_queue)
    if loop is not None:
        raise OverflowConfigError("overflow loop: " + " → ".join(loop))
