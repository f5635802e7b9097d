"""Writes for the organization: roles (groups with permissions) and demo data; the one
place the web publishes contract commands to the controllers (``publish_command``)."""

from __future__ import annotations

import redis
from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.db import transaction

from switch_control.bus.redis_streams import HARD_MAXLEN
from switch_control.contract import Command, encode
from switch_control.livestate import command_leg, command_stream, leg_owner_key

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


def publish_command(command: Command, *, client: redis.Redis | None = None) -> None:
    """Send a contract command to the controllers once the transaction commits (DESIGN.md
    "Talking between processes").

    A command for a leg goes to the stream of the controller that holds the leg (the
    leg -> controller map the controllers keep, ``switch_control.livestate``); anything
    else, or a leg no controller claims (yet), to the shared ``callctl:commands``, which
    every controller reads as well. Every command carries its id: a redelivery is
    harmless."""
    payload = encode(command)
    leg = command_leg(command)

    def send() -> None:
        r = client or redis.Redis.from_url(settings.REDIS_URL)
        owner = r.get(leg_owner_key(leg)) if leg else None
        name = owner.decode() if isinstance(owner, bytes) else owner
        r.xadd(command_stream(name), {b"m": payload}, maxlen=HARD_MAXLEN, approximate=True)

    transaction.on_commit(send)
