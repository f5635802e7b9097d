"""Rules keyed by a phone number or a caller's region (ACD-1..4, IVR-9, BL-2).

Models of the ``acd`` app (imported by ``acd.models``). Every caller number is stored in
E.164, normalized with ``PHONE_REGION`` (CN by default), so ``013800138000``,
``+86 138 0013 8000`` and ``13800138000`` are one entry and the controller matches the
normalized caller id against them with a plain lookup.

Access numbers keep their home in ``provisioning`` (what the switch is told about); which
queue a number leads to is an ACD decision, so it lives here as ``AccessNumberRoute``.
``provisioning`` then never imports the ACD (nor, later, the IVR flows that will be a
second kind of target), and the router reads one table.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from .choices import UNKNOWN_STRATEGY, Strategy
from .validation import normalize_city, normalize_number, normalize_province

NUMBER_HELP = _("Any usual spelling (0138…, +86 138…); stored in E.164, e.g. +8613800138000.")


class AccessNumberRoute(models.Model):
    """An access number's queue, with its own strategy and priority (ACD-1, ACD-2)."""

    access_number = models.OneToOneField(
        "provisioning.AccessNumber",
        on_delete=models.CASCADE,
        related_name="route",
        verbose_name=_("access number"),
    )
    queue = models.ForeignKey(
        "acd.Queue", on_delete=models.PROTECT, related_name="routes", verbose_name=_("queue")
    )
    strategy = models.CharField(
        _("strategy"),
        max_length=20,
        blank=True,
        choices=Strategy.choices,
        help_text=_("Empty: the queue's own strategy."),
        error_messages={"invalid_choice": UNKNOWN_STRATEGY},
    )
    priority = models.SmallIntegerField(
        _("priority"),
        default=0,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text=_("0-100; callers of a higher-priority number wait ahead of others."),
    )

    class Meta:
        verbose_name = _("access number route")
        verbose_name_plural = _("access number routes")
        ordering = ["access_number__number"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(strategy__in=["", *Strategy.values]),
                name="acd_route_strategy_known",
                violation_error_message=_("Unknown strategy."),
            )
        ]

    def __str__(self) -> str:
        return f"{self.access_number.number} → {self.queue}"


class NumberKeyed(models.Model):
    """A rule keyed by one caller number, normalized to E.164 on clean and on save."""

    number = models.CharField(_("phone number"), max_length=32, unique=True, help_text=NUMBER_HELP)

    class Meta:
        abstract = True

    def clean(self) -> None:
        try:
            self.number = normalize_number(self.number)
        except ValidationError as exc:
            raise ValidationError({"number": exc.messages}) from None

    def save(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.number = normalize_number(self.number)
        super().save(*args, **kwargs)


class VipNumber(NumberKeyed):
    """A VIP caller (IVR-9, BL-2): waits ahead of everyone else in any queue (ACD-2)."""

    name = models.CharField(_("name"), max_length=100, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    enabled = models.BooleanField(_("enabled"), default=True)

    class Meta:
        verbose_name = _("VIP number")
        verbose_name_plural = _("VIP numbers")
        ordering = ["number"]

    def __str__(self) -> str:
        return f"{self.number} {self.name}".strip()


class CustomerOwner(NumberKeyed):
    """The agent who owns a customer, by the customer's number (ACD-3 sticky routing).

    A stand-in until the CRM has customers: that issue gives ``Customer`` an owner and
    several numbers, and ``acd.selectors.config_snapshot`` then reads ``owners`` from
    there instead; the snapshot's shape (number -> agent id) stays the same, and a data
    migration moves these rows onto customers."""

    owner = models.ForeignKey(
        "acd.AgentProfile",
        on_delete=models.CASCADE,
        related_name="owned_customers",
        verbose_name=_("owner agent"),
    )
    customer_name = models.CharField(_("customer name"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("customer owner")
        verbose_name_plural = _("customer owners")
        ordering = ["number"]

    def __str__(self) -> str:
        return f"{self.number} → {self.owner}"


class NamedNumberRule(NumberKeyed):
    """A named number always goes to a named agent (ACD-4, 指定号码分配指定坐席).

    Unlike an owner, which the ACD tries first and then gives up on after a while, this
    is the site's routing rule for the number."""

    agent = models.ForeignKey(
        "acd.AgentProfile",
        on_delete=models.CASCADE,
        related_name="named_numbers",
        verbose_name=_("agent"),
    )
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("named number")
        verbose_name_plural = _("named numbers")
        ordering = ["number"]

    def __str__(self) -> str:
        return f"{self.number} → {self.agent}"


class RegionRule(models.Model):
    """Callers from a province (or one of its cities) go to a team or an agent (ACD-4).

    The caller's region comes from the number with phonenumbers' Chinese geocoder
    ("广东省深圳市"); names are stored in its spelling (``广东`` becomes ``广东省``,
    ``深圳`` becomes ``深圳市``). A city rule wins over its province's rule."""

    queue = models.ForeignKey(
        "acd.Queue",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="region_rules",
        verbose_name=_("queue"),
        help_text=_("Only for callers of this queue; empty: every queue."),
    )
    province = models.CharField(_("province"), max_length=30)
    city = models.CharField(_("city"), max_length=30, blank=True)
    team = models.ForeignKey(
        "acd.Team",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="region_rules",
        verbose_name=_("team"),
    )
    agent = models.ForeignKey(
        "acd.AgentProfile",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="region_rules",
        verbose_name=_("agent"),
    )
    wait_seconds = models.PositiveIntegerField(
        _("wait for them (s)"),
        null=True,
        blank=True,
        default=30,
        help_text=_("Then any agent of the queue may take the call; empty: wait for them only."),
    )

    class Meta:
        verbose_name = _("region rule")
        verbose_name_plural = _("region rules")
        ordering = ["province", "city"]
        unique_together = [("queue", "province", "city")]

    def __str__(self) -> str:
        return f"{self.province}{self.city} → {self.agent or self.team}"

    def clean(self) -> None:
        errors: dict[str, object] = {}
        try:
            self.province = normalize_province(self.province or "")
        except ValidationError as exc:
            errors["province"] = exc.messages
        self.city = normalize_city(self.city or "")
        if (self.team_id is None) == (self.agent_id is None):
            errors["__all__"] = _("Choose either a team or an agent for this region, not both.")
        if errors:
            raise ValidationError(errors)
