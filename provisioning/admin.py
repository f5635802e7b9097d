from django.contrib import admin

from acd.admin import PublishesConfig

from .models import AccessNumber


@admin.register(AccessNumber)
class AccessNumberAdmin(PublishesConfig):
    """Access numbers route calls (ACD config snapshot): a change reaches the controller."""

    list_display = ("number", "description", "enabled", "updated_at")
    list_filter = ("enabled", ("created_at", admin.DateFieldListFilter))
    list_editable = ("enabled",)
    search_fields = ("number", "description")
    readonly_fields = ("created_at", "updated_at")
