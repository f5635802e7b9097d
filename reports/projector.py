"""The event projector: ``callctl:events`` -> Call / CallLeg rows (RPT-1, SW-4).

Idempotent by event id (``ProcessedEvent``): a replayed or redelivered event changes
nothing. Tolerant of order: any event about an unknown call creates the call row, later
events fill it in. Run by ``manage.py run_projector``.

Built for throughput (one busy site sends thousands of events a second): a batch of
events is applied in one transaction with a fixed number of statements, whatever its
size. The rows the batch touches are read at once (``_Batch.load``), every event is
folded into those objects in memory (``_Batch.apply``, the rules of the CDR), and the
result is written back with one INSERT per table and one ``executemany`` UPDATE per
table (``_Batch.save``). The SQL is plain and portable (SQLite, PostgreSQL).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Model

from acd.models import AgentProfile
from callcenter.core.phones import region_of
from switch_control import contract as c

from .models import Call, CallLeg, ProcessedEvent

logger = logging.getLogger(__name__)

PROJECTED = (c.CallOffered, c.CallAnswered, c.CallBridged, c.CallEnded, c.RecordingFinished)

CALL_FIELDS = (
    "direction",
    "caller_number",
    "caller_name",
    "callee_number",
    "caller_region",
    "agent_id",
    "started_at",
    "answered_at",
    "ended_at",
    "duration",
    "talk_duration",
    "end_cause",
    "switch",
    "recording_name",
)
LEG_FIELDS = ("answered_at", "ended_at", "cause", "cause_code")


def ts(at: float) -> datetime:
    return datetime.fromtimestamp(at, tz=UTC)


@lru_cache(maxsize=8192)
def _region(number: str) -> str:
    """Caller region (phonenumbers' geocoder is slow; callers call again)."""
    return region_of(number)


def project(event: c.Event) -> bool:
    """Apply one event; return False if it had been applied before (or is not ours)."""
    if not isinstance(event, PROJECTED):
        return False
    try:
        return project_many([event]) == 1
    except IntegrityError:  # a concurrent projector got there first
        return False


def project_many(events: list[c.Event]) -> int:
    """Apply a batch in one transaction; return how many events were new.

    Raises on any failure (nothing of the batch is written) so the caller can fall
    back to ``project`` one by one."""
    ours = [e for e in events if isinstance(e, PROJECTED)]
    if not ours:
        return 0
    with transaction.atomic():
        seen = set(
            ProcessedEvent.objects.filter(event_id__in={e.id for e in ours}).values_list(
                "event_id", flat=True
            )
        )
        new: list[c.Event] = []
        for event in ours:
            if event.id not in seen:
                seen.add(event.id)
                new.append(event)
        if not new:
            return 0
        batch = _Batch()
        batch.load(new)
        for event in new:
            batch.apply(event)
        batch.save()
        _mark_processed(new)
    return len(new)


class _Batch:
    """The Call and CallLeg rows one batch touches, changed in memory, then saved."""

    def __init__(self) -> None:
        self.calls: dict[str, Call] = {}  # call_id -> row (loaded or new)
        self.legs: dict[str, CallLeg] = {}  # leg_id -> row (loaded or new)
        self.legs_of: defaultdict[str, list[CallLeg]] = defaultdict(list)  # call_id -> legs
        self.agents: dict[str, int | None] = {}  # extension -> AgentProfile id
        self.dirty_calls: dict[str, Call] = {}
        self.dirty_legs: dict[str, CallLeg] = {}

    # ------------------------------------------------------------------ load
    def load(self, events: list[c.Event]) -> None:
        call_ids = {e.call_id for e in events if getattr(e, "call_id", "")}
        leg_ids = {e.leg_id for e in events if getattr(e, "leg_id", "")}
        by_pk: dict[int, Call] = {}
        for call in Call.objects.select_for_update().filter(call_id__in=call_ids):
            self.calls[call.call_id] = call
            by_pk[call.pk] = call
        # two indexed lookups (the call FK, the unique leg id): one query OR-ing them
        # across the join made SQLite scan every leg ever stored, once per batch
        by_call = CallLeg.objects.filter(call_id__in=list(by_pk)).order_by()
        legs_by_id = {leg.pk: leg for leg in by_call}
        for leg in CallLeg.objects.filter(leg_id__in=leg_ids).order_by():
            legs_by_id.setdefault(leg.pk, leg)
        legs = list(legs_by_id.values())
        missing = {leg.call_id for leg in legs} - set(by_pk)
        if missing:  # a leg named by an event of another call (should not happen)
            for call in Call.objects.select_for_update().filter(pk__in=missing):
                self.calls[call.call_id] = call
                by_pk[call.pk] = call
        for leg in legs:
            call = by_pk[leg.call_id]
            leg.call = call
            self.legs[leg.leg_id] = leg
            self.legs_of[call.call_id].append(leg)

    def _call(self, call_id: str) -> Call:
        call = self.calls.get(call_id)
        if call is None:
            call = self.calls[call_id] = Call(call_id=call_id)
            self._changed(call)  # a new row, whatever else happens to it
        return call

    def _agent_id(self, extension: str) -> int | None:
        if extension not in self.agents:
            self.agents[extension] = (
                AgentProfile.objects.filter(extension=extension)
                .values_list("id", flat=True)
                .first()
            )
        return self.agents[extension]

    def _new_leg(self, call: Call, leg_id: str, **values: Any) -> CallLeg:
        leg = CallLeg(leg_id=leg_id, call=call, **values)
        self.legs[leg_id] = leg
        self.legs_of[call.call_id].append(leg)
        return leg

    def _changed(self, obj: Call | CallLeg) -> None:
        if isinstance(obj, Call):
            self.dirty_calls[obj.call_id] = obj
        else:
            self.dirty_legs[obj.leg_id] = obj

    # ------------------------------------------------------------------ rules
    def apply(self, event: c.Event) -> None:
        if isinstance(event, c.CallOffered):
            self._offered(event)
        elif isinstance(event, c.CallAnswered):
            self._answered(event)
        elif isinstance(event, c.CallBridged):
            leg = self.legs.get(event.leg_id)
            if leg and leg.role == c.LegRole.AGENT.value and leg.call.agent_id is None:
                agent = self._agent_id(leg.callee_number)
                if agent:
                    leg.call.agent_id = agent
                    self._changed(leg.call)
        elif isinstance(event, c.CallEnded):
            self._ended(event)
        elif isinstance(event, c.RecordingFinished) and event.call_id:
            call = self._call(event.call_id)
            if not call.recording_name:
                call.recording_name = event.name
                self._changed(call)

    def _offered(self, event: c.CallOffered) -> None:
        call = self._call(event.call_id)
        first = not self.legs_of[event.call_id]
        if event.leg_id not in self.legs:
            leg = self._new_leg(
                call,
                event.leg_id,
                role=event.role.value,
                direction=event.direction.value,
                caller_number=event.caller_number,
                callee_number=event.callee_number,
                channel_name=event.channel_name,
                offered_at=ts(event.at),
            )
            self._changed(leg)
        if first or event.role is c.LegRole.CALLER:
            call.direction = event.direction.value
            call.caller_number = event.caller_number
            call.caller_name = event.caller_name
            call.callee_number = event.callee_number
            call.caller_region = _region(event.caller_number)
            call.switch = event.switch
            if call.started_at is None or ts(event.at) < call.started_at:
                call.started_at = ts(event.at)
        if event.role is c.LegRole.AGENT and call.agent_id is None:
            call.agent_id = self._agent_id(event.callee_number)
        _durations(call)
        self._changed(call)

    def _answered(self, event: c.CallAnswered) -> None:
        leg = self.legs.get(event.leg_id)
        if leg and leg.answered_at is None:
            leg.answered_at = ts(event.at)
            self._changed(leg)
        call = self._call(event.call_id)
        if call.answered_at is None or ts(event.at) < call.answered_at:
            call.answered_at = ts(event.at)
            _durations(call)
            self._changed(call)

    def _ended(self, event: c.CallEnded) -> None:
        call = self._call(event.call_id)
        leg = self.legs.get(event.leg_id)
        if leg is None:  # ended before we saw it offered (e.g. replay order)
            leg = self._new_leg(call, event.leg_id, direction=call.direction)
            self._changed(leg)
        if leg.ended_at is None:
            leg.ended_at = ts(event.at)
            leg.cause = event.cause.value
            leg.cause_code = event.cause_code or None
            self._changed(leg)
        live = any(x.ended_at is None for x in self.legs_of[call.call_id])
        if (leg.role == c.LegRole.CALLER.value or not live) and call.ended_at is None:
            call.ended_at = ts(event.at)
            call.end_cause = event.cause.value
            if call.started_at is None:
                call.started_at = leg.offered_at or call.ended_at
            _durations(call)
            self._changed(call)

    # ------------------------------------------------------------------ save
    def save(self) -> None:
        new_calls = [x for x in self.dirty_calls.values() if x.pk is None]
        old_calls = [x for x in self.dirty_calls.values() if x.pk is not None]
        if new_calls:
            _insert(Call, new_calls)
            pks = _pks(Call, "call_id", [x.call_id for x in new_calls])
            for x in new_calls:
                x.pk = pks[x.call_id]
        _update(Call, old_calls, CALL_FIELDS)
        new_legs = [x for x in self.dirty_legs.values() if x.pk is None]
        old_legs = [x for x in self.dirty_legs.values() if x.pk is not None]
        for leg in new_legs:
            leg.call_id = leg.call.pk
        if new_legs:
            _insert(CallLeg, new_legs)
        _update(CallLeg, old_legs, LEG_FIELDS)


def _insert(model: type[Model], rows: list[Any]) -> None:
    """One ``executemany`` INSERT of every column but the automatic primary key
    (``bulk_create`` compiled a statement per batch: a third of the projector's CPU)."""
    meta = model._meta
    columns = [f for f in meta.concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    sql = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608 - identifiers from meta
        quote(meta.db_table),
        ", ".join(quote(col.column) for col in columns),
        ", ".join(["%s"] * len(columns)),
    )
    params = [
        [col.get_db_prep_save(getattr(row, col.attname), connection) for col in columns]
        for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def _pks(model: type[Model], key: str, values: list[str]) -> dict[str, int]:
    """Primary keys of the rows whose unique ``key`` column is in ``values``."""
    meta = model._meta
    quote = connection.ops.quote_name
    found: dict[str, int] = {}
    with connection.cursor() as cursor:
        for start in range(0, len(values), 500):  # SQLite's bound-parameter limit
            chunk = values[start : start + 500]
            sql = "SELECT {}, {} FROM {} WHERE {} IN ({})".format(  # noqa: S608 - from meta
                quote(meta.get_field(key).column),
                quote(meta.pk.column),
                quote(meta.db_table),
                quote(meta.get_field(key).column),
                ", ".join(["%s"] * len(chunk)),
            )
            cursor.execute(sql, chunk)
            found.update(cursor.fetchall())
    return found


def _update(model: type[Model], rows: list[Any], fields: tuple[str, ...]) -> None:
    """One ``executemany`` UPDATE of ``fields`` for ``rows`` (plain SQL: the ORM's
    ``bulk_update`` builds a CASE per field per row, far slower to compile)."""
    if not rows:
        return
    meta = model._meta
    columns = [meta.get_field(f) for f in fields]  # "agent_id": the FK by its attname
    quote = connection.ops.quote_name
    # identifiers come from the model's meta (quoted), never from data: values are params
    sql = "UPDATE {} SET {} WHERE {} = %s".format(  # noqa: S608
        quote(meta.db_table),
        ", ".join(f"{quote(col.column)} = %s" for col in columns),
        quote(meta.pk.column),
    )
    params = [
        [col.get_db_prep_save(getattr(row, col.attname), connection) for col in columns] + [row.pk]
        for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def prune_processed(older_than: timedelta) -> int:
    """Forget event ids projected longer ago than ``older_than`` (the idempotency window
    only has to outlive redelivery from the stream); returns how many were deleted."""
    cutoff = datetime.now(tz=UTC) - older_than
    deleted, _ = ProcessedEvent.objects.filter(processed_at__lt=cutoff).delete()
    return deleted


def _mark_processed(events: list[c.Event]) -> None:
    """Insert the ``ProcessedEvent`` rows with one ``executemany`` (``bulk_create`` spent
    more time compiling SQL than SQLite spent storing the rows)."""
    meta = ProcessedEvent._meta
    fields = [meta.get_field(f) for f in ("event_id", "type", "processed_at")]
    quote = connection.ops.quote_name
    sql = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608 - identifiers from meta
        quote(meta.db_table),
        ", ".join(quote(f.column) for f in fields),
        ", ".join(["%s"] * len(fields)),
    )
    now = fields[2].get_db_prep_save(datetime.now(tz=UTC), connection)
    with connection.cursor() as cursor:
        cursor.executemany(sql, [(e.id, e.TYPE, now) for e in events])


def _durations(call: Call) -> None:
    """Durations follow the timestamps, whatever order the events came in."""
    if call.ended_at is None or call.started_at is None:
        return
    call.duration = round((call.ended_at - call.started_at).total_seconds(), 3)
    if call.answered_at:
        call.talk_duration = round((call.ended_at - call.answered_at).total_seconds(), 3)
