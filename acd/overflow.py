"""Overflow rules (ACD-6): what happens to a queue's caller when agents cannot take the call.

A model of the ``acd`` app (imported by ``acd.models``). The runtime applies them; this
module only keeps them coherent: every action has its target, and no chain of
queue-to-queue overflows leads back to where it started, however long the chain.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from .validation import normalize_number, overflow_loop


class OverflowCondition(models.TextChoices):
    """The engine's ``OverflowTrigger`` values. ACD-6's "timeout" is two of them: the ring
    timeout of one offer (no answer) and the queue's maximum wait."""

    NO_ANSWER = "no_answer", _("no answer (ring timeout)")  # the agent let it ring out
    BUSY = "busy", _("busy")  # the agent's phone was busy, rejected it or is offline
    MAX_WAIT = "max_wait", _("maximum wait reached")
    NO_AGENTS = "no_agents", _("no agents signed in")


class OverflowAction(models.TextChoices):
    NEXT_AGENT = "next_agent", _("next agent")
    QUEUE = "queue", _("another queue")
    VOICEMAIL = "voicemail", _("voicemail")
    EXTERNAL = "external", _("external number")


# moving on to another agent only makes sense once an agent was tried
AGENT_CONDITIONS = (OverflowCondition.NO_ANSWER, OverflowCondition.BUSY)


class OverflowRule(models.Model):
    """On <condition> (after N failed offers) -> <action> [target], for one queue."""

    queue = models.ForeignKey(
        "acd.Queue",
        on_delete=models.CASCADE,
        related_name="overflow_rules",
        verbose_name=_("queue"),
    )
    condition = models.CharField(_("when"), max_length=16, choices=OverflowCondition.choices)
    after_failures = models.PositiveSmallIntegerField(
        _("after failed offers"),
        default=1,
        validators=[MinValueValidator(1, _("A rule applies after at least 1 failed offer."))],
        help_text=_("For no answer / busy: e.g. 2 = after two agents did not answer."),
    )
    action = models.CharField(_("then"), max_length=16, choices=OverflowAction.choices)
    target_queue = models.ForeignKey(
        "acd.Queue",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="overflow_sources",
        verbose_name=_("target queue"),
    )
    external_number = models.CharField(
        _("external number"),
        max_length=32,
        blank=True,
        help_text=_("E.g. a mobile; stored in E.164."),
    )

    class Meta:
        verbose_name = _("overflow rule")
        verbose_name_plural = _("overflow rules")
        ordering = ["queue", "condition", "after_failures"]
        # "no answer: next agent; after 2 failed offers: a mobile" is two rules
        unique_together = [("queue", "condition", "after_failures")]

    def __str__(self) -> str:
        return f"{self.get_condition_display()} → {self.get_action_display()}"

    def clean(self) -> None:
        errors: dict[str, object] = {}
        if self.condition not in AGENT_CONDITIONS:
            self.after_failures = 1  # no offer is involved
        if self.action == OverflowAction.NEXT_AGENT and self.condition not in AGENT_CONDITIONS:
            errors["action"] = _(
                "“Next agent” only follows “no answer” or “busy”: no agent was tried yet."
            )
        if self.action == OverflowAction.QUEUE:
            self._clean_queue_target(errors)
        else:
            self.target_queue = None
        if self.action == OverflowAction.EXTERNAL:
            if not self.external_number.strip():
                errors["external_number"] = _("Give the external number to send callers to.")
            else:
                try:
                    self.external_number = normalize_number(self.external_number)
                except ValidationError as exc:
                    errors["external_number"] = exc.messages[0]
        else:
            self.external_number = ""
        if errors:
            raise ValidationError(errors)

    def _clean_queue_target(self, errors: dict[str, object]) -> None:
        if self.target_queue_id is None:
            errors["target_queue"] = _("Choose the queue to send callers to.")
            return
        if self.queue_id is None:
            return
        graph: dict[int, list[int]] = {}
        others = OverflowRule.objects.filter(
            action=OverflowAction.QUEUE, target_queue__isnull=False
        ).exclude(queue_id=self.queue_id)
        for source, target in others.values_list("queue_id", "target_queue_id"):
            graph.setdefault(source, []).append(target)
        loop = overflow_loop(self.queue_id, self.target_queue_id, graph)
        if loop is None:
            return
        queues = self._meta.get_field("queue").related_model._default_manager
        names = dict(queues.filter(pk__in=loop).values_list("pk", "name"))
        errors["target_queue"] = _(
            "Overflow loop: %(chain)s. A caller would be passed round forever; end one of "
            "these queues in voicemail or an external number instead."
        ) % {"chain": " → ".join(names.get(q, str(q)) for q in loop)}
