"""``manage.py render_asterisk_conf OUTDIR``: asterisk_conf/ for a real deployment (ADM-2).

Values come from the environment (secrets included, never from files in the repository);
agent extensions and their SIP passwords come from the database. Install the result into
/etc/asterisk and ``core reload`` (or ``pjsip reload`` after agent changes).
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from acd.models import AgentProfile
from scripts.asterisk_sandbox import agents_conf, render_conf

DEFAULTS = {
    "SIP_BIND": "0.0.0.0",
    "SIP_PORT": "5060",
    "HTTP_BIND": "127.0.0.1",
    "HTTP_PORT": "8088",
    "AMI_BIND": "127.0.0.1",
    "AMI_PORT": "5038",
    "AMI_PERMIT": "127.0.0.1/255.255.255.255",
    "RTP_START": "10000",
    "RTP_END": "20000",
    "ARI_USER": "callcenter",
    "AMI_USER": "callcenter",
    "STASIS_APP": "callcenter",
    "ARI_ALLOWED_ORIGINS": "",
    "MAX_CALLS": "2000",
    "WS_PROTOCOL": "wss",
    "QUALIFY_FREQUENCY": "60",
    "TRUNK_FROM_USER": "",
    "TRUNK_AUTH_LINE": "",
    "TRUNK_HOST": "",
    "TRUNK_MATCH": "",
    "ICE_SUPPORT": "yes",
    "SEND_CONNECTED_LINE": "yes",
    "RTP_SYMMETRIC": "yes",
}
REQUIRED = ("ARI_PASSWORD", "AMI_PASSWORD", "TRUNK_HOST", "TRUNK_MATCH")


class Command(BaseCommand):
    help = "Render asterisk_conf/ for production from the environment and the database."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("outdir")

    def handle(self, *args, **opts):  # type: ignore[no-untyped-def]
        values = {
            k: os.environ.get(f"ASTERISK_{k}", os.environ.get(k, v)) for k, v in DEFAULTS.items()
        }
        for k in REQUIRED:
            values[k] = os.environ.get(f"ASTERISK_{k}", os.environ.get(k, ""))
        missing = [k for k in REQUIRED if not values[k]]
        if missing:
            raise CommandError(f"set these in the environment first: {', '.join(missing)}")
        agents = [
            (a.extension, a.display_name or a.user.get_username(), a.sip_password)
            for a in AgentProfile.objects.select_related("user").order_by("extension")
        ]
        no_password = [a[0] for a in agents if not a[2]]
        if no_password:
            raise CommandError(
                f"agents without a SIP password would be open to anyone: {', '.join(no_password)}"
            )
        out = Path(opts["outdir"])
        render_conf(out, values, agents_conf(agents))
        self.stdout.write(
            f"rendered {len(list(out.iterdir()))} files into {out} ({len(agents)} agent extensions)"
        )
