"""Command line of the call-path bench: run it (saving the measured numbers and rewriting
the call-path section of ``bench/RESULTS.md``), or only rebuild the section from saved
numbers (``--report-only``)."""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shlex
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path

from bench.results import RESULTS, write_section

from . import __doc__ as OVERVIEW
from .model import Results, ResultsError, RunInfo
from .report import render

SECTION = "call-path"
SAVED = RESULTS.parent / "RESULTS.call-path.json"  # the numbers behind the section
COMMAND = ".venv/bin/python bench/bench_call_path.py"
DEFAULT_MODES = {"a", "b", "t0", "t2", "c0", "c2", "profile", "rss"}


def parse_rates(text: str) -> list[float]:
    try:
        rates = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma separated list of rates: {text!r}") from None
    if not rates or any(r <= 0 for r in rates):
        raise argparse.ArgumentTypeError(f"rates must be positive numbers: {text!r}")
    return rates


def parse_modes(text: str) -> set[str]:
    modes = {m.strip() for m in text.split(",") if m.strip()}
    unknown = modes - DEFAULT_MODES
    if unknown or not modes:
        raise argparse.ArgumentTypeError(
            f"unknown mode(s) {', '.join(sorted(unknown)) or '(none given)'}; "
            f"choose from {','.join(sorted(DEFAULT_MODES))}"
        )
    return modes


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="bench_call_path",
        description=OVERVIEW,
        formatter_class=argparse.RawTextHelpFormatter,
    )
    ap.add_argument("--duration", type=float, default=10.0, help="seconds of calls per step")
    ap.add_argument("--rates-a", type=parse_rates, default=parse_rates("100,200,400,700,1000"))
    ap.add_argument("--rates-b", type=parse_rates, default=parse_rates("50,100,200,300,400"))
    ap.add_argument(
        "--rates-c0",
        type=parse_rates,
        default=parse_rates("25,50,75,90,100,110,120,130,140,150,165,175,200"),
    )
    ap.add_argument(
        "--rates-c2", type=parse_rates, default=parse_rates("25,35,50,75,90,105,120,135,150")
    )
    ap.add_argument("--profile-rate", type=float, default=50.0)
    ap.add_argument("--rss-calls", type=int, default=300)
    ap.add_argument("--rss-rate", type=float, default=30.0)
    ap.add_argument("--rss-hold", type=float, default=20.0)
    ap.add_argument(
        "--max-p99-ms",
        type=float,
        default=500.0,
        help="a step whose p99 answer latency is above this is not clean (queueing)",
    )
    ap.add_argument("--catchup", type=float, default=120.0, help="max projector catch-up (s)")
    ap.add_argument("--budget", type=float, default=1500.0, help="stop stepping after (s)")
    ap.add_argument(
        "--modes",
        type=parse_modes,
        default=set(DEFAULT_MODES),
        help="comma separated subset of a,b,t0,t2,c0,c2,profile,rss (default: all)",
    )
    ap.add_argument(
        "--stack-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the controller and projector (experiments)",
    )
    ap.add_argument(
        "--thin-like",
        default="",
        help="experiments: give the thin app (t) features of the controller's path, comma "
        "separated: did (callers through [from-trunk]: hangup handler, AstDB), filter (the "
        "controller's event filter), vars (originate variables and hangup handler), ami (an "
        "AMI session), suball (subscribeAll), http (the controller's own REST client instead of "
        "aiohttp's)",
    )
    ap.add_argument("--keep-profile", help="copy the raw py-spy outputs to this directory")
    ap.add_argument(
        "--profile-native",
        action="store_true",
        help="py-spy --native for the profile step (C frames; blocking, so the step is slower)",
    )
    ap.add_argument(
        "--sequential",
        action="store_true",
        help="run (t) at every rate, then (c), as before (default: paired at each rate)",
    )
    ap.add_argument(
        "--results",
        type=Path,
        help=f"save the measured numbers here (default, unless --no-write: {SAVED.name})",
    )
    ap.add_argument(
        "--report-only",
        nargs="?",
        const=SAVED,
        type=Path,
        metavar="RESULTS_JSON",
        help="run nothing: rebuild the call-path section of RESULTS.md from saved numbers "
        f"(default {SAVED.name}); with --no-write only print it",
    )
    ap.add_argument(
        "--no-write", action="store_true", help="touch neither bench/RESULTS.md nor its numbers"
    )
    ap.add_argument("--quick", action="store_true", help="3 s steps, two rates per mode")
    return ap


def machine() -> str:
    model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} CPU(s), {model or platform.processor()}, Linux {platform.release()}"


def publish(res: Results, *, write: bool, saved: Path | None) -> str:
    text = render(res)
    print("\n" + text, flush=True)
    if saved is not None:
        res.dump(saved)
        print(f"saved the numbers to {saved}", flush=True)
    if write:
        write_section(SECTION, text)
        print(f"wrote {RESULTS}", flush=True)
    return text


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = parser()
    args = ap.parse_args(argv)
    for kv in args.stack_env:
        if "=" not in kv:
            ap.error(f"--stack-env {kv!r}: NAME=VALUE expected")
    if args.report_only is not None:
        try:
            res = Results.load(args.report_only)
        except ResultsError as exc:
            ap.exit(2, f"bench_call_path: {exc}\n")
        publish(res, write=not args.no_write, saved=None)
        return 0
    if args.quick:
        args.duration = 3.0
        args.rates_a, args.rates_b = [100.0, 400.0], [50.0, 200.0]
        args.rates_c0, args.rates_c2 = [25.0, 100.0], [25.0, 50.0]
        args.rss_calls, args.rss_hold = 100, 8.0
    if os.geteuid() != 0:
        raise SystemExit("needs root (the Asterisk sandbox runs in a chroot)")
    from .plan import Bench  # the runner imports the sandbox, Redis, SIPp helpers

    run = RunInfo(
        started=datetime.now(UTC),
        machine=machine(),
        cpus=os.cpu_count() or 1,
        python=platform.python_version(),
        command=" ".join([COMMAND, *map(shlex.quote, argv)]),
        duration_s=args.duration,
        max_p99_ms=args.max_p99_ms,
        thin_like=args.thin_like,
    )
    bench = Bench(args, run)

    def _term(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _term)
    try:
        res = bench.run()
    except BaseException:
        print("bench failed; logs:", flush=True)
        for name in ("controller", "projector", "bare"):
            tail = bench.stack.log_tail(name, 1500)
            if tail:
                print(f"--- {name} ---\n{tail}", flush=True)
        raise
    finally:
        bench.stack.cleanup()
    saved = args.results if args.results is not None else (None if args.no_write else SAVED)
    publish(res, write=not args.no_write, saved=saved)
    return 0
