"""Teams, agents and their state log (ADM-1, AG-1, ACD-7); queues, skills, membership and
not-ready reasons (ACD-1, ACD-5, ACD-7, ACD-8).

Overflow rules live in ``acd/overflow.py`` and the number and region rules in
``acd/number_rules.py``; both are models of this app, imported at the end of this module.
The controller reads all of it as one snapshot: ``acd.selectors.config_snapshot``."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from callcenter.core.models import Department

from .choices import UNKNOWN_STRATEGY, Strategy
from .validation import at_least_one_second

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


# --- queues (skill groups), skills and membership: ACD-1, ACD-2, ACD-5, ACD-6, ACD-8 ------


DTMF_KEYS = [(k, k) for k in "0123456789*#"]
level_range = [
    MinValueValidator(1, _("A level is from 1 to 10.")),
    MaxValueValidator(10, _("A level is from 1 to 10.")),
]


class Queue(models.Model):
    """A queue (skill group, 技能组) of one department: how its callers wait and overflow.

    Times are whole seconds. Zero or negative ring timeouts, maximum waits and
    announcement intervals are refused; a wrap-up of 0 means none."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    department = models.ForeignKey(
        Department, on_delete=models.PROTECT, related_name="queues", verbose_name=_("department")
    )
    shared_with = models.ManyToManyField(
        Department,
        blank=True,
        related_name="shared_queues",
        verbose_name=_("also served by"),
        help_text=_("Agents of these departments may serve this queue too."),
    )
    strategy = models.CharField(
        _("strategy"),
        max_length=20,
        choices=Strategy.choices,
        default=Strategy.LONGEST_IDLE,
        error_messages={"invalid_choice": UNKNOWN_STRATEGY},
    )
    priority = models.SmallIntegerField(
        _("priority"),
        default=0,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text=_("0-100; an agent in several queues gets the higher queue's callers first."),
    )
    ring_timeout = models.IntegerField(
        _("ring timeout (s)"), default=20, validators=[at_least_one_second]
    )
    wrap_up_time = models.IntegerField(
        _("wrap-up time (s)"),
        default=30,
        validators=[MinValueValidator(0, _("The wrap-up time cannot be negative."))],
        help_text=_("After-call work after each call; 0 for none."),
    )
    max_wait = models.IntegerField(
        _("maximum wait (s)"),
        default=300,
        validators=[at_least_one_second],
        help_text=_(
            "Then the caller follows the “maximum wait” overflow rule (voicemail if none)."
        ),
    )
    ring_all_limit = models.PositiveSmallIntegerField(
        _("ring-all limit"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1, _("Ring at least 1 agent, or leave it empty."))],
        help_text=_("Ring all: at most this many agents at once; empty rings every free one."),
    )
    owner_wait = models.PositiveIntegerField(
        _("wait for the owner agent (s)"),
        default=30,
        help_text=_(
            "A customer's owner agent is preferred this long, then anyone (ACD-3); 0: off."
        ),
    )
    last_agent_wait = models.PositiveIntegerField(
        _("wait for the last agent (s)"),
        default=0,
        help_text=_("Then the agent of the caller's last call, this long; 0: off."),
    )
    announce_position = models.BooleanField(_("announce position"), default=True)
    announce_wait_time = models.BooleanField(_("announce estimated wait"), default=True)
    announce_every = models.IntegerField(
        _("announce every (s)"), default=60, validators=[at_least_one_second]
    )
    moh_class = models.CharField(
        _("music-on-hold class"),
        max_length=80,
        default="default",
        validators=[RegexValidator(r"^[A-Za-z0-9_-]+$", _("Letters, digits, - and _."))],
    )
    callback_enabled = models.BooleanField(_("offer a callback"), default=False)
    callback_key = models.CharField(_("callback key"), max_length=1, choices=DTMF_KEYS, default="1")
    enabled = models.BooleanField(_("enabled"), default=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("queue")
        verbose_name_plural = _("queues")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(strategy__in=Strategy.values),
                name="acd_queue_strategy_known",
                violation_error_message=_("Unknown strategy."),
            ),
            models.CheckConstraint(
                condition=models.Q(ring_timeout__gte=1, max_wait__gte=1, announce_every__gte=1)
                & models.Q(wrap_up_time__gte=0),
                name="acd_queue_times_positive",
                violation_error_message=_("Times must be at least 1 second."),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.max_wait is not None and self.ring_timeout is not None:
            if 0 < self.max_wait < self.ring_timeout:
                raise ValidationError(
                    {
                        "max_wait": _(
                            "The maximum wait (%(wait)s s) is shorter than the ring timeout "
                            "(%(ring)s s): no agent could be rung to the end."
                        )
                        % {"wait": self.max_wait, "ring": self.ring_timeout}
                    }
                )

    def may_be_served_by(self, agent: AgentProfile) -> bool:
        """The agent's department is the queue's, one below it, or one it is shared with."""
        if agent.team is None:
            return False
        allowed = {self.department_id}
        if self.pk:
            allowed |= set(self.shared_with.values_list("pk", flat=True))
        dept: Department | None = agent.team.department
        seen: set[int] = set()
        while dept is not None and dept.pk not in seen:
            if dept.pk in allowed:
                return True
            seen.add(dept.pk)
            dept = dept.parent
        return False


class Skill(models.Model):
    """A skill (技能) agents have at a level and queues ask for (skill-weighted, ACD-1)."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    description = models.CharField(_("description"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("skill")
        verbose_name_plural = _("skills")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AgentSkill(models.Model):
    agent = models.ForeignKey(
        AgentProfile, on_delete=models.CASCADE, related_name="skills", verbose_name=_("agent")
    )
    skill = models.ForeignKey(
        Skill, on_delete=models.CASCADE, related_name="agents", verbose_name=_("skill")
    )
    level = models.PositiveSmallIntegerField(_("level"), default=5, validators=level_range)

    class Meta:
        verbose_name = _("agent skill")
        verbose_name_plural = _("agent skills")
        unique_together = [("agent", "skill")]

    def __str__(self) -> str:
        return f"{self.agent} · {self.skill} {self.level}"


class QueueSkill(models.Model):
    """A skill a queue asks for: agents below ``min_level`` are not offered its calls, and
    skill-weighted routing prefers the highest sum of levels in the queue's skills."""

    queue = models.ForeignKey(
        Queue, on_delete=models.CASCADE, related_name="skills", verbose_name=_("queue")
    )
    skill = models.ForeignKey(
        Skill, on_delete=models.CASCADE, related_name="queues", verbose_name=_("skill")
    )
    min_level = models.PositiveSmallIntegerField(
        _("minimum level"), default=1, validators=level_range
    )

    class Meta:
        verbose_name = _("queue skill")
        verbose_name_plural = _("queue skills")
        unique_together = [("queue", "skill")]

    def __str__(self) -> str:
        return f"{self.queue} · {self.skill}"


class QueueMember(models.Model):
    """An agent who may serve a queue (ACD-8); signing in and out is live state."""

    queue = models.ForeignKey(
        Queue, on_delete=models.CASCADE, related_name="members", verbose_name=_("queue")
    )
    agent = models.ForeignKey(
        AgentProfile, on_delete=models.CASCADE, related_name="queues", verbose_name=_("agent")
    )
    tier = models.PositiveSmallIntegerField(
        _("tier"),
        default=1,
        validators=[MinValueValidator(1)],
        help_text=_("1 is offered calls first; linear routing rings in this order."),
    )
    position = models.PositiveSmallIntegerField(
        _("position"),
        default=0,
        help_text=_("Order within the tier for linear and round-robin routing."),
    )
    self_sign_in = models.BooleanField(
        _("may sign in and out"),
        default=True,
        help_text=_("The agent may sign in and out of this queue from the console."),
    )

    class Meta:
        verbose_name = _("queue member")
        verbose_name_plural = _("queue members")
        ordering = ["queue", "tier", "position", "agent"]
        unique_together = [("queue", "agent")]

    def __str__(self) -> str:
        return f"{self.queue} · {self.agent}"

    def clean(self) -> None:
        if self.queue_id is None or self.agent_id is None:
            return
        if self.agent.team is None:
            raise ValidationError(
                {
                    "agent": _(
                        "Agent %(agent)s is in no team, so in no department: "
                        "put them in a team first."
                    )
                    % {"agent": self.agent}
                }
            )
        if not self.queue.may_be_served_by(self.agent):
            raise ValidationError(
                {
                    "agent": _(
                        "Agent %(agent)s belongs to department %(dept)s and may not serve "
                        "queue %(queue)s of department %(qdept)s."
                    )
                    % {
                        "agent": self.agent,
                        "dept": self.agent.team.department.name,
                        "queue": self.queue.name,
                        "qdept": self.queue.department.name,
                    }
                }
            )


class NotReadyReason(models.Model):
    """Why an agent is not ready (ACD-7): break, meeting, training… defined by the admin."""

    code = models.SlugField(_("code"), max_length=30, unique=True)
    name = models.CharField(_("name (Chinese)"), max_length=50)
    name_en = models.CharField(_("name (English)"), max_length=50)
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    enabled = models.BooleanField(_("enabled"), default=True)

    class Meta:
        verbose_name = _("not-ready reason")
        verbose_name_plural = _("not-ready reasons")
        ordering = ["order", "code"]

    def __str__(self) -> str:
        return f"{self.name} / {self.name_en}"


# the rest of the configuration, registered with the app from here
from .number_rules import AccessNumberRoute as AccessNumberRoute  # noqa: E402
from .number_rules import CustomerOwner as CustomerOwner  # noqa: E402
from .number_rules import NamedNumberRule as NamedNumberRule  # noqa: E402
from .number_rules import RegionRule as RegionRule  # noqa: E402
from .number_rules import VipNumber as VipNumber  # noqa: E402
from .overflow import OverflowRule as OverflowRule  # noqa: E402
