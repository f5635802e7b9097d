"""ACD-3 sticky routing with its timed fallback, ACD-4 region / named-number rules,
ACD-2 call ordering and the dispatch pass over a queue's line."""

from __future__ import annotations

import pytest

from acd.engine import (
    AgentState,
    AgentView,
    PickMemory,
    PickReason,
    QueueMember,
    QueueView,
    Region,
    RegionRule,
    RegionTargetKind,
    StickyPolicy,
    Strategy,
    WaitingCall,
    dispatch,
    match_region_rule,
    next_call,
    order_calls,
    pick_agent,
    position_of,
)

T0 = 1_000.0  # the call's entry
STICKY = StickyPolicy(owner_window=20.0, last_agent_window=35.0)


def agent(aid: str, state: AgentState = AgentState.READY, **kw: object) -> AgentView:
    return AgentView(agent_id=aid, extension=aid, state=state, **kw)  # type: ignore[arg-type]


def agents(*views: AgentView) -> dict[str, AgentView]:
    return {a.agent_id: a for a in views}


def queue(**kw: object) -> QueueView:
    members = tuple(QueueMember(agent_id=m, position=i) for i, m in enumerate("qrs"))
    kw.setdefault("members", members)
    kw.setdefault("strategy", Strategy.LINEAR)
    return QueueView(queue_id="svc", **kw)  # type: ignore[arg-type]


def call(cid: str = "c1", at: float = T0, **kw: object) -> WaitingCall:
    return WaitingCall(call_id=cid, queue_id="svc", enqueued_at=at, **kw)  # type: ignore[arg-type]


# -- ACD-3: owner -> last agent -> queue ------------------------------------------


def test_a_ready_owner_gets_the_call_though_he_is_not_a_queue_member() -> None:
    p = pick_agent(
        queue(sticky=STICKY),
        call(owner_agent_id="own"),
        agents(agent("own", idle_since=999), agent("q", idle_since=0)),
        T0 + 1,
        PickMemory(),
    )
    assert (p.agent_ids, p.reason) == (("own",), PickReason.OWNER)


def test_a_busy_owner_is_waited_for_until_his_window_ends_then_the_last_agent() -> None:
    q = queue(sticky=STICKY)
    c = call(owner_agent_id="own", last_agent_id="last")
    pool = agents(agent("own", AgentState.ON_CALL), agent("last"), agent("q"))
    waiting = pick_agent(q, c, pool, T0 + 19.9, PickMemory())
    assert waiting.agent_ids == ()
    assert waiting.reason is PickReason.OWNER
    assert waiting.recheck_at == T0 + 20.0  # the runtime sets a timer for it
    after = pick_agent(q, c, pool, T0 + 20.0, PickMemory())
    assert (after.agent_ids, after.reason) == (("last",), PickReason.LAST_AGENT)


def test_after_every_window_the_queue_takes_over() -> None:
    q = queue(sticky=STICKY)
    c = call(owner_agent_id="own", last_agent_id="last")
    pool = agents(agent("own", AgentState.WRAP_UP), agent("last", AgentState.RINGING), agent("r"))
    mid = pick_agent(q, c, pool, T0 + 25, PickMemory())
    assert (mid.agent_ids, mid.recheck_at) == ((), T0 + 35.0)
    late = pick_agent(q, c, pool, T0 + 35, PickMemory())
    assert (late.agent_ids, late.reason) == (("r",), PickReason.QUEUE)


@pytest.mark.parametrize("state", [AgentState.NOT_READY, AgentState.LOGGED_OUT])
def test_an_owner_who_is_away_is_skipped_at_once(state: AgentState) -> None:
    p = pick_agent(
        queue(sticky=STICKY),
        call(owner_agent_id="own"),
        agents(agent("own", state), agent("q")),
        T0,
        PickMemory(),
    )
    assert (p.agent_ids, p.reason) == (("q",), PickReason.QUEUE)


def test_an_unknown_or_already_tried_owner_is_skipped() -> None:
    q = queue(sticky=STICKY)
    pool = agents(agent("own"), agent("q"))
    assert pick_agent(q, call(owner_agent_id="ghost"), pool, T0, PickMemory()).agent_ids == ("q",)
    tried = call(owner_agent_id="own", tried_agents=frozenset({"own"}))
    assert pick_agent(q, tried, pool, T0, PickMemory()).agent_ids == ("q",)


