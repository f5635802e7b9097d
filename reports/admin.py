from django.contrib import admin

from .models import Call, CallLeg


class CallLegInline(admin.TabularInline):
    model = CallLeg
    extra = 0
    can_delete = False
    fields = (
        "role",
        "direction",
        "caller_number",
        "callee_number",
        "channel_name",
        "offered_at",
        "answered_at",
        "ended_at",
        "cause",
    )
    readonly_fields = fields


@admin.register(Call)
class CallAdmin(admin.ModelAdmin):
    list_display = (
        "started_at",
        "direction",
        "caller_number",
        "callee_number",
        "agent",
        "duration",
        "talk_duration",
        "end_cause",
    )
    list_filter = (
        "direction",
        "end_cause",
        "switch",
        ("started_at", admin.DateFieldListFilter),
        "agent__team",
    )
    search_fields = (
        "call_id",
        "caller_number",
        "callee_number",
        "caller_name",
        "agent__job_number",
        "agent__extension",
    )
    date_hierarchy = "started_at"
    inlines = [CallLegInline]
    list_select_related = ("agent",)
    readonly_fields = [f.name for f in Call._meta.fields]

    def has_add_permission(self, request):  # CDRs come from the switch only
        return False


@admin.register(CallLeg)
class CallLegAdmin(admin.ModelAdmin):
    list_display = (
        "leg_id",
        "call",
        "role",
        "caller_number",
        "callee_number",
        "offered_at",
        "ended_at",
        "cause",
    )
    list_filter = ("role", "direction", "cause")
    search_fields = ("leg_id", "call__call_id", "caller_number", "callee_number", "channel_name")
    list_select_related = ("call",)
    readonly_fields = [f.name for f in CallLeg._meta.fields]

    def has_add_permission(self, request):
        return False
