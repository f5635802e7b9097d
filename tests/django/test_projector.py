"""The event projector writes CDRs idempotently (RPT-1, SW-4)."""

from __future__ import annotations

import pytest

from acd.models import AgentProfile
from reports.models import Call, CallLeg, ProcessedEvent
from reports.projector import project, project_many
from switch_control import contract as c

pytestmark = pytest.mark.django_db

T0 = 1_795_000_000.0


def call_events(call_id: str = "call-1") -> list[c.Event]:
    return [
        c.CallOffered(
            call_id=call_id,
            leg_id=call_id,
            direction=c.Direction.INBOUND,
            caller_number="13800138000",
            caller_name="张三",
            callee_number="4008001234",
            channel_name="PJSIP/trunk-1",
            switch="asterisk",
            at=T0,
        ),
        c.CallAnswered(call_id=call_id, leg_id=call_id, at=T0 + 1),
        c.CallOffered(
            call_id=call_id,
            leg_id=f"{call_id}-a0",
            direction=c.Direction.OUTBOUND,
            role=c.LegRole.AGENT,
            caller_number="13800138000",
            callee_number="1001",
            at=T0 + 2,
        ),
        c.CallAnswered(call_id=call_id, leg_id=f"{call_id}-a0", at=T0 + 5),
        c.CallBridged(call_id=call_id, leg_id=f"{call_id}-a0", bridge_id="b1", at=T0 + 5),
        c.CallEnded(
            call_id=call_id,
            leg_id=call_id,
            cause=c.HangupCause.NORMAL_CLEARING,
            cause_code=16,
            at=T0 + 65,
        ),
        c.CallEnded(call_id=call_id, leg_id=f"{call_id}-a0", at=T0 + 65.2),
        c.RecordingFinished(call_id=call_id, name="rec-call-1", duration=60.0, at=T0 + 65.3),
    ]


@pytest.fixture
def agent(django_user_model) -> AgentProfile:  # type: ignore[no-untyped-def]
    user = django_user_model.objects.create_user("agent1001", password="x-secret-1")
    return AgentProfile.objects.create(user=user, job_number="1001", extension="1001")


def test_a_call_becomes_one_cdr_with_legs_numbers_agent_and_durations(agent):
    for e in call_events():
        assert project(e) is True
    call = Call.objects.get(call_id="call-1")
    assert (call.caller_number, call.caller_name, call.callee_number) == (
        "13800138000",
        "张三",
        "4008001234",
    )
    assert call.caller_region  # region of a Chinese mobile number, from phonenumbers
    assert call.direction == "inbound"
    assert call.agent == agent
    assert call.duration == 65.0
    assert call.talk_duration == 64.0
    assert call.end_cause == "NORMAL_CLEARING"
    assert call.recording_name == "rec-call-1"
    legs = {x.leg_id: x for x in CallLeg.objects.filter(call=call)}
    assert set(legs) == {"call-1", "call-1-a0"}
    assert legs["call-1-a0"].role == "agent"
    assert legs["call-1"].cause_code == 16


def test_replaying_every_event_changes_nothing(agent):
    events = call_events()
    for e in events:
        project(e)
    before = list(Call.objects.values()), list(CallLeg.objects.values())
    for e in events + list(reversed(events)):
        assert project(e) is False
    assert (list(Call.objects.values()), list(CallLeg.objects.values())) == before
    assert ProcessedEvent.objects.count() == len(events)


def test_events_out_of_order_still_give_a_complete_cdr():
    events = call_events("call-2")
    for e in [events[5], *events[:5], *events[6:]]:
        project(e)
    call = Call.objects.get(call_id="call-2")
    assert call.caller_number == "13800138000"
    assert call.ended_at is not None
    assert call.duration == 65.0


def test_ended_while_the_controller_was_down_closes_the_cdr():
    project(call_events("call-3")[0])
    project(
        c.CallEnded(call_id="call-3", leg_id="call-3", cause=c.HangupCause.SWITCH_LOST, at=T0 + 30)
    )
    call = Call.objects.get(call_id="call-3")
    assert call.end_cause == "SWITCH_LOST"
    assert call.duration == 30.0


def test_a_batch_is_projected_once_even_when_it_repeats_events(agent):
    events = call_events("call-9")
    assert project_many(events + events[:3]) == len(events)
    assert project_many(events) == 0
    call = Call.objects.get(call_id="call-9")
    assert call.duration == 65.0 and call.agent == agent
    assert ProcessedEvent.objects.filter(event_id__in=[e.id for e in events]).count() == len(events)


def _rows(call_id: str) -> tuple[dict, list[dict]]:
    call = Call.objects.filter(call_id=call_id).values().get()
    legs = list(CallLeg.objects.filter(call__call_id=call_id).order_by("leg_id").values())
    strip = ("id", "call_id")
    return (
        {k: v for k, v in call.items() if k not in strip},
        [
            {k: v.replace(call_id, "X") if k == "leg_id" else v for k, v in leg.items()}
            for leg in ({k: v for k, v in x.items() if k not in strip} for x in legs)
        ],
    )


