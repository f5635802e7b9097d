"""Place a demo call into the running stack (scripts/run.sh): agent phone 1001 registers
and answers, a caller from 13800138000 dials 4008001234 and talks for ``--seconds``.
Watch it on the status page; afterwards its CDR is in the admin (Calls)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from scripts import sipp
from scripts.asterisk_sandbox import free_udp_port

VAR = Path(os.environ.get("CALLCENTER_VAR_DIR", Path(__file__).resolve().parent.parent / "var"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--caller", default="13800138000")
    ap.add_argument("--number", default="4008001234")
    ap.add_argument("--agent", default="1001")
    args = ap.parse_args()
    envfile = VAR / "sandbox.env"
    if not envfile.exists():
        print("no running sandbox (var/sandbox.env missing): start scripts/run.sh first")
        return 1
    env = dict(line.split("=", 1) for line in envfile.read_text().split())
    target = f"127.0.0.1:{env['ASTERISK_SIP_PORT']}"
    phone_port = free_udp_port()
    sipp.register(args.agent, target=target, port=phone_port)
    phone = sipp.run_sipp(
        sipp.phone_scenario(ring_ms=1000, talk_s=args.seconds + 30),
        target=target,
        port=phone_port,
        uas=True,
    )
    caller = sipp.run_sipp(
        sipp.caller_scenario(args.caller, talk_s=args.seconds),
        target=target,
        port=free_udp_port(),
        service=args.number,
    )
    print(
        f"calling {args.number} from {args.caller}; agent {args.agent} answers; "
        f"{args.seconds:.0f}s of talk"
    )
    try:
        rc = caller.wait(args.seconds + 60)
        print("caller finished:", "ok" if rc == 0 else f"sipp exit {rc}\n{caller.output()}")
        return 0 if rc == 0 else 1
    finally:
        caller.cleanup()
        phone.cleanup()


if __name__ == "__main__":
    sys.exit(main())
