"""acd.live on a real redis-server: agent states (ACD-7), queue sign-in (ACD-8), waiting
order (ACD-2, IVR-9 VIP fast track), atomic reservation across controllers (issue 13
Part 0.4), expiry, wrap-up, and recovery of a dead controller. Time is passed in
explicitly (a fake clock), never slept on."""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as aioredis

from acd.live import (
    MISSED_OFFERS_REASON,
    AgentNotAvailable,
    AgentState,
    CallAlreadyWaiting,
    InvalidTransition,
    LiveStore,
    UnknownAgent,
    UnknownCall,
    WrongCall,
    keys,
)

pytestmark = pytest.mark.redis

T0 = 1_750_000_000.0  # 2025-06-15T15:06:40Z = 23:06:40 in Shanghai


@pytest.fixture
async def clients(redis_db: str) -> AsyncIterator[Callable[..., aioredis.Redis]]:
    """Separate connection pools, like separate controller processes."""
    made: list[aioredis.Redis] = []

    def make(**kw: object) -> aioredis.Redis:
        client = aioredis.Redis.from_url(redis_db, **kw)  # type: ignore[arg-type]
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()


@pytest.fixture
def store(clients: Callable[..., aioredis.Redis]) -> LiveStore:
    return LiveStore(clients())


async def ready_agents(store: LiveStore, *ids: str, queues: tuple[str, ...] = ("sales",)) -> None:
    for a in ids:
        await store.login(a, T0, queues=queues, ready=True)


# ====================================================================== agent states


async def test_login_gives_ready_agent_signed_into_its_queues(store: LiveStore) -> None:
    """ACD-7/8: login -> ready (or not ready with a reason), signed into the queues."""
    t = await store.login("1001", T0, queues=["sales", "consult", "sales"], ready=True)
    assert (t.previous_state, t.agent.state) == (AgentState.LOGGED_OUT, AgentState.READY)
    assert t.changed and t.agent.queues == ("consult", "sales")
    assert await store.agents_in_queue("sales") == ["1001"]
    t = await store.login("1002", T0 + 1, queues=["sales"], reason="meeting")
    assert (t.agent.state, t.agent.reason) == (AgentState.NOT_READY, "meeting")
    assert await store.agents_in_queue("sales") == ["1001", "1002"]
    snap = await store.agent("1001")
    assert snap is not None and snap.idle_since == T0 and snap.time_in_state(T0 + 5) == 5


async def test_sign_in_and_out_of_a_queue(store: LiveStore) -> None:
    """ACD-8: an agent signs into a second queue and out of the first."""
    await ready_agents(store, "1001")
    t = await store.sign_in("1001", "complaints")
    assert t.previous_queues == ("sales",) and t.agent.queues == ("complaints", "sales")
    t = await store.sign_out("1001", "sales")
    assert t.agent.queues == ("complaints",) and t.agent.state is AgentState.READY
    assert await store.agents_in_queue("sales") == []
    assert await store.agents_in_queue("complaints") == ["1001"]


async def test_logout_signs_out_of_every_queue_and_is_refused_on_a_call(store: LiveStore) -> None:
    await ready_agents(store, "1001", queues=("sales", "consult"))
    await store.reserve("1001", "c1", "ctl-a", 20, T0 + 1)
    with pytest.raises(InvalidTransition, match="reserved"):
        await store.logout("1001", T0 + 2)
    await store.confirm("1001", "c1", T0 + 3)
    with pytest.raises(InvalidTransition, match="on_call"):
        await store.logout("1001", T0 + 4)
    await store.end_call("1001", "c1", T0 + 60, wrap_up_s=30)
    t = await store.logout("1001", T0 + 61)
    assert (t.previous_state, t.agent.state) == (AgentState.WRAP_UP, AgentState.LOGGED_OUT)
    assert t.agent.queues == () and await store.agents_in_queue("sales") == []
    assert await store.end_wrap_ups(T0 + 200) == []  # its wrap-up timer went with it
    with pytest.raises(InvalidTransition, match="logged_out"):
        await store.sign_in("1001", "sales")


