"""ACD-1 distribution strategies of ``pick_agent``: each strategy, its tie-break, tiers,
skills, and the queue stage's empty cases."""

from __future__ import annotations

import random

import pytest

from acd.engine import (
    AgentState,
    AgentView,
    PickMemory,
    PickReason,
    QueueMember,
    QueueView,
    Strategy,
    WaitingCall,
    pick_agent,
)

NOW = 10_000.0
R = AgentState.READY


def agent(aid: str, state: AgentState = R, **kw: object) -> AgentView:
    return AgentView(agent_id=aid, extension=aid, state=state, **kw)  # type: ignore[arg-type]


def queue(strategy: Strategy, *members: str | QueueMember, **kw: object) -> QueueView:
    ms = tuple(
        m if isinstance(m, QueueMember) else QueueMember(agent_id=m, position=i)
        for i, m in enumerate(members)
    )
    return QueueView(queue_id="sales", strategy=strategy, members=ms, **kw)  # type: ignore[arg-type]


def call(**kw: object) -> WaitingCall:
    return WaitingCall(call_id="c1", queue_id="sales", enqueued_at=NOW - 5, **kw)  # type: ignore[arg-type]


def pick(q: QueueView, agents: list[AgentView], memory: PickMemory | None = None, **kw: object):
    return pick_agent(
        q,
        call(**kw),
        {a.agent_id: a for a in agents},
        NOW,
        memory or PickMemory(),
        rng=random.Random(7),
    )


def test_longest_idle_offers_the_agent_free_the_longest() -> None:
    q = queue(Strategy.LONGEST_IDLE, "a", "b", "c")
    p = pick(
        q, [agent("a", idle_since=300), agent("b", idle_since=100), agent("c", idle_since=200)]
    )
    assert p.agent_ids == ("b",)
    assert p.reason is PickReason.QUEUE


def test_longest_idle_tie_goes_to_the_lower_position_then_the_agent_id() -> None:
    q = queue(
        Strategy.LONGEST_IDLE,
        QueueMember("z", position=1),
        QueueMember("y", position=1),
        QueueMember("x", position=2),
    )
    p = pick(q, [agent("x", idle_since=1), agent("y", idle_since=1), agent("z", idle_since=1)])
    assert p.agent_ids == ("y",)


@pytest.mark.parametrize("state", [s for s in AgentState if s is not R])
def test_only_ready_agents_are_offered(state: AgentState) -> None:
    q = queue(Strategy.LONGEST_IDLE, "a", "b")
    p = pick(q, [agent("a", state, idle_since=0), agent("b", idle_since=50)])
    assert p.agent_ids == ("b",)


def test_nobody_free_or_an_empty_queue_gives_an_empty_pick() -> None:
    busy = [agent("a", AgentState.ON_CALL), agent("b", AgentState.NOT_READY)]
    for strategy in Strategy:
        assert pick(queue(strategy, "a", "b"), busy).agent_ids == ()
        assert pick(queue(strategy), []).agent_ids == ()


def test_an_agent_who_is_not_a_member_is_never_offered() -> None:
    p = pick(queue(Strategy.LONGEST_IDLE, "a"), [agent("a", AgentState.ON_CALL), agent("b")])
    assert p.agent_ids == ()


def test_agents_who_already_failed_the_call_are_skipped() -> None:
    q = queue(Strategy.LINEAR, "a", "b")
    assert pick(q, [agent("a"), agent("b")], tried_agents=frozenset({"a"})).agent_ids == ("b",)


def test_linear_always_offers_the_first_free_member_top_down() -> None:
    q = queue(Strategy.LINEAR, "a", "b", "c")
    agents = [agent("a", AgentState.ON_CALL), agent("b", idle_since=900), agent("c", idle_since=1)]
    assert pick(q, agents).agent_ids == ("b",)
    assert pick(q, agents).agent_ids == ("b",)


def test_round_robin_cycles_through_members_and_wraps_around() -> None:
    q = queue(Strategy.ROUND_ROBIN, "a", "b", "c")
    agents = [agent("a"), agent("b"), agent("c")]
    memory = PickMemory()
    seen = []
    for _ in range(4):
        p = pick(q, agents, memory)
        seen.append(p.agent_ids[0])
        memory = p.memory
    assert seen == ["a", "b", "c", "a"]


def test_round_robin_skips_busy_members_and_survives_the_last_one_leaving() -> None:
    q = queue(Strategy.ROUND_ROBIN, "a", "b", "c")
    agents = [agent("a"), agent("b", AgentState.ON_CALL), agent("c")]
    p = pick(q, agents, PickMemory(last=(0, "a")))
    assert p.agent_ids == ("c",)
    # "b" (position 1) was last and signed out: the next after his place is "c".
    q2 = queue(Strategy.ROUND_ROBIN, QueueMember("a", position=0), QueueMember("c", position=2))
    assert pick(q2, [agent("a"), agent("c")], PickMemory(last=(1, "b"))).agent_ids == ("c",)


def test_round_robin_memory_is_returned_not_mutated() -> None:
    q = queue(Strategy.ROUND_ROBIN, "a", "b")
    before = PickMemory()
    p = pick(q, [agent("a"), agent("b")], before)
    assert before.last is None
    assert p.memory == PickMemory(last=(0, "a"))


