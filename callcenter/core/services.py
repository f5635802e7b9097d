"""Writes for the organization: roles (groups with permissions) and demo data."""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.db import transaction

from .roles import ROLE_PERMISSIONS, Role


@transaction.atomic
def ensure_roles() -> dict[Role, Group]:
    """Create the role groups and (re)grant their permissions. Idempotent."""
    groups = {}
    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role.value)
        if perms == ("*",):
            group.permissions.set(Permission.objects.all())
        else:
            wanted = []
            for dotted in perms:
                app_label, codename = dotted.split(".")
                wanted += list(
                    Permission.objects.filter(content_type__app_label=app_label, codename=codename)
                )
            group.permissions.set(wanted)
        groups[role] = group
    return groups