async def test_refused_transitions_write_nothing(store: LiveStore) -> None:
    """Unknown agent, logged in twice, not ready while ringing, ready while logged out."""
    with pytest.raises(UnknownAgent):
        await store.set_ready("ghost", T0)
    with pytest.raises(UnknownAgent):
        await store.reserve("ghost", "c1", "ctl-a", 20, T0)
    assert await store.agent("ghost") is None
    await ready_agents(store, "1001")
    with pytest.raises(InvalidTransition, match="ready"):
        await store.login("1001", T0 + 1)
    await store.reserve("1001", "c1", "ctl-a", 20, T0 + 1)
    before = await store.agent("1001")
    with pytest.raises(InvalidTransition, match="reserved"):
        await store.set_not_ready("1001", T0 + 2, "break")
    with pytest.raises(InvalidTransition, match="reserved"):
        await store.end_call("1001", "c1", T0 + 2, 30)
    assert await store.agent("1001") == before


async def test_ready_again_is_an_unchanged_transition(store: LiveStore) -> None:
    """A redelivered SetAgentState must not publish a second AgentStateChanged."""
    await store.login("1001", T0, reason="break")
    t = await store.set_not_ready("1001", T0 + 1, "break")
    assert not t.changed and t.agent.since == T0
    t = await store.set_ready("1001", T0 + 10)
    assert t.changed and t.time_in_previous_state == 10
    assert not (await store.set_ready("1001", T0 + 11)).changed


async def test_bad_input_is_a_clear_error(store: LiveStore) -> None:
    with pytest.raises(ValueError, match="agent id"):
        await store.login("10 01", T0)
    with pytest.raises(ValueError, match="queue id"):
        await store.login("1001", T0, queues=["sa:les"])
    with pytest.raises(ValueError, match="finite"):
        await store.login("1001", math.nan)
    with pytest.raises(ValueError, match="reason"):
        await store.set_not_ready("1001", T0, "")
    with pytest.raises(ValueError, match="ttl"):
        await store.reserve("1001", "c1", "ctl-a", 0, T0)
    with pytest.raises(ValueError, match="priority"):
        await store.enqueue("c1", "sales", "ctl-a", T0, priority=128)
    with pytest.raises(ValueError, match="candidates"):
        await store.reserve_first([str(i) for i in range(300)], "c1", "ctl-a", 20, T0)
    assert await store.agent("1001") is None and await store.waiting_count("sales") == 0


# ======================================================================== reservation


async def test_only_a_ready_unreserved_agent_can_be_reserved(store: LiveStore) -> None:
    await store.login("1001", T0, queues=["sales"], reason="break")
    with pytest.raises(AgentNotAvailable, match="not_ready"):
        await store.reserve("1001", "c1", "ctl-a", 20, T0 + 1)
    await store.set_ready("1001", T0 + 2)
    t = await store.reserve("1001", "c1", "ctl-a", 20, T0 + 3)
    assert t.agent.state is AgentState.RESERVED
    assert (t.agent.call_id, t.agent.controller, t.agent.until) == ("c1", "ctl-a", T0 + 23)
    with pytest.raises(AgentNotAvailable, match="reserved"):
        await store.reserve("1001", "c2", "ctl-b", 20, T0 + 4)
    await store.confirm("1001", "c1", T0 + 5)
    with pytest.raises(AgentNotAvailable, match="on_call"):
        await store.reserve("1001", "c2", "ctl-b", 20, T0 + 6)


async def test_fifty_tasks_on_two_connections_reserve_one_agent_exactly_once(
    clients: Callable[..., aioredis.Redis],
) -> None:
    """Two controllers (separate connections), 50 concurrent reservations of one agent:
    exactly one wins, and the agent holds the winner's call."""
    stores = [LiveStore(clients()), LiveStore(clients())]
    await ready_agents(stores[0], "1001")

    async def attempt(i: int) -> str | None:
        try:
            await stores[i % 2].reserve("1001", f"c{i}", f"ctl-{i % 2}", 20, T0 + 1)
        except AgentNotAvailable:
            return None
        return f"c{i}"

    winners = [w for w in await asyncio.gather(*(attempt(i) for i in range(50))) if w]
    assert len(winners) == 1
    snap = await stores[1].agent("1001")
    assert snap is not None and snap.call_id == winners[0]