def test_ring_all_offers_every_free_member_in_order_up_to_the_limit() -> None:
    agents = [agent("a"), agent("b", AgentState.WRAP_UP), agent("c"), agent("d")]
    assert pick(queue(Strategy.RING_ALL, "a", "b", "c", "d"), agents).agent_ids == ("a", "c", "d")
    limited = queue(Strategy.RING_ALL, "a", "b", "c", "d", ring_all_limit=2)
    assert pick(limited, agents).agent_ids == ("a", "c")


def test_fewest_calls_then_longest_idle_on_a_tie() -> None:
    q = queue(Strategy.FEWEST_CALLS, "a", "b", "c")
    agents = [
        agent("a", calls_today=3, idle_since=0),
        agent("b", calls_today=1, idle_since=500),
        agent("c", calls_today=1, idle_since=200),
    ]
    assert pick(q, agents).agent_ids == ("c",)


def test_least_talk_time_then_longest_idle_on_a_tie() -> None:
    q = queue(Strategy.LEAST_TALK_TIME, "a", "b", "c")
    agents = [
        agent("a", talk_time_today=600.0, idle_since=0),
        agent("b", talk_time_today=120.0, idle_since=50),
        agent("c", talk_time_today=120.0, idle_since=40),
    ]
    assert pick(q, agents).agent_ids == ("c",)


def test_skill_weighted_offers_the_highest_level_in_the_wanted_skills() -> None:
    q = queue(Strategy.SKILL_WEIGHTED, "a", "b", "c", skills_wanted={"loans": 1, "english": 1})
    agents = [
        agent("a", skills={"loans": 5, "english": 1}, idle_since=0),
        agent("b", skills={"loans": 3, "english": 4}, idle_since=10),
        agent("c", skills={"loans": 9}, idle_since=0),  # lacks english: not eligible
    ]
    assert pick(q, agents).agent_ids == ("b",)


def test_skill_weighted_tie_goes_to_longest_idle() -> None:
    q = queue(Strategy.SKILL_WEIGHTED, "a", "b", skills_wanted={"loans": 1})
    agents = [
        agent("a", skills={"loans": 4}, idle_since=9),
        agent("b", skills={"loans": 4}, idle_since=3),
    ]
    assert pick(q, agents).agent_ids == ("b",)


def test_minimum_skill_levels_of_queue_and_call_both_apply() -> None:
    q = queue(Strategy.LINEAR, "a", "b", "c", skills_wanted={"loans": 3})
    agents = [
        agent("a", skills={"loans": 2, "english": 5}),
        agent("b", skills={"loans": 3}),
        agent("c", skills={"loans": 3, "english": 2}),
    ]
    assert pick(q, agents).agent_ids == ("b",)
    assert pick(q, agents, skills_wanted={"english": 2}).agent_ids == ("c",)
    assert pick(q, agents, skills_wanted={"english": 3}).agent_ids == ()


def test_random_is_repeatable_with_a_seed_and_spreads_calls() -> None:
    q = queue(Strategy.RANDOM, "a", "b", "c")
    agents = {a: agent(a) for a in "abc"}
    c = call()

    def run(seed: int) -> list[str]:
        rng = random.Random(seed)
        return [pick_agent(q, c, agents, NOW, PickMemory(), rng).agent_ids[0] for _ in range(60)]

    assert run(3) == run(3)
    assert set(run(3)) == {"a", "b", "c"}


def test_random_without_an_rng_is_a_clear_error() -> None:
    q = queue(Strategy.RANDOM, "a")
    with pytest.raises(ValueError, match="needs an rng"):
        pick_agent(q, call(), {"a": agent("a")}, NOW, PickMemory())


def test_a_higher_tier_only_gets_calls_when_the_lower_tier_is_all_busy() -> None:
    q = queue(
        Strategy.LONGEST_IDLE,
        QueueMember("senior", tier=0),
        QueueMember("backup", tier=1),
    )
    both_free = [agent("senior", idle_since=500), agent("backup", idle_since=0)]
    assert pick(q, both_free).agent_ids == ("senior",)
    senior_busy = [agent("senior", AgentState.ON_CALL), agent("backup", idle_since=0)]
    assert pick(q, senior_busy).agent_ids == ("backup",)


def test_a_call_for_another_queue_is_refused() -> None:
    q = queue(Strategy.LINEAR, "a")
    other = WaitingCall(call_id="c9", queue_id="service", enqueued_at=NOW)
    with pytest.raises(ValueError, match="waits in service"):
        pick_agent(q, other, {"a": agent("a")}, NOW, PickMemory())


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"ring_timeout": 0}, "ring timeout"),
        ({"ring_timeout": -5}, "ring timeout"),
        ({"max_wait": 0}, "max wait"),
        ({"ring_all_limit": 0}, "ring-all limit"),
    ],
)
def test_bad_queue_settings_are_refused_with_a_clear_message(
    kw: dict[str, float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        QueueView(queue_id="q", strategy=Strategy.LINEAR, **kw)  # type: ignore[arg-type]


def test_unknown_strategy_names_are_refused() -> None:
    with pytest.raises(ValueError):
        Strategy("cheapest")


def test_linear_and_ring_all_break_an_equal_position_by_agent_id() -> None:
    members = (QueueMember("b", position=0), QueueMember("a", position=0))
    free = [agent("a"), agent("b")]
    assert pick(queue(Strategy.LINEAR, *members), free).agent_ids == ("a",)
    assert pick(queue(Strategy.RING_ALL, *members), free).agent_ids == ("a", "b")