@pytest.mark.parametrize("split", [1, 2, 3, 5, 8])
def test_batches_of_any_size_give_the_same_cdr_as_one_event_at_a_time(agent, split):
    """The batch path (one transaction, rows loaded and saved at once) must apply the
    same rules as event-by-event projection, including across batches and calls."""
    one = call_events("one")
    for e in one:
        project(e)
    many = call_events("many")
    other = call_events("other")
    mixed = [e for pair in zip(many, other, strict=True) for e in pair]
    for i in range(0, len(mixed), split):
        project_many(mixed[i : i + split])
    expected = _rows("one")
    assert _rows("many") == expected
    assert _rows("other") == expected
    assert Call.objects.get(call_id="many").agent == agent


def test_a_batch_reading_rows_written_by_earlier_batches_keeps_them():
    events = call_events("call-5")
    project_many(events[:3])  # offered, answered, agent offered
    project_many(events[5:7])  # both legs ended
    call = Call.objects.get(call_id="call-5")
    assert call.ended_at is not None and call.caller_number == "13800138000"
    assert call.duration == 65.0 and call.end_cause == "NORMAL_CLEARING"
    assert CallLeg.objects.filter(call=call, ended_at__isnull=True).count() == 0


def test_old_event_ids_are_pruned_and_recent_ones_kept(agent):
    from datetime import timedelta

    from django.utils import timezone

    from reports.projector import prune_processed

    events = call_events("call-7")
    project_many(events)
    old = events[:3]
    ProcessedEvent.objects.filter(event_id__in=[e.id for e in old]).update(
        processed_at=timezone.now() - timedelta(days=8)
    )
    assert prune_processed(timedelta(days=7)) == 3
    assert ProcessedEvent.objects.count() == len(events) - 3
    assert Call.objects.get(call_id="call-7").ended_at is not None  # CDRs untouched


def test_a_batch_reads_rows_through_indexes_not_by_scanning_the_cdr_tables(agent):
    """The projector's cost per batch must not grow with the CDRs already stored: every
    query it makes finds its rows through an index (a query OR-ing the call id and the leg
    id across the join used to scan every leg ever stored, once per batch)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    project_many(call_events("earlier"))
    with CaptureQueriesContext(connection) as ctx:
        project_many(call_events("call-2"))
        project_many(call_events("call-2")[2:] + call_events("call-3"))
    reads = [q["sql"] for q in ctx.captured_queries if q["sql"].lstrip().startswith("SELECT")]
    assert reads
    with connection.cursor() as cursor:
        for sql in reads:
            cursor.execute("EXPLAIN QUERY PLAN " + sql)
            plan = " | ".join(str(row[-1]) for row in cursor.fetchall())
            assert "SCAN" not in plan, f"{sql}\n-> {plan}"


def test_a_batch_as_large_as_projector_batch_is_one_transaction_with_every_cdr(
    agent, settings, django_assert_max_num_queries
):
    """PROJECTOR_BATCH events (2000 by default) in one project_many: the IN lists of the
    batch's reads go past SQLite's old 999-variable limit and every call is complete."""
    n_calls = settings.PROJECTOR_BATCH // 8 + 1
    events = [e for i in range(n_calls) for e in call_events(f"big-{i}")]
    assert len(events) > settings.PROJECTOR_BATCH
    with django_assert_max_num_queries(30):  # a fixed number of statements, not per call
        assert project_many(events) == len(events)
    assert Call.objects.filter(call_id__startswith="big-", ended_at__isnull=False).count() == (
        n_calls
    )
    assert CallLeg.objects.filter(call__call_id__startswith="big-").count() == 2 * n_calls
    assert Call.objects.filter(call_id__startswith="big-", agent=agent).count() == n_calls


def test_acd_events_in_a_batch_are_left_alone_and_the_cdr_is_whole(agent):
    """Issue 13: the projector meets events it does not project (the ACD's, for the
    relay): they change nothing, are not counted as projected, and the CDR is complete."""
    events = call_events("call-acd")
    acd = [
        c.CallQueued(call_id="call-acd", queue_id="q-sales", position=1, at=T0 + 1.5),
        c.AgentOffered(
            call_id="call-acd", agent_id="1001", queue_id="q-sales", leg_id="call-acd-a0"
        ),
        c.AgentStateChanged(agent_id="1001", state="on_call", by="system"),
        c.CallAbandoned(call_id="call-other", queue_id="q-sales", waited=12.5),
    ]
    assert project_many(events[:2] + acd + events[2:]) == len(events)
    assert project_many(acd) == 0
    call = Call.objects.get(call_id="call-acd")
    assert call.ended_at is not None and call.agent == agent
    assert not Call.objects.filter(call_id="call-other").exists()
    assert not ProcessedEvent.objects.filter(event_id__in=[e.id for e in acd]).exists()