async def test_twenty_calls_five_agents_never_one_agent_twice(
    clients: Callable[..., aioredis.Redis],
) -> None:
    """20 calls race reserve_first over the same 5 agents (each with its own ranking)
    from two connections: 5 calls get 5 different agents, the other 15 get none; after
    the 5 are released the next round again never doubles up."""
    stores = [LiveStore(clients()), LiveStore(clients())]
    agents = [f"20{i}" for i in range(5)]
    await ready_agents(stores[0], *agents)
    rng = random.Random(13)

    async def offer(i: int, round_: int) -> tuple[str, str] | None:
        ranking = agents[:]
        rng.shuffle(ranking)
        call = f"r{round_}c{i}"
        t = await stores[i % 2].reserve_first(ranking, call, f"ctl-{i % 2}", 20, T0 + round_)
        return None if t is None else (t.agent_id, call)

    for round_ in range(3):
        got = [g for g in await asyncio.gather(*(offer(i, round_) for i in range(20))) if g]
        assert sorted(a for a, _ in got) == agents
        for agent_id, call in got:
            snap = await stores[0].agent(agent_id)
            assert snap is not None and snap.call_id == call
            await stores[1].release(agent_id, call, T0 + round_ + 0.5)


async def test_reserve_first_takes_the_first_ready_agent_in_rank_order(store: LiveStore) -> None:
    await ready_agents(store, "a1", "a2", "a3")
    await store.set_not_ready("a1", T0 + 1, "break")
    await store.reserve("a2", "other", "ctl-a", 20, T0 + 1)
    t = await store.reserve_first(["ghost", "a1", "a2", "a3"], "c1", "ctl-a", 20, T0 + 2)
    assert t is not None and t.agent_id == "a3" and t.previous_state is AgentState.READY
    assert await store.reserve_first(["a1", "a2", "a3"], "c2", "ctl-a", 20, T0 + 3) is None
    assert await store.reserve_first([], "c3", "ctl-a", 20, T0 + 3) is None


async def test_release_of_an_old_offer_cannot_free_a_newer_one(store: LiveStore) -> None:
    """A late release for call c1 must not make the agent ready while c2 rings him."""
    await ready_agents(store, "1001")
    await store.reserve("1001", "c1", "ctl-a", 20, T0 + 1)
    t = await store.release("1001", "c1", T0 + 2)
    assert t.agent.state is AgentState.READY and t.agent.idle_since == T0  # idle kept
    assert t.agent.call_id is None and t.agent.controller is None
    await store.reserve("1001", "c2", "ctl-a", 20, T0 + 3)
    with pytest.raises(WrongCall, match="c2"):
        await store.release("1001", "c1", T0 + 4)
    with pytest.raises(WrongCall):
        await store.confirm("1001", "c1", T0 + 4)
    snap = await store.agent("1001")
    assert snap is not None and (snap.state, snap.call_id) == (AgentState.RESERVED, "c2")


async def test_agent_goes_not_ready_after_max_missed_offers_in_a_row(store: LiveStore) -> None:
    """Issue 13 Part 3: an agent who misses N offers in a row goes not ready."""
    await ready_agents(store, "1001")
    for i in range(2):
        await store.reserve("1001", f"c{i}", "ctl-a", 20, T0 + i)
        t = await store.release("1001", f"c{i}", T0 + i + 0.5, missed=True, max_missed=3)
        assert t.agent.state is AgentState.READY and t.agent.missed_in_row == i + 1
    await store.reserve("1001", "c9", "ctl-a", 20, T0 + 5)
    t = await store.release("1001", "c9", T0 + 6, missed=True, max_missed=3)
    assert (t.agent.state, t.agent.reason) == (AgentState.NOT_READY, MISSED_OFFERS_REASON)
    t = await store.set_ready("1001", T0 + 7)
    assert t.agent.missed_in_row == 0