def test_sticky_routing_is_off_with_zero_windows() -> None:
    p = pick_agent(
        queue(), call(owner_agent_id="own"), agents(agent("own"), agent("q")), T0, PickMemory()
    )
    assert p.agent_ids == ("q",)


# -- ACD-4: region and named numbers -------------------------------------------------

GD = Region(province="广东", city="深圳")


def test_region_rule_precedence_named_number_then_city_then_province() -> None:
    prov = RegionRule(RegionTargetKind.TEAM, "south", province="广东")
    city = RegionRule(RegionTargetKind.TEAM, "sz", province="广东", city="深圳")
    named = RegionRule(RegionTargetKind.AGENT, "wang", numbers=frozenset({"13800138000"}))
    rules = (prov, city, named)
    assert match_region_rule(rules, "13800138000", GD) is named
    assert match_region_rule(rules, "13900000000", GD) is city
    assert match_region_rule(rules, "1", Region("广东", "广州")) is prov
    assert match_region_rule(rules, "1", Region("浙江", "杭州")) is None
    assert match_region_rule(rules, "1", None) is None


def test_callers_from_a_province_go_to_its_team_first() -> None:
    rule = RegionRule(RegionTargetKind.TEAM, "south", province="广东", window=30)
    q = queue(region_rules=(rule,))
    pool = agents(agent("q"), agent("r", teams=frozenset({"south"})), agent("s"))
    p = pick_agent(q, call(region=GD), pool, T0, PickMemory())
    assert (p.agent_ids, p.reason) == (("r",), PickReason.REGION)
    other = pick_agent(q, call(region=Region("北京")), pool, T0, PickMemory())
    assert (other.agent_ids, other.reason) == (("q",), PickReason.QUEUE)


def test_a_busy_region_team_is_waited_for_within_the_window_only() -> None:
    rule = RegionRule(RegionTargetKind.TEAM, "south", province="广东", window=30)
    q = queue(region_rules=(rule,))
    pool = agents(agent("q"), agent("r", AgentState.ON_CALL, teams=frozenset({"south"})))
    early = pick_agent(q, call(region=GD), pool, T0 + 10, PickMemory())
    assert (early.agent_ids, early.reason, early.recheck_at) == ((), PickReason.REGION, T0 + 30)
    assert pick_agent(q, call(region=GD), pool, T0 + 30, PickMemory()).agent_ids == ("q",)


def test_a_named_number_waits_for_its_named_agent_when_the_rule_has_no_window() -> None:
    rule = RegionRule(RegionTargetKind.AGENT, "wang", numbers=frozenset({"138"}), window=None)
    q = queue(region_rules=(rule,))
    c = call(caller_number="138")
    free = pick_agent(q, c, agents(agent("wang"), agent("q")), T0, PickMemory())
    assert (free.agent_ids, free.reason) == (("wang",), PickReason.REGION)
    away = pick_agent(
        q, c, agents(agent("wang", AgentState.NOT_READY), agent("q")), T0 + 999, PickMemory()
    )
    assert (away.agent_ids, away.recheck_at) == ((), None)


def test_the_owner_comes_before_a_region_rule() -> None:
    rule = RegionRule(RegionTargetKind.AGENT, "wang", numbers=frozenset({"138"}))
    q = queue(region_rules=(rule,), sticky=STICKY)
    c = call(caller_number="138", owner_agent_id="own")
    p = pick_agent(q, c, agents(agent("own"), agent("wang")), T0, PickMemory())
    assert p.reason is PickReason.OWNER


# -- ACD-2: order of the line ------------------------------------------------------------


def test_vip_first_then_priority_then_longest_wait() -> None:
    line = [
        call("old", at=10),
        call("new", at=50),
        call("prio", at=40, priority=5),
        call("vip", at=60, vip=True),
        call("vip-old", at=30, vip=True, priority=-1),
    ]
    assert [c.call_id for c in order_calls(line)] == ["vip", "vip-old", "prio", "old", "new"]
    assert next_call(line) is line[3]
    assert position_of("old", line) == 4


