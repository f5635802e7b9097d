"""Benchmark: the CDR projector alone, on the event stream of real-looking calls (RPT-1).

No switch and no SIPp: the twelve contract events the controller publishes for one call of
the call-path bench (caller offered, answered, prompt finished, bridged; agent offered,
ringing, answered, bridged; both unbridged and ended) are written for ``--calls`` calls to
``callctl:events`` of a private Redis first, then ``manage.py run_projector`` is started
on a fresh SQLite database and timed until every call has its CDR. Reported: the
projector's CPU per call (utime+stime from /proc, start-up excluded), events/s, and a
check that every CDR is complete. Repeated ``--runs`` times (best and median), so a code
change to the projector can be judged without the noise of the whole call path.

    .venv/bin/python bench/bench_projector.py [--calls 3000] [--runs 3]

Prints the result and rewrites the ``projector`` section of ``bench/RESULTS.md`` (the
call-path bench reports the projector in its context, on a busy machine).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import redis  # noqa: E402

import bench.procstat as procstat  # noqa: E402
from bench.local_redis import private_redis  # noqa: E402
from bench.results import run_header, write_section  # noqa: E402
from switch_control import contract as c  # noqa: E402
from switch_control.bus import EVENTS_STREAM  # noqa: E402

PYTHON = sys.executable


def call_events(n: int, t0: float) -> list[c.Event]:
    call = f"{n:08x}" + "c" * 24
    caller, agent = call, f"a0-{call}"
    at = t0 + n * 0.01
    return [
        c.CallOffered(
            call_id=call,
            leg_id=caller,
            direction=c.Direction.INBOUND,
            role=c.LegRole.CALLER,
            caller_number=f"1380013{n % 10000:04d}",
            caller_name="张三",
            callee_number="4001",
            channel_name=f"PJSIP/trunk-{n:08x}",
            switch="asterisk",
            at=at,
        ),
        c.CallAnswered(call_id=call, leg_id=caller, at=at + 0.01),
        c.PlaybackFinished(call_id=call, leg_id=caller, playback_id=f"p-{call}", at=at + 0.5),
        c.CallBridged(call_id=call, leg_id=caller, bridge_id=call, at=at + 0.51),
        c.CallOffered(
            call_id=call,
            leg_id=agent,
            direction=c.Direction.OUTBOUND,
            role=c.LegRole.AGENT,
            caller_number=f"1380013{n % 10000:04d}",
            callee_number="1001",
            channel_name=f"PJSIP/1001-{n:08x}",
            switch="asterisk",
            at=at + 0.52,
        ),
        c.CallRinging(call_id=call, leg_id=agent, at=at + 0.53),
        c.CallAnswered(call_id=call, leg_id=agent, at=at + 0.54),
        c.CallBridged(call_id=call, leg_id=agent, bridge_id=call, at=at + 0.55),
        c.CallUnbridged(call_id=call, leg_id=agent, bridge_id=call, at=at + 0.65),
        c.CallEnded(
            call_id=call,
            leg_id=agent,
            cause=c.HangupCause.NORMAL_CLEARING,
            cause_code=16,
            at=at + 0.65,
        ),
        c.CallUnbridged(call_id=call, leg_id=caller, bridge_id=call, at=at + 0.66),
        c.CallEnded(
            call_id=call,
            leg_id=caller,
            cause=c.HangupCause.NORMAL_CLEARING,
            cause_code=16,
            at=at + 0.67,
        ),
    ]


def started(rds: redis.Redis) -> bool:
    """The projector's consumer group has taken its first entries."""
    try:
        groups = rds.xinfo_groups(EVENTS_STREAM)
    except redis.ResponseError:
        return False
    return any(g.get("pending") or g.get("entries-read") for g in groups)


