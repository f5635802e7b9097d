"""Admin of teams, agents and the ACD configuration (ADM-1, ACD-1..8).

Thin: validation lives in the models' ``clean()``; every save or delete of anything the
controller reads ends in ``services.config_changed``, which publishes after commit.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.utils.translation import gettext_lazy as _

from . import services
from .choices import UNKNOWN_STRATEGY
from .models import (
    AccessNumberRoute,
    AgentProfile,
    AgentSkill,
    AgentStateLog,
    CustomerOwner,
    NamedNumberRule,
    NotReadyReason,
    OverflowRule,
    Queue,
    QueueMember,
    QueueSkill,
    RegionRule,
    Skill,
    Team,
    VipNumber,
)
from .validation import normalize_number


class PublishesConfig(admin.ModelAdmin):
    """Saves and deletes publish the ACD configuration once the admin's transaction commits."""

    def save_related(self, request, form, formsets, change):  # type: ignore[no-untyped-def]
        super().save_related(request, form, formsets, change)
        services.config_changed(f"{self.opts.model_name} {form.instance.pk} saved in the admin")

    def delete_model(self, request, obj):  # type: ignore[no-untyped-def]
        pk = obj.pk
        super().delete_model(request, obj)
        services.config_changed(f"{self.opts.model_name} {pk} deleted in the admin")

    def delete_queryset(self, request, queryset):  # type: ignore[no-untyped-def]
        super().delete_queryset(request, queryset)
        services.config_changed(f"{self.opts.model_name} rows deleted in the admin")


class ByNumberAdmin(PublishesConfig):
    """Finds a number however it is typed: ``013800138000`` finds ``+8613800138000``."""

    def get_search_results(self, request, queryset, search_term):  # type: ignore[no-untyped-def]
        results, dupes = super().get_search_results(request, queryset, search_term)
        try:
            normalized = normalize_number(search_term)
        except ValidationError:
            return results, dupes
        return results | queryset.filter(number=normalized), True


@admin.register(Team)
class TeamAdmin(PublishesConfig):
    list_display = ("name", "department", "leader")
    list_filter = ("department",)
    search_fields = ("name", "department__name", "leader__username")
    autocomplete_fields = ("leader",)


class AgentSkillInline(admin.TabularInline):
    model = AgentSkill
    extra = 0
    autocomplete_fields = ("skill",)


class AgentQueuesInline(admin.TabularInline):
    model = QueueMember
    extra = 0
    autocomplete_fields = ("queue",)
    verbose_name = _("queue")
    verbose_name_plural = _("queues of this agent")


@admin.register(AgentProfile)
class AgentProfileAdmin(PublishesConfig):
    list_display = ("job_number", "display_name", "extension", "team", "state", "state_since")
    list_filter = ("state", "team", "team__department")
    search_fields = ("job_number", "display_name", "extension", "user__username")
    autocomplete_fields = ("user",)
    inlines = (AgentSkillInline, AgentQueuesInline)


@admin.register(AgentStateLog)
class AgentStateLogAdmin(admin.ModelAdmin):
    list_display = ("agent", "state", "reason", "started_at", "ended_at")
    list_filter = ("state", "agent__team", ("started_at", admin.DateFieldListFilter))
    search_fields = ("agent__job_number", "agent__display_name", "agent__extension", "reason")
    date_hierarchy = "started_at"
    list_select_related = ("agent",)


class QueueForm(forms.ModelForm):
    class Meta:
        model = Queue
        fields = "__all__"
        error_messages = {"strategy": {"invalid_choice": UNKNOWN_STRATEGY}}


class QueueMemberInline(admin.TabularInline):
    model = QueueMember
    extra = 0
    autocomplete_fields = ("agent",)


class QueueSkillInline(admin.TabularInline):
    model = QueueSkill
    extra = 0
    autocomplete_fields = ("skill",)


class OverflowRuleInline(admin.TabularInline):
    model = OverflowRule
    fk_name = "queue"
    extra = 0
    autocomplete_fields = ("target_queue",)


