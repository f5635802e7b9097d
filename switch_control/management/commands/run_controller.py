"""``manage.py run_controller``: the only process that talks to the switch."""

from __future__ import annotations

import logging

from django.core.management.base import BaseCommand

from switch_control.daemon import Controller
from switch_control.runtime import run_daemon
from switch_control.wiring import (
    attach_features,
    controller_config,
    make_bus,
    make_driver,
    redis_client,
)

logger = logging.getLogger("switch_control.daemon")


class Command(BaseCommand):
    help = "Run the call-control daemon (switch connection, commands, events, call state)."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--switch", default=None, help="asterisk | fake (default: settings)")

    def handle(self, *args, **opts):  # type: ignore[no-untyped-def]
        run_daemon(lambda: self._main(opts["switch"]))

    async def _main(self, kind: str | None) -> None:
        client = redis_client()
        controller = Controller(controller_config(), make_driver(kind), make_bus(client), client)
        attach_features(controller)
        try:
            await controller.run()
        finally:
            await client.aclose()
