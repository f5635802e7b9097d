"""The event projector: ``callctl:events`` -> Call / CallLeg rows (RPT-1, SW-4).

Idempotent by event id (``ProcessedEvent``): a replayed or redelivered event changes
nothing. Tolerant of order: any event about an unknown call creates the call row, later
events fill it in. Run by ``manage.py run_projector`` (and inside ``run_controller``).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from django.db import IntegrityError, transaction

from acd.models import AgentProfile
from callcenter.core.phones import region_of
from switch_control import contract as c

from .models import Call, CallLeg, ProcessedEvent

logger = logging.getLogger(__name__)

PROJECTED = (c.CallOffered, c.CallAnswered, c.CallBridged, c.CallEnded, c.RecordingFinished)


def ts(at: float) -> datetime:
    return datetime.fromtimestamp(at, tz=UTC)


def project(event: c.Event) -> bool:
    """Apply one event; return False if it had been applied before (or is not ours)."""
    if not isinstance(event, PROJECTED):
        return False
    try:
        with transaction.atomic():
            _, created = ProcessedEvent.objects.get_or_create(
                event_id=event.id, defaults={"type": event.TYPE}
            )
            if not created:
                return False
            _apply(event)
    except IntegrityError:  # a concurrent projector got there first
        return False
    return True


def project_many(events: list[c.Event]) -> int:
    """Apply a batch in one transaction (the projector's normal path: far fewer commits).
    Raises on any failure so the caller can fall back to ``project`` one by one."""
    ours = [e for e in events if isinstance(e, PROJECTED)]
    if not ours:
        return 0
    with transaction.atomic():
        seen = set(
            ProcessedEvent.objects.filter(event_id__in=[e.id for e in ours]).values_list(
                "event_id", flat=True
            )
        )
        new = []
        for event in ours:
            if event.id in seen:
                continue
            seen.add(event.id)
            _apply(event)
            new.append(ProcessedEvent(event_id=event.id, type=event.TYPE))
        ProcessedEvent.objects.bulk_create(new)
    return len(new)


def _call(call_id: str) -> Call:
    call, _ = Call.objects.select_for_update().get_or_create(call_id=call_id)
    return call


def _durations(call: Call) -> None:
    """Durations follow the timestamps, whatever order the events came in."""
    if call.ended_at is None or call.started_at is None:
        return
    call.duration = round((call.ended_at - call.started_at).total_seconds(), 3)
    if call.answered_at:
        call.talk_duration = round((call.ended_at - call.answered_at).total_seconds(), 3)


def _apply(event: c.Event) -> None:
    if isinstance(event, c.CallOffered):
        call = _call(event.call_id)
        first = not call.legs.exists()
        CallLeg.objects.get_or_create(
            leg_id=event.leg_id,
            defaults=dict(
                call=call,
                role=event.role.value,
                direction=event.direction.value,
                caller_number=event.caller_number,
                callee_number=event.callee_number,
                channel_name=event.channel_name,
                offered_at=ts(event.at),
            ),
        )
        if first or event.role is c.LegRole.CALLER:
            call.direction = event.direction.value
            call.caller_number = event.caller_number
            call.caller_name = event.caller_name
            call.callee_number = event.callee_number
            call.caller_region = region_of(event.caller_number)
            call.switch = event.switch
            if call.started_at is None or ts(event.at) < call.started_at:
                call.started_at = ts(event.at)
        if event.role is c.LegRole.AGENT and call.agent_id is None:
            call.agent = AgentProfile.objects.filter(extension=event.callee_number).first()
        _durations(call)
        call.save()
    elif isinstance(event, c.CallAnswered):
        leg = CallLeg.objects.filter(leg_id=event.leg_id).first()
        if leg and leg.answered_at is None:
            leg.answered_at = ts(event.at)
            leg.save(update_fields=["answered_at"])
        call = _call(event.call_id)
        if call.answered_at is None or ts(event.at) < call.answered_at:
            call.answered_at = ts(event.at)
            _durations(call)
            call.save()
    elif isinstance(event, c.CallBridged):
        leg = CallLeg.objects.filter(leg_id=event.leg_id).select_related("call").first()
        if leg and leg.role == c.LegRole.AGENT.value and leg.call.agent_id is None:
            agent = AgentProfile.objects.filter(extension=leg.callee_number).first()
            if agent:
                leg.call.agent = agent
                leg.call.save(update_fields=["agent"])
    elif isinstance(event, c.CallEnded):
        call = _call(event.call_id)
        leg = CallLeg.objects.filter(leg_id=event.leg_id).first()
        if leg is None:  # ended before we saw it offered (e.g. replay order)
            leg = CallLeg.objects.create(leg_id=event.leg_id, call=call, direction=call.direction)
        if leg.ended_at is None:
            leg.ended_at = ts(event.at)
            leg.cause = event.cause.value
            leg.cause_code = event.cause_code or None
            leg.save(update_fields=["ended_at", "cause", "cause_code"])
        live = call.legs.filter(ended_at__isnull=True).exists()
        if (leg.role == c.LegRole.CALLER.value or not live) and call.ended_at is None:
            call.ended_at = ts(event.at)
            call.end_cause = event.cause.value
            if call.started_at is None:
                call.started_at = leg.offered_at or call.ended_at
            _durations(call)
            call.save()
    elif isinstance(event, c.RecordingFinished) and event.call_id:
        call = _call(event.call_id)
        if not call.recording_name:
            call.recording_name = event.name
            call.save(update_fields=["recording_name"])