@admin.register(Queue)
class QueueAdmin(PublishesConfig):
    form = QueueForm
    list_display = (
        "name",
        "department",
        "strategy",
        "priority",
        "ring_timeout",
        "wrap_up_time",
        "max_wait",
        "member_count",
        "enabled",
    )
    list_filter = ("enabled", "strategy", "department", "callback_enabled")
    search_fields = ("name", "department__name")
    filter_horizontal = ("shared_with",)
    inlines = (QueueMemberInline, QueueSkillInline, OverflowRuleInline)
    fieldsets = (
        (None, {"fields": ("name", "department", "shared_with", "enabled")}),
        (
            _("Routing"),
            {
                "fields": (
                    "strategy",
                    "priority",
                    "ring_timeout",
                    "ring_all_limit",
                    "wrap_up_time",
                    "owner_wait",
                    "last_agent_wait",
                )
            },
        ),
        (
            _("Waiting"),
            {
                "fields": (
                    "max_wait",
                    "moh_class",
                    "announce_position",
                    "announce_wait_time",
                    "announce_every",
                    "callback_enabled",
                    "callback_key",
                )
            },
        ),
    )

    def get_queryset(self, request):  # type: ignore[no-untyped-def]
        return super().get_queryset(request).annotate(member_total=Count("members"))

    @admin.display(description=_("members"), ordering="member_total")
    def member_count(self, obj: Queue) -> int:
        return obj.member_total  # type: ignore[attr-defined]

    def save_related(self, request, form, formsets, change):  # type: ignore[no-untyped-def]
        super().save_related(request, form, formsets, change)
        # allowed, so a queue can be created before its agents exist; but say so
        if not form.instance.members.exists():
            messages.warning(
                request,
                _(
                    "Queue %(name)s has no members yet: its callers can only overflow "
                    "until agents are added."
                )
                % {"name": form.instance.name},
            )


@admin.register(QueueMember)
class QueueMemberAdmin(PublishesConfig):
    """Who serves which queue, across queues (edited inline on a queue or an agent too)."""

    list_display = ("queue", "agent", "tier", "position", "self_sign_in")
    list_filter = ("queue", "agent__team", "self_sign_in")
    search_fields = ("queue__name", "agent__job_number", "agent__display_name", "agent__extension")
    autocomplete_fields = ("queue", "agent")
    list_select_related = ("queue", "agent")


@admin.register(OverflowRule)
class OverflowRuleAdmin(PublishesConfig):
    list_display = (
        "queue",
        "condition",
        "after_failures",
        "action",
        "target_queue",
        "external_number",
    )
    list_filter = ("condition", "action", "queue")
    search_fields = ("queue__name", "target_queue__name", "external_number")
    autocomplete_fields = ("queue", "target_queue")
    list_select_related = ("queue", "target_queue")


@admin.register(AgentSkill)
class AgentSkillAdmin(PublishesConfig):
    list_display = ("agent", "skill", "level")
    list_filter = ("skill", "level")
    search_fields = ("agent__job_number", "agent__display_name", "skill__name")
    autocomplete_fields = ("agent", "skill")
    list_select_related = ("agent", "skill")


@admin.register(QueueSkill)
class QueueSkillAdmin(PublishesConfig):
    list_display = ("queue", "skill", "min_level")
    list_filter = ("skill", "queue")
    search_fields = ("queue__name", "skill__name")
    autocomplete_fields = ("queue", "skill")
    list_select_related = ("queue", "skill")


@admin.register(Skill)
class SkillAdmin(PublishesConfig):
    list_display = ("name", "description")
    search_fields = ("name", "description")


class AccessNumberRouteForm(forms.ModelForm):
    class Meta:
        model = AccessNumberRoute
        fields = "__all__"
        error_messages = {"strategy": {"invalid_choice": UNKNOWN_STRATEGY}}


@admin.register(AccessNumberRoute)
class AccessNumberRouteAdmin(PublishesConfig):
    form = AccessNumberRouteForm
    list_display = ("access_number", "queue", "strategy", "priority")
    list_filter = ("queue", "strategy")
    search_fields = ("access_number__number", "access_number__description", "queue__name")
    autocomplete_fields = ("access_number", "queue")


@admin.register(VipNumber)
class VipNumberAdmin(ByNumberAdmin):
    list_display = ("number", "name", "note", "enabled")
    list_filter = ("enabled",)
    search_fields = ("number", "name", "note")


@admin.register(CustomerOwner)
class CustomerOwnerAdmin(ByNumberAdmin):
    list_display = ("number", "customer_name", "owner")
    list_filter = ("owner__team",)
    search_fields = ("number", "customer_name", "owner__job_number", "owner__display_name")
    autocomplete_fields = ("owner",)


@admin.register(NamedNumberRule)
class NamedNumberRuleAdmin(ByNumberAdmin):
    list_display = ("number", "agent", "note")
    search_fields = ("number", "note", "agent__job_number", "agent__display_name")
    autocomplete_fields = ("agent",)


@admin.register(RegionRule)
class RegionRuleAdmin(PublishesConfig):
    list_display = ("province", "city", "queue", "team", "agent", "wait_seconds")
    list_filter = ("province", "queue")
    search_fields = ("province", "city", "team__name", "agent__display_name")
    autocomplete_fields = ("queue", "team", "agent")


@admin.register(NotReadyReason)
class NotReadyReasonAdmin(PublishesConfig):
    list_display = ("code", "name", "name_en", "order", "enabled")
    list_editable = ("order", "enabled")
    list_filter = ("enabled",)
    search_fields = ("code", "name", "name_en")
