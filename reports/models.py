"""Call detail records (RPT-1): one ``Call`` per customer call, one ``CallLeg`` per channel.

The switch's unique ids are the unique keys, so a replayed event never makes a second row.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from acd.models import AgentProfile


class Direction(models.TextChoices):
    INBOUND = "inbound", _("inbound")
    OUTBOUND = "outbound", _("outbound")
    INTERNAL = "internal", _("internal")


class Call(models.Model):
    call_id = models.CharField(_("call id"), max_length=64, unique=True)
    direction = models.CharField(
        _("direction"), max_length=10, choices=Direction.choices, default=Direction.INBOUND
    )
    caller_number = models.CharField(_("caller number"), max_length=64, blank=True, db_index=True)
    caller_name = models.CharField(_("caller name"), max_length=128, blank=True)
    callee_number = models.CharField(_("called number"), max_length=64, blank=True, db_index=True)
    caller_region = models.CharField(_("caller region"), max_length=64, blank=True)
    agent = models.ForeignKey(
        AgentProfile,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="calls",
        verbose_name=_("agent"),
    )
    started_at = models.DateTimeField(_("started at"), null=True, blank=True, db_index=True)
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    duration = models.FloatField(_("duration (s)"), null=True, blank=True)
    talk_duration = models.FloatField(_("talk time (s)"), null=True, blank=True)
    end_cause = models.CharField(_("end cause"), max_length=32, blank=True)
    switch = models.CharField(_("switch"), max_length=32, blank=True)
    recording_name = models.CharField(_("recording"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("call")
        verbose_name_plural = _("calls")
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.caller_number} → {self.callee_number} ({self.call_id})"

    @property
    def is_live(self) -> bool:
        return self.ended_at is None


class CallLeg(models.Model):
    leg_id = models.CharField(_("leg id"), max_length=64, unique=True)
    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="legs")
    role = models.CharField(_("role"), max_length=16, blank=True)
    direction = models.CharField(_("direction"), max_length=10, choices=Direction.choices)
    caller_number = models.CharField(_("from"), max_length=64, blank=True)
    callee_number = models.CharField(_("to"), max_length=64, blank=True)
    channel_name = models.CharField(_("channel"), max_length=200, blank=True)
    offered_at = models.DateTimeField(_("offered at"), null=True, blank=True)
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    cause = models.CharField(_("hangup cause"), max_length=32, blank=True)
    cause_code = models.IntegerField(_("Q.850 code"), null=True, blank=True)

    class Meta:
        verbose_name = _("call leg")
        verbose_name_plural = _("call legs")
        ordering = ["offered_at"]

    def __str__(self) -> str:
        return f"{self.role} {self.caller_number}→{self.callee_number}"


class ProcessedEvent(models.Model):
    """Ids of bus events already projected: the projector's idempotency key."""

    event_id = models.CharField(max_length=64, primary_key=True)
    type = models.CharField(max_length=32)
    processed_at = models.DateTimeField(auto_now_add=True)
