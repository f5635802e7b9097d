from django.contrib import admin

from .models import AgentProfile, AgentStateLog, Team


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "department", "leader")
    list_filter = ("department",)
    search_fields = ("name", "department__name", "leader__username")
    autocomplete_fields = ("leader",)


@admin.register(AgentProfile)
class AgentProfileAdmin(admin.ModelAdmin):
    list_display = ("job_number", "display_name", "extension", "team", "state", "state_since")
    list_filter = ("state", "team", "team__department")
    search_fields = ("job_number", "display_name", "extension", "user__username")
    autocomplete_fields = ("user",)


@admin.register(AgentStateLog)
class AgentStateLogAdmin(admin.ModelAdmin):
    list_display = ("agent", "state", "reason", "started_at", "ended_at")
    list_filter = ("state", "agent__team", ("started_at", admin.DateFieldListFilter))
    search_fields = ("agent__job_number", "agent__display_name", "agent__extension", "reason")
    date_hierarchy = "started_at"
    list_select_related = ("agent",)