async def test_an_answered_offer_resets_missed_offers(store: LiveStore) -> None:
    await ready_agents(store, "1001")
    await store.reserve("1001", "c1", "ctl-a", 20, T0)
    await store.release("1001", "c1", T0 + 1, missed=True, max_missed=2)
    await store.reserve("1001", "c2", "ctl-a", 20, T0 + 2)
    t, _ = await store.confirm("1001", "c2", T0 + 3)
    assert t.agent.missed_in_row == 0 and t.agent.calls_today == 1


async def test_expired_reservation_is_released_and_cannot_be_confirmed(store: LiveStore) -> None:
    await ready_agents(store, "1001", "1002")
    await store.reserve("1001", "c1", "ctl-a", 20, T0)
    await store.reserve("1002", "c2", "ctl-a", 60, T0)
    assert await store.expire_reservations(T0 + 19.9) == []
    expired = await store.expire_reservations(T0 + 20)
    assert [(t.agent_id, t.action, t.agent.state) for t in expired] == [
        ("1001", "expire", AgentState.READY)
    ]
    assert expired[0].agent.missed_in_row == 0  # the agent did nothing wrong
    with pytest.raises(InvalidTransition, match="ready"):
        await store.confirm("1001", "c1", T0 + 21)
    snap = await store.agent("1002")
    assert snap is not None and snap.state is AgentState.RESERVED


async def test_a_renewed_reservation_is_not_expired_by_the_old_deadline(store: LiveStore) -> None:
    await ready_agents(store, "1001")
    await store.reserve("1001", "c1", "ctl-a", 20, T0)
    await store.release("1001", "c1", T0 + 5)
    await store.reserve("1001", "c2", "ctl-a", 20, T0 + 10)
    assert await store.expire_reservations(T0 + 25) == []
    assert len(await store.expire_reservations(T0 + 30)) == 1


# ============================================================================ on call


async def test_call_wrap_up_then_ready_at_the_wrap_up_end(store: LiveStore) -> None:
    """ACD-7: answered -> on call; hung up -> wrap-up (30 s) -> ready at its end time,
    even when the timer is looked at late; talk time and calls counted for today."""
    await ready_agents(store, "1001")
    await store.reserve("1001", "c1", "ctl-a", 20, T0)
    t, entry = await store.confirm("1001", "c1", T0 + 4)
    assert entry is None and t.agent.state is AgentState.ON_CALL
    t = await store.end_call("1001", "c1", T0 + 124, wrap_up_s=30)
    assert (t.agent.state, t.agent.until) == (AgentState.WRAP_UP, T0 + 154)
    assert t.agent.talk_today_s == 120 and t.agent.calls_today == 1
    assert t.agent.call_id is None and t.agent.controller is None
    assert await store.end_wrap_ups(T0 + 153) == []
    (done,) = await store.end_wrap_ups(T0 + 170)
    assert done.agent.state is AgentState.READY and done.agent.since == T0 + 154
    assert done.agent.idle_since == T0 + 154


async def test_wrap_up_ended_early_by_the_agent(store: LiveStore) -> None:
    await ready_agents(store, "1001")
    await store.reserve("1001", "c1", "ctl-a", 20, T0)
    await store.confirm("1001", "c1", T0 + 1)
    await store.end_call("1001", "c1", T0 + 10, wrap_up_s=30)
    t = await store.set_ready("1001", T0 + 15)
    assert t.previous_state is AgentState.WRAP_UP and t.agent.until is None
    assert await store.end_wrap_ups(T0 + 100) == []
    with pytest.raises(InvalidTransition):
        await store.end_call("1001", "c1", T0 + 16, 0)


async def test_counters_restart_on_a_new_local_day(store: LiveStore) -> None:
    """Today's counters are per local day (Asia/Shanghai by default, UTC+8)."""
    await ready_agents(store, "1001")
    for i, at in enumerate((T0, T0 + 1000)):  # 23:06 and 23:23 Shanghai
        await store.reserve("1001", f"c{i}", "ctl-a", 20, at)
        await store.confirm("1001", f"c{i}", at + 1)
        t = await store.end_call("1001", f"c{i}", at + 11, 0)
    assert (t.agent.calls_today, t.agent.talk_today_s) == (2, 20)
    next_day = T0 + 3600  # 00:06 Shanghai
    await store.reserve("1001", "c9", "ctl-a", 20, next_day)
    t, _ = await store.confirm("1001", "c9", next_day + 1)
    assert t.agent.calls_today == 1 and t.agent.talk_today_s == 0
    assert t.agent.day == keys.day_number(next_day, 8 * 3600)


