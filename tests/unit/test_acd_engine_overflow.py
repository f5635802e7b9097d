"""ACD-6 overflow decisions, the loop check the admin reuses, and the no-agents and
max-wait conditions."""

from __future__ import annotations

import pytest

from acd.engine import (
    AgentState,
    AgentView,
    OverflowAction,
    OverflowConfigError,
    OverflowRule,
    OverflowTrigger,
    QueueMember,
    QueueView,
    Strategy,
    WaitingCall,
    decide_overflow,
    find_overflow_loop,
    max_wait_deadline,
    staffed_agents,
    validate_overflow,
)

NA, BUSY, MAXW, NOAG = (
    OverflowTrigger.NO_ANSWER,
    OverflowTrigger.BUSY,
    OverflowTrigger.MAX_WAIT,
    OverflowTrigger.NO_AGENTS,
)
A = OverflowAction


def q(qid: str = "sales", *rules: OverflowRule, **kw: object) -> QueueView:
    return QueueView(queue_id=qid, strategy=Strategy.LINEAR, overflow=rules, **kw)  # type: ignore[arg-type]


def call(qid: str = "sales", **kw: object) -> WaitingCall:
    return WaitingCall(call_id="c1", queue_id=qid, enqueued_at=100.0, **kw)  # type: ignore[arg-type]


def test_without_rules_a_failed_offer_goes_to_the_next_agent() -> None:
    for trigger in (NA, BUSY):
        d = decide_overflow(q(), call(failed_offers=1), trigger)
        assert (d.action, d.rule) == (A.NEXT_AGENT, None)


def test_without_rules_a_call_that_cannot_wait_goes_to_voicemail_never_dropped() -> None:
    for trigger in (MAXW, NOAG):
        d = decide_overflow(q(), call(), trigger)
        assert (d.action, d.target) == (A.VOICEMAIL, "")


def test_next_agent_then_a_mobile_after_three_failed_offers() -> None:
    rules = (
        OverflowRule(NA, A.NEXT_AGENT),
        OverflowRule(NA, A.EXTERNAL, target="13912345678", after_failures=3),
    )
    queue = q("sales", *rules)
    assert decide_overflow(queue, call(failed_offers=2), NA).action is A.NEXT_AGENT
    d = decide_overflow(queue, call(failed_offers=3), NA)
    assert (d.action, d.target) == (A.EXTERNAL, "13912345678")
    # busy has no rule of its own: the default
    assert decide_overflow(queue, call(failed_offers=3), BUSY).action is A.NEXT_AGENT


def test_max_wait_moves_the_call_to_another_queue() -> None:
    queue = q("sales", OverflowRule(MAXW, A.QUEUE, target="service"), max_wait=120)
    d = decide_overflow(queue, call(), MAXW)
    assert (d.action, d.target) == (A.QUEUE, "service")
    assert max_wait_deadline(queue, call()) == 220.0
    assert max_wait_deadline(q(), call()) is None


def test_an_overflow_back_to_a_visited_queue_is_skipped_for_the_next_rule() -> None:
    queue = q(
        "service",
        OverflowRule(MAXW, A.QUEUE, target="sales"),
        OverflowRule(MAXW, A.VOICEMAIL, target="box-7"),
    )
    d = decide_overflow(queue, call("service", visited_queues=("sales",)), MAXW)
    assert (d.action, d.target) == (A.VOICEMAIL, "box-7")
    only_loop = q("service", OverflowRule(NOAG, A.QUEUE, target="sales"))
    d2 = decide_overflow(only_loop, call("service", visited_queues=("sales",)), NOAG)
    assert (d2.action, d2.rule) == (A.VOICEMAIL, None)


def test_a_decision_for_a_call_of_another_queue_is_refused() -> None:
    with pytest.raises(ValueError, match="waits in other"):
        decide_overflow(q(), call("other"), NA)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"trigger": NA, "action": A.QUEUE}, "needs a target"),
        ({"trigger": NA, "action": A.EXTERNAL}, "needs a target"),
        ({"trigger": MAXW, "action": A.NEXT_AGENT}, "only follows a failed offer"),
        ({"trigger": NA, "action": A.VOICEMAIL, "after_failures": 0}, "at least 1"),
    ],
)
def test_bad_rules_are_refused_with_a_clear_message(kw: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        OverflowRule(**kw)  # type: ignore[arg-type]


def to(target: str) -> OverflowRule:
    return OverflowRule(MAXW, A.QUEUE, target=target)


def test_loop_detection_reports_the_cycle_as_a_path() -> None:
    assert find_overflow_loop({"A": [to("B")], "B": [to("A")]}) == ("A", "B", "A")
    assert find_overflow_loop({"A": [to("B")], "B": [to("C")], "C": [to("B")]}) == ("B", "C", "B")
    assert find_overflow_loop({"A": [to("A")]}) == ("A", "A")


def test_chains_and_diamonds_are_not_loops() -> None:
    rules = {"A": [to("B"), to("C")], "B": [to("D")], "C": [to("D")], "D": []}
    assert find_overflow_loop(rules) is None
    assert find_overflow_loop({}) is None
    validate_overflow(rules)


def test_validation_names_the_loop_or_the_unknown_queue() -> None:
    with pytest.raises(OverflowConfigError, match="overflow loop: A → B → A"):
        validate_overflow({"A": [to("B")], "B": [OverflowRule(NOAG, A.QUEUE, target="A")]})
    with pytest.raises(OverflowConfigError, match="A overflows to queue Z, which does not exist"):
        validate_overflow({"A": [to("Z")]})


def test_staffed_agents_count_ready_and_working_members_only() -> None:
    queue = QueueView(
        queue_id="q",
        strategy=Strategy.LINEAR,
        members=tuple(QueueMember(a) for a in ("r", "c", "w", "n", "o", "ghost")),
    )
    states = {
        "r": AgentState.READY,
        "c": AgentState.ON_CALL,
        "w": AgentState.WRAP_UP,
        "n": AgentState.NOT_READY,
        "o": AgentState.LOGGED_OUT,
    }
    agents = {a: AgentView(agent_id=a, extension=a, state=s) for a, s in states.items()}
    assert staffed_agents(queue, agents) == 3
    assert staffed_agents(QueueView(queue_id="e", strategy=Strategy.LINEAR), agents) == 0