def one_run(
    calls: int, tmp: Path, redis_url: str, rds: redis.Redis, pyspy: str = ""
) -> dict[str, float]:
    rds.flushall()
    t0 = time.time() - 3600
    pipe = rds.pipeline(transaction=False)
    for n in range(calls):
        for ev in call_events(n, t0):
            pipe.xadd(EVENTS_STREAM, {b"m": c.encode(ev)})
        if n % 200 == 199:
            pipe.execute()
    pipe.execute()
    db = tmp / "bench.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "callcenter.settings",
        "REDIS_URL": redis_url,
        "DATABASE_URL": f"sqlite:///{db}",
        "CALLCENTER_VAR_DIR": str(tmp / "var"),
        "DJANGO_SECRET_KEY": "bench-only",
        "LOG_LEVEL": "WARNING",
    }
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput"],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
    )
    cmd = [PYTHON, "manage.py", "run_projector"]
    if pyspy:  # py-spy runs the projector: its pid is py-spy's child
        cmd = ["py-spy", "record", "--rate", "500", "--format", "raw", "-o", pyspy, "--", *cmd]
    proc = subprocess.Popen(
        cmd,
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        # start-up (Django, migrations check) is not the projector's per-call cost: the
        # clock starts once the consumer group exists and the first entries are taken
        deadline = time.time() + 60
        while time.time() < deadline and not started(rds):
            time.sleep(0.005)
        pid = proc.pid
        if pyspy:
            kids = procstat.children(proc.pid)
            pid = kids[0] if kids else pid
        cpu0, wall0 = procstat.cpu_seconds(pid), time.perf_counter()
        done = 0
        while time.time() < deadline + 300:
            with sqlite3.connect(db) as con:
                done = con.execute(
                    "SELECT COUNT(*) FROM reports_call WHERE ended_at IS NOT NULL"
                ).fetchone()[0]
            if done >= calls:
                break
            time.sleep(0.02)
        cpu1, wall1 = procstat.cpu_seconds(pid), time.perf_counter()
        with sqlite3.connect(db) as con:
            legs = con.execute(
                "SELECT COUNT(*) FROM reports_callleg WHERE answered_at IS NOT NULL "
                "AND ended_at IS NOT NULL"
            ).fetchone()[0]
            agents = con.execute(
                "SELECT COUNT(*) FROM reports_call WHERE answered_at IS NOT NULL "
                "AND talk_duration > 0"
            ).fetchone()[0]
    finally:
        os.kill(pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    if done < calls or legs < 2 * calls or agents < calls:
        raise SystemExit(f"incomplete CDRs: {done} calls ended, {legs} legs, {agents} talked")
    return {
        "ms_per_call": (cpu1 - cpu0) * 1000 / calls,
        "events_per_s": calls * 12 / (wall1 - wall0),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--calls", type=int, default=3000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-write", action="store_true", help="do not touch bench/RESULTS.md")
    ap.add_argument("--pyspy", default="", help="py-spy raw profile of the last run to this file")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-projector-"))
    try:
        with private_redis() as (url, rds):
            results = [
                one_run(args.calls, tmp, url, rds, args.pyspy if i == args.runs - 1 else "")
                for i in range(args.runs)
            ]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    ms = [r["ms_per_call"] for r in results]
    eps = [r["events_per_s"] for r in results]
    line = (
        f"projector, {args.calls} calls x 12 events, {args.runs} runs: CPU per call best "
        f"{min(ms):.3f} ms, median {statistics.median(ms):.3f} ms; events/s best "
        f"{max(eps):,.0f}, median {statistics.median(eps):,.0f}"
    )
    print(line)
    if not args.no_write:
        write_section(
            "projector",
            "## CDR projector alone\n\n"
            f"Run {run_header()}, `.venv/bin/python bench/bench_projector.py`. The 12 "
            f"contract events of {args.calls} calls of the call-path bench are in the "
            "stream before `manage.py run_projector` starts on a fresh SQLite database; "
            "timed from its first read until every call has its CDR (all complete: both "
            "legs answered and ended, talk time set). CPU = utime+stime of the projector "
            "over that time.\n\n"
            "| runs | CPU per call best / median (ms) | events/s best / median |\n"
            "|---:|---:|---:|\n"
            f"| {args.runs} | {min(ms):.3f} / {statistics.median(ms):.3f} | "
            f"{max(eps):,.0f} / {statistics.median(eps):,.0f} |\n",
        )


if __name__ == "__main__":
    main()