# ====================================================================== waiting calls


async def test_waiting_order_is_vip_then_priority_then_wait(store: LiveStore) -> None:
    """ACD-2, IVR-9: a VIP jumps everyone; then higher priority; then who came first."""
    await store.enqueue("early", "sales", "ctl-a", T0)
    await store.enqueue("late", "sales", "ctl-a", T0 + 10)
    await store.enqueue("prio", "sales", "ctl-b", T0 + 20, priority=5)
    await store.enqueue("vip-late", "sales", "ctl-a", T0 + 40, vip=True)
    await store.enqueue("vip-early", "sales", "ctl-a", T0 + 30, vip=True)
    pos = await store.enqueue("vip-low", "sales", "ctl-a", T0 + 1, vip=True, priority=0)
    order = [w.call_id for w in await store.waiting("sales")]
    assert order == ["vip-low", "vip-early", "vip-late", "prio", "early", "late"]
    assert pos == 1
    assert await store.position("late") == (6, 6)
    assert await store.position("prio") == (4, 6)
    w = await store.waiting_call("prio")
    assert w is not None and (w.controller, w.priority, w.vip) == ("ctl-b", 5, False)
    assert [w.call_id for w in await store.waiting("sales", limit=2)] == ["vip-low", "vip-early"]


async def test_abandon_removes_the_call_and_moves_the_rest_up(store: LiveStore) -> None:
    for i in range(3):
        await store.enqueue(f"c{i}", "sales", "ctl-a", T0 + i)
    gone = await store.dequeue("c0")
    assert gone.waited(T0 + 45) == 45 and gone.queue_id == "sales"
    assert await store.position("c2") == (2, 2)
    assert await store.position("c0") is None
    with pytest.raises(UnknownCall):
        await store.dequeue("c0")
    assert await store.calls_of("ctl-a") == ["c1", "c2"]


async def test_a_call_waits_in_one_queue_at_a_time(store: LiveStore) -> None:
    await store.enqueue("c1", "sales", "ctl-a", T0)
    with pytest.raises(CallAlreadyWaiting, match="sales"):
        await store.enqueue("c1", "consult", "ctl-a", T0 + 1, vip=True)
    w = await store.waiting_call("c1")
    assert w is not None and (w.queue_id, w.vip, w.enqueued_at) == ("sales", False, T0)
    assert await store.waiting_count("consult") == 0


async def test_a_moved_call_keeps_its_original_wait(store: LiveStore) -> None:
    """Overflow to another queue (ACD-6) keeps the caller's place by enqueue time."""
    await store.enqueue("new", "consult", "ctl-a", T0 + 50)
    await store.enqueue("c1", "sales", "ctl-a", T0)
    old = await store.dequeue("c1")
    pos = await store.enqueue("c1", "consult", "ctl-a", T0 + 60, enqueued_at=old.enqueued_at)
    assert pos == 1


async def test_answer_takes_the_call_out_of_its_queue(store: LiveStore) -> None:
    await ready_agents(store, "1001")
    await store.enqueue("c1", "sales", "ctl-a", T0)
    await store.enqueue("c2", "sales", "ctl-a", T0 + 1)
    await store.reserve("1001", "c1", "ctl-a", 20, T0 + 5)
    assert await store.position("c1") == (1, 2)  # still in line while it rings
    _, entry = await store.confirm("1001", "c1", T0 + 8)
    assert entry is not None and entry.waited(T0 + 8) == 8
    assert await store.position("c2") == (1, 1)
    assert await store.calls_of("ctl-a") == ["c2"]


# =========================================================================== recovery