def test_equal_entry_times_are_ordered_by_call_id_and_an_empty_line_has_no_next() -> None:
    assert [c.call_id for c in order_calls([call("b", at=5), call("a", at=5)])] == ["a", "b"]
    assert next_call([]) is None
    with pytest.raises(KeyError, match="not waiting"):
        position_of("x", [call("a")])


# -- dispatch: the line meets the free agents ---------------------------------------------


def test_dispatch_serves_the_line_in_order_with_distinct_agents() -> None:
    q = queue()
    line = [call("c1", at=1), call("c2", at=2), call("c3", at=3), call("vip", at=9, vip=True)]
    d = dispatch(
        q, line, agents(agent("q"), agent("r"), agent("s", AgentState.ON_CALL)), T0, PickMemory()
    )
    assert [(o.call_id, o.agent_ids) for o in d.offers] == [("vip", ("q",)), ("c1", ("r",))]


def test_a_call_waiting_for_its_owner_does_not_hold_up_the_line() -> None:
    q = queue(sticky=STICKY)
    line = [call("c1", at=T0, owner_agent_id="own"), call("c2", at=T0 + 1)]
    pool = agents(agent("own", AgentState.ON_CALL), agent("q"))
    d = dispatch(q, line, pool, T0 + 2, PickMemory())
    assert [(o.call_id, o.agent_ids) for o in d.offers] == [("c2", ("q",))]
    assert d.recheck_at == T0 + 20.0


def test_dispatch_carries_round_robin_memory_across_the_pass() -> None:
    q = queue(strategy=Strategy.ROUND_ROBIN)
    d = dispatch(
        q,
        [call("c1", at=1), call("c2", at=2)],
        agents(agent("q"), agent("r"), agent("s")),
        T0,
        PickMemory(last=(0, "q")),
    )
    assert [o.agent_ids for o in d.offers] == [("r",), ("s",)]
    assert d.memory == PickMemory(last=(2, "s"))


def test_dispatch_of_an_empty_line_or_without_free_agents_offers_nothing() -> None:
    q = queue()
    assert dispatch(q, [], agents(agent("q")), T0, PickMemory()).offers == ()
    busy = agents(agent("q", AgentState.ON_CALL))
    assert dispatch(q, [call("c1")], busy, T0, PickMemory()).offers == ()


def test_a_ring_all_offer_reserves_every_rung_agent_for_the_rest_of_the_pass() -> None:
    q = queue(strategy=Strategy.RING_ALL)
    d = dispatch(
        q, [call("c1", at=1), call("c2", at=2)], agents(agent("q"), agent("r")), T0, PickMemory()
    )
    assert [(o.call_id, o.agent_ids) for o in d.offers] == [("c1", ("q", "r"))]


def test_a_region_team_agent_needs_the_queue_skills_and_is_not_offered_twice() -> None:
    rule = RegionRule(RegionTargetKind.TEAM, "south", province="广东", window=30)
    q = queue(region_rules=(rule,), skills_wanted={"cantonese": 1})
    south = frozenset({"south"})
    pool = agents(
        agent("q", skills={"cantonese": 2}),
        agent("r", teams=south),  # lacks the skill
        agent("s", teams=south, skills={"cantonese": 3}),
    )
    assert pick_agent(q, call(region=GD), pool, T0, PickMemory()).agent_ids == ("s",)
    tried = call(region=GD, tried_agents=frozenset({"s"}))
    p = pick_agent(q, tried, pool, T0, PickMemory())
    assert (p.agent_ids, p.recheck_at) == ((), T0 + 30)


def test_with_every_member_busy_a_ready_owner_still_gets_his_customer() -> None:
    q = queue(sticky=STICKY)
    line = [call("c1", at=T0), call("c2", at=T0 + 1, owner_agent_id="own")]
    pool = agents(agent("q", AgentState.ON_CALL), agent("own"))
    d = dispatch(q, line, pool, T0 + 2, PickMemory())
    assert [(o.call_id, o.agent_ids, o.reason) for o in d.offers] == [
        ("c2", ("own",), PickReason.OWNER)
    ]
