"""Teams, agents and their state log (ADM-1, AG-1, ACD-7)."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from callcenter.core.models import Department

extension_validator = RegexValidator(r"^\d{3,6}$", _("An extension has 3 to 6 digits (SW-6)."))
job_number_validator = RegexValidator(r"^[A-Za-z0-9_-]{1,20}$", _("Letters, digits, - and _."))


class AgentState(models.TextChoices):
    """ACD-7 agent states."""

    LOGGED_OUT = "logged_out", _("logged out")
    READY = "ready", _("ready")
    NOT_READY = "not_ready", _("not ready")
    RINGING = "ringing", _("ringing")
    ON_CALL = "on_call", _("on call")
    WRAP_UP = "wrap_up", _("wrap-up")


class Team(models.Model):
    name = models.CharField(_("name"), max_length=100)
    department = models.ForeignKey(
        Department, on_delete=models.PROTECT, related_name="teams", verbose_name=_("department")
    )
    leader = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="led_teams",
        verbose_name=_("team leader"),
    )

    class Meta:
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        ordering = ["department", "name"]
        unique_together = [("department", "name")]

    def __str__(self) -> str:
        return self.name


class AgentProfile(models.Model):
    """An agent: a Django user with a job number (工号) and an extension.

    The console login is job number + password + extension (AG-1)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent"
    )
    job_number = models.CharField(
        _("job number"), max_length=20, unique=True, validators=[job_number_validator]
    )
    extension = models.CharField(
        _("extension"), max_length=6, unique=True, validators=[extension_validator]
    )
    display_name = models.CharField(_("display name"), max_length=100, blank=True)
    sip_password = models.CharField(
        _("SIP password"),
        max_length=64,
        blank=True,
        help_text=_("Password of the agent's phone (SIP/WebRTC) on the switch."),
    )
    team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="agents",
        verbose_name=_("team"),
    )
    state = models.CharField(
        _("state"), max_length=16, choices=AgentState.choices, default=AgentState.LOGGED_OUT
    )
    state_reason = models.CharField(_("not-ready reason"), max_length=50, blank=True)
    state_since = models.DateTimeField(_("state since"), null=True, blank=True)

    class Meta:
        verbose_name = _("agent")
        verbose_name_plural = _("agents")
        ordering = ["job_number"]

    def __str__(self) -> str:
        return (
            f"{self.job_number} {self.display_name or self.user.get_username()} ({self.extension})"
        )


class AgentStateLog(models.Model):
    """Every state change of an agent (ACD-7), with how long the state lasted."""

    agent = models.ForeignKey(
        AgentProfile, on_delete=models.CASCADE, related_name="state_log", verbose_name=_("agent")
    )
    state = models.CharField(_("state"), max_length=16, choices=AgentState.choices)
    reason = models.CharField(_("reason"), max_length=50, blank=True)
    started_at = models.DateTimeField(_("started at"), db_index=True)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    event_id = models.CharField(max_length=64, unique=True, null=True, blank=True)

    class Meta:
        verbose_name = _("agent state log")
        verbose_name_plural = _("agent state log")
        ordering = ["-started_at"]

    @property
    def duration(self) -> float | None:
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()