async def seed_controller_a(store: LiveStore) -> None:
    """ctl-a: rings 1001 for c1, carries 1002's call c0, owns waiting c1 and c3; ctl-b
    owns c2 in between them."""
    await ready_agents(store, "1001", "1002", "1003")
    await store.reserve("1002", "c0", "ctl-a", 20, T0)
    await store.confirm("1002", "c0", T0 + 1)
    await store.enqueue("c1", "sales", "ctl-a", T0 + 2)
    await store.enqueue("c2", "sales", "ctl-b", T0 + 3)
    await store.enqueue("c3", "sales", "ctl-a", T0 + 4)
    await store.reserve("1001", "c1", "ctl-a", 20, T0 + 5)
    await store.reserve("1003", "c2", "ctl-b", 20, T0 + 5)


async def test_dead_controller_is_recovered_by_a_survivor(
    store: LiveStore, clients: Callable[..., aioredis.Redis]
) -> None:
    """ctl-a's heartbeat is gone: its reservation is released, the agent on its call is
    reported, its waiting callers are re-owned by ctl-b keeping their places; two
    survivors recovering at once recover each thing once."""
    await seed_controller_a(store)
    raw = clients()
    await raw.set("callctl:status:ctl-b", b"{}", ex=30)
    assert await store.dead_controllers() == ["ctl-a"]
    other = LiveStore(clients())
    first, second = await asyncio.gather(
        store.recover_controller("ctl-a", T0 + 6, heir="ctl-b"),
        other.recover_controller("ctl-a", T0 + 6, heir="ctl-b"),
    )
    done = first if first.released else second
    idle = second if first.released else first
    assert [t.agent_id for t in done.released] == ["1001"]
    assert done.released[0].agent.state is AgentState.READY
    assert done.on_call == ("1002",) and done.reowned == ("c1", "c3") and done.kept == ()
    assert idle.released == () and idle.reowned == ()
    assert [w.call_id for w in await store.waiting("sales")] == ["c1", "c2", "c3"]
    assert {w.controller for w in await store.waiting("sales")} == {"ctl-b"}
    assert await store.calls_of("ctl-b") == ["c1", "c2", "c3"]
    snap = await store.agent("1003")
    assert snap is not None and snap.controller == "ctl-b"  # ctl-b's own untouched
    snap = await store.agent("1002")
    assert snap is not None and snap.state is AgentState.ON_CALL


async def test_restarted_controller_gets_its_callers_back_in_place(store: LiveStore) -> None:
    await seed_controller_a(store)
    rec = await store.recover_controller("ctl-a", T0 + 30)
    assert rec.kept == ("c1", "c3") and rec.reowned == ()
    assert await store.calls_of("ctl-a") == ["c1", "c3"]
    assert await store.position("c3") == (3, 3)
    snap = await store.agent("1001")
    assert snap is not None and snap.state is AgentState.READY
    # the call carried by the restarted controller is still known, to reconcile
    assert (await store.recover_controller("ctl-a", T0 + 31)).on_call == ("1002",)
    await store.end_call("1002", "c0", T0 + 32, 0)
    await store.dequeue("c1")
    await store.dequeue("c3")
    rec = await store.recover_controller("ctl-a", T0 + 33)
    assert (rec.released, rec.on_call, rec.kept) == ((), (), ())
    assert "ctl-a" not in await store.controllers()  # nothing of its left to recover


# ============================================================================ plumbing


async def test_scripts_survive_a_script_cache_flush(store: LiveStore) -> None:
    """Registered once; a Redis restarted (empty script cache) gets them again."""
    await store.load_scripts()
    await store.redis.script_flush()
    t = await store.login("1001", T0, ready=True)
    assert t.agent.state is AgentState.READY


async def test_works_with_a_decoding_client(clients: Callable[..., aioredis.Redis]) -> None:
    store = LiveStore(clients(decode_responses=True))
    await ready_agents(store, "1001")
    await store.enqueue("c1", "sales", "ctl-a", T0)
    await store.reserve("1001", "c1", "ctl-a", 20, T0)
    t, entry = await store.confirm("1001", "c1", T0 + 1)
    assert t.agent.state is AgentState.ON_CALL and entry is not None
    assert (await store.agents(["1001", "nobody"]))[1] is None
