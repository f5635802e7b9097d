"""``manage.py publish_acd_config``: push the ACD configuration to the controller by hand.

Saves in the admin publish on their own; this is for after a Redis outage, a bulk
import that bypassed the admin, or a fresh Redis."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from acd import services


class Command(BaseCommand):
    help = "Publish the ACD configuration snapshot to Redis (acd:config) and notify the controller."

    def handle(self, *args, **opts):  # type: ignore[no-untyped-def]
        version = services.publish_config("publish_acd_config")
        if version is None:
            raise CommandError("Redis is unavailable: the configuration was not published.")
        snap = services.published_config() or {}
        self.stdout.write(
            f"ACD configuration version {version} published: "
            f"{len(snap.get('queues', []))} queues, {len(snap.get('agents', []))} agents."
        )
