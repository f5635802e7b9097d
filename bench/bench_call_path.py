"""Benchmark: the inbound call path, end to end, on the sandbox Asterisk (one run).

Compares on the same sandbox, same machine, same run:

(a) Asterisk alone: dialplan ``Answer()`` + ``Hangup()`` ([bench-dialplan]); callers reach
    it as endpoint ``benchdp`` (PJSIP identifies by user name first);
(b) a bare ARI app (``bench/bare_ari_app.py``: answer + hang up on StasisStart) behind
    [bench-ari] (callers as endpoint ``benchari``);
(t) the same path as (c) by a thin single-purpose ARI app (``bench/thin_path_app.py``):
    the issue's "physical limit", measured in the same run (hold 0 s and 2 s as for (c));
(c) the real stack: ``manage.py run_controller`` + ``manage.py run_projector`` (Redis
    state and streams, SQLite CDRs) with the default policy: answer, play ``sound:beep``,
    put the caller in a bridge, originate agent 1001 (one registered SIPp phone that
    answers at once) joining on answer, hang up the rest when one side hangs up.
    * hold 0 s: the agent phone hangs up 100 ms after answering (one that hangs up at once
      always beats the controller's ``addChannel``); the controller then releases the
      caller (a caller that hung up right after its own answer would leave before the
      agent is even dialled);
    * hold 2 s: the caller hangs up 2 s after it was answered; the controller then hangs
      up the agent.

Each mode runs stepped rates (SIPp ``-r``/``-m``/``-l``, ``--duration`` seconds of calls
per step, default 10) and stops after the first rate that is not clean. A step is clean
when SIPp counts every call successful (a caller waiting for the far end's BYE fails if it
does not come), the rate was sustained (>= 95 % of the target between the first and last
INVITE), the p99 answer latency stayed under ``--max-p99-ms`` (500), every channel is gone
afterwards and, for (c), every call has its CDR (``Call`` row with ``ended_at``) once the
projector caught up, the agent phone answered every call without a failure and every
agent leg was bridged (``CallBridged`` on ``callctl:events``).

Measured per step: answer latency (first INVITE sent -> 200 OK received, from SIPp's
message trace, microseconds), CPU seconds per call of each process from /proc utime+stime
over the step including the drain (Asterisk = the chroot'ed asterisk pid), and for (c) the
projector's catch-up time. Then one more step of (c) with ``py-spy record`` on the
controller and the projector splits their CPU into parts (``bench/profile_parts.py``), and
one step with 300 concurrent calls carrying RTP both ways records peak RSS. The findings
cite file:line of the code as the controller and projector loaded it.

Prints a summary and rewrites the call-path section of ``bench/RESULTS.md`` (between
``<!-- call-path:start -->`` and ``<!-- call-path:end -->``).

    .venv/bin/python bench/bench_call_path.py            # ~15-25 min, needs root (sandbox)
    .venv/bin/python bench/bench_call_path.py --quick    # 3 s steps, fewer rates

Needs root, sip-tester, redis-server, the sandbox tarball (built on first use) and py-spy
in the venv for the per-part profile (``.venv/bin/pip install py-spy``; without it that
part is skipped and said so).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import platform
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(BENCH))

import orjson  # noqa: E402
import procstat  # noqa: E402
import profile_parts  # noqa: E402
import redis  # noqa: E402
import sipp_calls  # noqa: E402
from results import RESULTS, write_section  # noqa: E402

from scripts import sipp  # noqa: E402
from scripts.asterisk_sandbox import AsteriskSandbox, free_port, free_udp_port  # noqa: E402

PYTHON = str(REPO / ".venv/bin/python") if (REPO / ".venv/bin/python").exists() else sys.executable
PYSPY = shutil.which("py-spy", path=str(Path(PYTHON).parent)) or shutil.which("py-spy")

AGENT = "1001"
CALLER = "13800138000"
DID = "4008001234"
CONTROLLER_NAME = "bench-ctl"
EVENTS_STREAM = "callctl:events"
LIVE_CALLS = "callctl:calls"
THIN_CDRS = "bench:thin:cdr"  # bench/thin_path_app.py
AGENT_TALK_MS = 100  # "hold 0 s": the agent hangs up this long after answering
RTP_PORTS = 6000  # 300 bridged calls = 600 channels x 2 ports; room for (a)'s bursts

BENCH_ENDPOINTS = """
; call-path benchmark: callers identified by user name (endpoint_identifier_order)
[benchdp]
type = endpoint
context = bench-dialplan
disallow = all
allow = alaw,ulaw
direct_media = no

[benchari]
type = endpoint
context = bench-ari
disallow = all
allow = alaw,ulaw
direct_media = no
"""

TARGETS = {"c0": 150.0, "c2": 90.0, "rss_mb": 150.0}
CAPACITY_FROM_CPS = 75.0  # the capacity ratio's median is over rates from this one
THIN_PATH = ("asterisk", "thin app", "redis")  # the whole path's CPU, not the load generators
CTL_PATH = ("asterisk", "controller", "projector", "redis")


def path_cpu(step: Step, procs: tuple[str, ...]) -> float:
    """CPU per call (ms) of ``procs`` in ``step``."""
    return sum(step.ms_per_call(p) for p in procs)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ---------------------------------------------------------------------------- results
@dataclass
class Step:
    mode: str
    rate: float
    hold: float
    calls: int
    achieved: float = 0.0
    created: int = 0
    ok: int = 0
    failed: int = 0
    retrans: int = 0
    p50: float = math.nan
    p99: float = math.nan
    cpu: dict[str, float] = field(default_factory=dict)
    cdr: int | None = None
    open_calls: int | None = None
    agent_answered: int | None = None
    agent_bridged: int | None = None
    answered_first: int | None = None  # agent CallAnswered published before CallOffered
    agent_ok: int | None = None
    two_prompts: int | None = None  # callers that heard the no-agent prompt too
    agent_failed: int | None = None
    drain_s: float = 0.0
    clean: bool = False
    notes: list[str] = field(default_factory=list)

    def ms_per_call(self, proc: str) -> float:
        return 1000.0 * self.cpu.get(proc, 0.0) / self.calls if self.calls else math.nan


@dataclass
class Series:
    mode: str
    title: str
    procs: tuple[str, ...]
    steps: list[Step] = field(default_factory=list)
    skipped: str = ""

    @property
    def best(self) -> Step | None:
        clean = [s for s in self.steps if s.clean]
        return max(clean, key=lambda s: s.rate) if clean else None


@dataclass
class Report:
    started: datetime
    series: dict[str, Series] = field(default_factory=dict)
    profile: profile_parts.Profile | None = None
    projector_profile: profile_parts.Profile | None = None
    profile_step: Step | None = None
    profile_note: str = ""
    profile_flag: str = "--nonblocking"
    rss: dict[str, Any] = field(default_factory=dict)
    asterisk_version: str = ""
    code: str = ""
    paired: bool = False
    elapsed_s: float = 0.0


# ---------------------------------------------------------------------------- the bench
class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.t0 = time.monotonic()
        self.tmp = Path(tempfile.mkdtemp(prefix="cc-bench-"))
        self.procs: list[subprocess.Popen[bytes]] = []
        self.sipps: list[sipp.Sipp] = []
        self.sandbox: AsteriskSandbox | None = None
        self.redis_proc: subprocess.Popen[bytes] | None = None
        self.redis: redis.Redis | None = None
        self.redis_url = ""
        self.db = self.tmp / "db.sqlite3"
        self.controller: subprocess.Popen[bytes] | None = None
        self.projector: subprocess.Popen[bytes] | None = None
        self.bare: subprocess.Popen[bytes] | None = None
        self.thin: subprocess.Popen[bytes] | None = None
        self.phone: sipp.Sipp | None = None
        self.phone_port = 0
        self.report = Report(datetime.now(UTC))

    # ------------------------------------------------------------------ plumbing
    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    @property
    def target(self) -> str:
        assert self.sandbox and self.sandbox.info
        return f"127.0.0.1:{self.sandbox.info.sip_port}"

    def spawn(self, cmd: list[str], name: str, env: dict[str, str] | None = None) -> Any:
        out = open(self.tmp / f"{name}.log", "ab")
        try:
            proc = subprocess.Popen(
                cmd,
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            out.close()
        self.procs.append(proc)
        return proc

    def log_tail(self, name: str, n: int = 2000) -> str:
        p = self.tmp / f"{name}.log"
        return p.read_text(errors="replace")[-n:] if p.exists() else ""

    @staticmethod
    def stop_proc(proc: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM) -> None:
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)

    def cleanup(self) -> None:
        for s in self.sipps:
            with contextlib.suppress(Exception):
                s.cleanup()
        for proc in reversed(self.procs):
            with contextlib.suppress(Exception):
                self.stop_proc(proc)
        if self.sandbox is not None:
            with contextlib.suppress(Exception):
                self.sandbox.stop()
        if not os.environ.get("CC_KEEP_BENCH"):
            shutil.rmtree(self.tmp, ignore_errors=True)

    def wait_until(self, pred: Callable[[], Any], timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            v = pred()
            if v:
                return v
            time.sleep(0.1)
        raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}")

    # ------------------------------------------------------------------ setup
    def start_redis(self) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            raise SystemExit("redis-server is not installed (apt-get install redis-server)")
        port = free_port()
        workdir = self.tmp / "redis"
        workdir.mkdir()
        self.redis_proc = self.spawn(
            [
                *(exe, "--port", str(port), "--bind", "127.0.0.1", "--save", ""),
                *("--appendonly", "no", "--dir", str(workdir), "--protected-mode", "yes"),
            ],
            "redis",
        )
        self.redis_url = f"redis://127.0.0.1:{port}/0"
        self.redis = redis.Redis(port=port)

        def ping() -> bool:
            try:
                return bool(self.redis and self.redis.ping())
            except redis.RedisError:
                return False

        self.wait_until(ping, 10, "redis-server")

    def start_sandbox(self) -> None:
        self.sandbox = AsteriskSandbox(
            agents=(AGENT,), rtp_ports=RTP_PORTS, extra_pjsip=BENCH_ENDPOINTS
        )
        info = self.sandbox.start()
        ver = self.sandbox.ari_get("/asterisk/info")
        assert isinstance(ver, dict)
        self.report.asterisk_version = str(ver.get("system", {}).get("version", ""))
        if procstat.comm(info.pid) != "asterisk":  # chroot execs asterisk: same pid
            kids = [p for p in procstat.children(info.pid) if procstat.comm(p) == "asterisk"]
            if kids:
                info.pid = kids[0]
        log(
            f"sandbox Asterisk {self.report.asterisk_version} pid {info.pid}, SIP {info.sip_port}"
            f", RTP {info.rtp_start}-{info.rtp_end}"
        )

    def stack_env(self) -> dict[str, str]:
        assert self.sandbox and self.sandbox.info
        env = dict(os.environ)
        env.update(self.sandbox.info.env())
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "callcenter.settings",
                "REDIS_URL": self.redis_url,
                "CALLCENTER_VAR_DIR": str(self.tmp / "var"),
                "DATABASE_URL": f"sqlite:///{self.db}",
                "CONTROLLER_NAME": CONTROLLER_NAME,
                "DJANGO_SECRET_KEY": "bench-only",
                "DEFAULT_AGENT_EXTENSIONS": AGENT,
                "WELCOME_PROMPT": "sound:beep",
                "LOG_LEVEL": "WARNING",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(kv.split("=", 1) for kv in self.args.stack_env)  # experiments
        return env

    def migrate(self) -> None:
        proc = subprocess.run(
            [PYTHON, "manage.py", "migrate", "--noinput"],
            cwd=REPO,
            env=self.stack_env(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"migrate failed: {proc.stdout[-2000:]}{proc.stderr[-2000:]}")

    def pids(self, *names: str) -> dict[str, int]:
        assert self.sandbox and self.sandbox.info
        table = {
            "asterisk": self.sandbox.info.pid,
            "controller": self.controller.pid if self.controller else 0,
            "projector": self.projector.pid if self.projector else 0,
            "redis": self.redis_proc.pid if self.redis_proc else 0,
            "bare app": self.bare.pid if self.bare else 0,
            "thin app": self.thin.pid if self.thin else 0,
            "agent sipp": self.phone.proc.pid if self.phone else 0,
        }
        return {n: table[n] for n in names if table.get(n)}

    # ------------------------------------------------------------------ (b)
    def start_bare(self) -> None:
        env = self.stack_env()
        self.bare = self.spawn(
            [PYTHON, str(BENCH / "bare_ari_app.py"), "--app", "bench"], "bare", env
        )
        self.wait_until(lambda: "ready" in self.log_tail("bare"), 20, "bare ARI app connected")

    # ------------------------------------------------------------------ (t)
    @property
    def thin_did(self) -> bool:
        return "did" in self.args.thin_like.split(",")

    def start_thin(self) -> None:
        env = self.stack_env()
        env["THIN_LIKE"] = self.args.thin_like
        self.thin = self.spawn(
            [
                *(PYTHON, str(BENCH / "thin_path_app.py"), "--agent", AGENT),
                *("--app", env["ARI_APP"] if self.thin_did else "bench"),
            ],
            "thin",
            env,
        )
        self.wait_until(lambda: "ready" in self.log_tail("thin"), 20, "thin ARI app connected")

    def thin_cdrs(self, since_ms: int) -> tuple[int, int]:
        """(CDRs, of them bridged) the thin app wrote since ``since_ms``."""
        assert self.redis is not None
        n, bridged, start = 0, 0, f"{since_ms}-0"
        while True:
            batch = self.redis.xrange(THIN_CDRS, min=start, max="+", count=5000)
            if not batch:
                return n, bridged
            for _eid, fields in batch:
                n += 1
                bridged += bool(orjson.loads(fields[b"m"]).get("bridged"))
            start = "(" + _s(batch[-1][0])

    # ------------------------------------------------------------------ (c)
    def controller_connected(self) -> bool:
        assert self.redis is not None and self.controller is not None
        if self.controller.poll() is not None:
            raise RuntimeError(f"controller exited: {self.log_tail('controller')}")
        raw = self.redis.get("callctl:status:" + CONTROLLER_NAME)
        if not raw:
            return False
        st = orjson.loads(raw)
        return bool(st.get("connected")) and st.get("pid") == self.controller.pid

    def projector_ready(self) -> bool:
        assert self.redis is not None and self.projector is not None
        if self.projector.poll() is not None:
            raise RuntimeError(f"projector exited: {self.log_tail('projector')}")
        try:
            groups = self.redis.xinfo_groups(EVENTS_STREAM)
        except redis.ResponseError:
            return False
        return any(_s(g.get("name")) == "projector" for g in groups)

    def start_stack(self) -> None:
        self.report.code = snapshot_code()
        env = self.stack_env()
        self.controller = self.spawn([PYTHON, "manage.py", "run_controller"], "controller", env)
        self.projector = self.spawn([PYTHON, "manage.py", "run_projector"], "projector", env)
        self.wait_until(self.controller_connected, 60, "controller connected to Asterisk")
        self.wait_until(self.projector_ready, 60, "projector consuming callctl:events")
        log(f"controller pid {self.controller.pid}, projector pid {self.projector.pid}")

    def start_phone(self, *, hangs_up_at_once: bool, audio: bool | str = False) -> None:
        """Agent 1001: one registered SIPp UAS answering every call at once."""
        if self.phone is not None:
            self.phone.cleanup()
            self.sipps.remove(self.phone)
            self.phone = None
        if not self.phone_port:
            self.phone_port = free_udp_port()
            sipp.register(AGENT, target=self.target, port=self.phone_port)
        if hangs_up_at_once:
            xml = sipp_calls.agent_hangs_up_after(AGENT_TALK_MS)
        else:
            xml = sipp.phone_scenario(ring_ms=0, talk_s=120.0, audio=audio)
        extra_mp = ("-mp", str(_media_port())) if audio else ()
        self.phone = sipp.run_sipp(
            xml,
            target=self.target,
            port=self.phone_port,
            uas=True,
            calls=1_000_000,
            timeout_s=3600,
            extra=sipp_calls.TRACE_ARGS + extra_mp,
        )
        self.sipps.append(self.phone)
        time.sleep(0.3)
        if not self.phone.running():
            raise RuntimeError(f"agent phone did not start: {self.phone.output()}")

    # ------------------------------------------------------------------ checks
    def clear_channels(self) -> None:
        """A series starts on an empty switch: channels a previous series' overloaded last
        step left behind are hung up (that step is already not clean)."""
        left = self.channels()
        if left == 0:
            return
        assert self.sandbox is not None
        log(f"{left} channels left by the previous series: hanging them up")
        quiet_since = time.monotonic()

        def quiet() -> bool:  # no channel for 2 s: the app's backlog dialled nobody new
            nonlocal quiet_since
            if self.channels() != 0:
                assert self.sandbox is not None
                self.sandbox.cli("channel request hangup all")
                quiet_since = time.monotonic()
            return time.monotonic() - quiet_since >= 2.0

        self.wait_until(quiet, 60, "leftover channels hung up")

    def channels(self) -> int:
        assert self.sandbox is not None
        try:
            chans = self.sandbox.ari_get("/channels", timeout=5)
        except OSError:
            return -1
        return len(chans) if isinstance(chans, list) else -1

    def projector_lag(self) -> int:
        """Entries of callctl:events not yet handled (read-but-unacked included)."""
        assert self.redis is not None
        for g in self.redis.xinfo_groups(EVENTS_STREAM):
            if _s(g.get("name")) != "projector":
                continue
            lag = g.get("lag")
            pending = int(g.get("pending") or 0)
            if lag is None:  # Redis could not tell (trimmed): compare ids
                last = self.redis.xinfo_stream(EVENTS_STREAM).get("last-generated-id")
                lag = 0 if _s(last) == _s(g.get("last-delivered-id")) else 1
            return int(lag) + pending
        return -1

    def db_counts(self) -> tuple[int, int, int]:
        """(calls ended, calls still open, answered agent legs) in the CDR tables."""
        con = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=30)
        try:
            ended = con.execute(
                "SELECT COUNT(*) FROM reports_call WHERE ended_at IS NOT NULL"
            ).fetchone()[0]
            open_ = con.execute(
                "SELECT COUNT(*) FROM reports_call WHERE ended_at IS NULL"
            ).fetchone()[0]
            agents = con.execute(
                "SELECT COUNT(*) FROM reports_callleg "
                "WHERE role = 'agent' AND answered_at IS NOT NULL"
            ).fetchone()[0]
        finally:
            con.close()
        return int(ended), int(open_), int(agents)

    def agent_leg_events(self, since_ms: int) -> tuple[int, int, int]:
        """From the events published since ``since_ms``: agent legs (``a0-...``) bridged;
        agent legs whose CallAnswered was published before their CallOffered; caller legs
        that heard more than one prompt (the welcome and then the no-agent one)."""
        assert self.redis is not None
        bridged, early, start = 0, 0, f"{since_ms}-0"
        offered: set[str] = set()
        prompts: dict[str, int] = {}
        while True:
            batch = self.redis.xrange(EVENTS_STREAM, min=start, max="+", count=5000)
            if not batch:
                return bridged, early, sum(1 for v in prompts.values() if v > 1)
            for _eid, fields in batch:
                ev = orjson.loads(fields[b"m"])
                leg = str(ev.get("leg_id", ""))
                kind = ev.get("type")
                if not leg.startswith("a0-"):
                    if kind == "PlaybackFinished":
                        prompts[leg] = prompts.get(leg, 0) + 1
                    continue
                if kind == "CallOffered":
                    offered.add(leg)
                elif kind == "CallAnswered" and leg not in offered:
                    early += 1
                elif kind == "CallBridged":
                    bridged += 1
            start = "(" + _s(batch[-1][0])

    # ------------------------------------------------------------------ one step
    def run_step(
        self,
        mode: str,
        rate: float,
        hold: float,
        xml: str,
        procs: tuple[str, ...],
        *,
        stack: bool = False,
        thin: bool = False,
        duration: float | None = None,
        calls: int | None = None,
        limit: int | None = None,
        sampler: Callable[[], None] | None = None,
        extra_wait: float = 0.0,
        media: bool = False,
    ) -> Step:
        duration = duration or self.args.duration
        n = calls or max(1, int(rate * duration))
        step = Step(mode, rate, hold, n)
        limit = limit or int(rate * (hold + 10)) + 50
        before_db = self.db_counts() if stack else (0, 0, 0)
        with_agent = stack or thin
        phone_before = (
            sipp_calls.counts(self.phone.workdir) if (with_agent and self.phone) else None
        )
        since_ms = int(time.time() * 1000)
        meter = procstat.CpuMeter(self.pids(*procs))
        meter.start()
        callers = sipp_calls.start_callers(
            xml,
            target=self.target,
            port=free_udp_port(),
            service=DID if (stack or (thin and self.thin_did)) else "100",
            rate=rate,
            calls=n,
            limit=limit,
            timeout_s=n / rate + hold + 40 + extra_wait,
            extra=("-mp", str(_media_port())) if media else (),
        )
        self.sipps.append(callers)
        deadline = time.monotonic() + n / rate + hold + 60 + extra_wait
        sipp_cpu, rc = 0.0, None
        while time.monotonic() < deadline:
            if sampler is not None:
                sampler()
            pid, status, ru = os.wait4(callers.proc.pid, os.WNOHANG)
            if pid:
                rc = os.waitstatus_to_exitcode(status)
                callers.proc.returncode = rc
                sipp_cpu = ru.ru_utime + ru.ru_stime
                break
            time.sleep(0.1 if sampler is None else 0.25)
        if rc is None:
            step.notes.append("callers did not finish in time (killed)")
            callers.kill()
        t_drain = time.monotonic()
        # drain: the switch empty, the controller's live calls gone, the projector caught up
        try:
            self.wait_until(lambda: self.channels() == 0, 30, "Asterisk channels gone")
        except RuntimeError:
            step.notes.append(f"{self.channels()} channels still up 30 s after the callers")
        if stack:
            assert self.redis is not None
            try:
                self.wait_until(lambda: self.redis.scard(LIVE_CALLS) == 0, 30, "live calls")
            except RuntimeError:
                step.notes.append(f"{self.redis.scard(LIVE_CALLS)} live calls left in Redis")
            try:
                self.wait_until(
                    lambda: self.projector_lag() == 0, self.args.catchup, "projector catch-up"
                )
            except RuntimeError:
                step.notes.append(
                    f"projector still {self.projector_lag()} events behind after "
                    f"{self.args.catchup:.0f} s"
                )
        if thin:
            try:
                self.wait_until(lambda: self.thin_cdrs(since_ms)[0] >= n, 10, "thin app CDRs")
            except RuntimeError:
                pass  # counted below
        step.drain_s = time.monotonic() - t_drain
        step.cpu = meter.stop()
        step.cpu["sipp callers"] = sipp_cpu
        time.sleep(1.2)  # SIPp writes its stat file every second
        c = sipp_calls.counts(callers.workdir)
        step.created, step.ok, step.failed, step.retrans = (
            c.created,
            c.successful,
            c.failed,
            c.retransmissions,
        )
        t = sipp_calls.timing(callers.workdir)
        step.achieved = t.achieved_cps
        step.p50 = sipp_calls.percentile(t.latencies_ms, 50)
        step.p99 = sipp_calls.percentile(t.latencies_ms, 99)
        if rc not in (0, None) and not step.failed:
            step.notes.append(f"sipp exit {rc}")
        if thin:
            step.cdr, step.agent_bridged = self.thin_cdrs(since_ms)
            step.open_calls = 0
        if with_agent and self.phone is not None and phone_before is not None:
            delta = sipp_calls.counts(self.phone.workdir).minus(phone_before)
            step.agent_failed, step.agent_ok = delta.failed, delta.successful
        if stack:
            after = self.db_counts()
            step.cdr = after[0] - before_db[0]
            step.open_calls = after[1]
            step.agent_answered = after[2] - before_db[2]
            step.agent_bridged, step.answered_first, step.two_prompts = self.agent_leg_events(
                since_ms
            )
        if not (rc == 0 and step.failed == 0):
            errs = sorted(callers.workdir.glob("*_errors.log"))
            if errs:
                dest = self.tmp / f"sipp-{mode}-{rate:g}-errors.log"
                shutil.copy(errs[0], dest)
                step.notes.append(sipp_calls.first_error(errs[0]))
        callers.cleanup()
        self.sipps.remove(callers)
        step.clean = (
            rc == 0
            and step.failed == 0
            and step.ok == n
            and step.achieved >= 0.95 * rate
            and not step.notes
            and step.p99 <= self.args.max_p99_ms
            and (
                not with_agent
                or (
                    step.cdr == n
                    and step.open_calls == 0
                    and step.agent_ok == n
                    and step.agent_bridged == n
                    and not step.agent_failed
                )
            )
        )
        if not step.p99 <= self.args.max_p99_ms:
            step.notes.append(f"answer p99 {step.p99:.0f} ms > {self.args.max_p99_ms:g} ms")
        if step.achieved < 0.95 * rate and n > 1:
            step.notes.append(f"rate not sustained ({step.achieved:.0f} cps)")
        if with_agent and step.cdr != n:
            step.notes.append(f"{step.cdr} CDRs for {n} calls")
        if with_agent and (step.agent_ok != n or step.agent_failed):
            why = ""
            if self.phone is not None and step.agent_failed:
                errs = sorted(self.phone.workdir.glob("*_errors.log"))
                why = f" ({sipp_calls.first_error(errs[0])})" if errs else ""
            step.notes.append(f"agent phone: {step.agent_ok} ok, {step.agent_failed} failed{why}")
        if with_agent and step.agent_bridged != n:
            step.notes.append(f"{step.agent_bridged} agent legs bridged for {n} calls")
        cpu = ", ".join(f"{k} {step.ms_per_call(k):.2f}" for k in step.cpu)
        log(
            f"{mode} {rate:g} cps hold {hold:g}s: {step.ok}/{n} ok, {step.failed} failed, "
            f"achieved {step.achieved:.0f} cps, answer p50 {step.p50:.1f} ms p99 "
            f"{step.p99:.1f} ms, drain {step.drain_s:.1f}s, CPU ms/call: {cpu}"
            + (
                f", CDR {step.cdr}, agent ok {step.agent_ok} bridged {step.agent_bridged}, "
                f"DB agent legs answered {step.agent_answered}, agent answered-before-"
                f"offered {step.answered_first}"
                if stack
                else ""
            )
            + (" CLEAN" if step.clean else f" NOT CLEAN {step.notes}")
        )
        return step

    def run_series(
        self,
        series: Series,
        rates: list[float],
        hold: float,
        xml: str,
        *,
        stack: bool = False,
        thin: bool = False,
        reserve_s: float = 0.0,
    ) -> None:
        self.report.series[series.mode] = series
        self.clear_channels()
        for rate in rates:
            need = self.args.duration + hold + 15
            if self.elapsed + need + reserve_s > self.args.budget:
                series.skipped = f"rates from {rate:g} cps skipped (time budget)"
                log(series.skipped)
                return
            step = self.run_step(series.mode, rate, hold, xml, series.procs, stack=stack, thin=thin)
            series.steps.append(step)
            if not step.clean:
                # before the next series starts its phone: what the overloaded step left
                # must not reach (and fail) the next series' agent phone: its channels are
                # hung up, and the next phone registers a fresh port, as Asterisk goes on
                # retransmitting BYEs of the old dialogs to the old one for up to 32 s
                self.clear_channels()
                self.phone_port = 0
                return
            time.sleep(1.0)

    def run_paired(
        self,
        st: Series | None,
        sc: Series | None,
        rates: list[float],
        hold: float,
        xmls: tuple[str, str],
        *,
        reserve_s: float = 0.0,
    ) -> None:
        """(t) and (c) at each rate, one step each, adjacent in time and in alternating
        order; each series stops at its first step that is not clean, the other goes on."""
        live = [x for x in (st, sc) if x is not None]
        for x in live:
            self.report.series[x.mode] = x
        self.clear_channels()
        for i, rate in enumerate(rates):
            need = (self.args.duration + hold + 15) * len(live)
            if self.elapsed + need + reserve_s > self.args.budget:
                for x in live:
                    x.skipped = f"rates from {rate:g} cps skipped (time budget)"
                log(f"rates from {rate:g} cps skipped (time budget)")
                return
            for x in list(live if i % 2 == 0 else reversed(live)):
                thin = x is st
                step = self.run_step(
                    x.mode,
                    rate,
                    hold,
                    xmls[0] if thin else xmls[1],
                    x.procs,
                    stack=not thin,
                    thin=thin,
                )
                x.steps.append(step)
                if not step.clean:
                    live.remove(x)
                    # what the overloaded step left must not reach (and fail) the other
                    # series' next step: channels hung up, a fresh phone on a new port
                    self.clear_channels()
                    self.phone_port = 0
                    if live:
                        self.start_phone(hangs_up_at_once=not hold)
                time.sleep(1.0)
            if not live:
                return

    # ------------------------------------------------------------------ profile, RSS
    def profile_step(self, rate: float) -> None:
        """One more step of (c) hold 0 with py-spy on the controller and the projector."""
        if PYSPY is None:
            self.report.profile_note = "py-spy not installed: no per-part profile"
            return
        assert self.controller is not None and self.projector is not None
        spies = {}
        if self.args.profile_native:
            self.report.profile_flag = "--native"
        for name, proc in (("controller", self.controller), ("projector", self.projector)):
            out = self.tmp / f"pyspy-{name}.txt"
            spy = self.spawn(
                [
                    *(PYSPY, "record", "--pid", str(proc.pid), "--rate", "250"),
                    *("--format", "raw", "-o", str(out)),
                    # --native needs to stop the process for each sample (slower, but it
                    # names C frames: uvloop's, the garbage collector's, libc's)
                    self.report.profile_flag,
                ],
                f"pyspy-{name}",
            )
            spies[name] = (spy, out)
        time.sleep(1.0)
        for name, (spy, _out) in spies.items():
            if spy.poll() is not None:
                self.report.profile_note = (
                    f"py-spy could not attach to the {name}: {self.log_tail('pyspy-' + name, 500)}"
                )
                return
        xml = sipp_calls.caller_waits_for_bye(CALLER, 15)
        step = self.run_step(
            "profile", rate, 0.0, xml, ("controller", "projector", "asterisk"), stack=True
        )
        for spy, _out in spies.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(spy.pid, signal.SIGINT)
        for spy, _out in spies.values():
            try:
                spy.wait(30)
            except subprocess.TimeoutExpired:
                self.stop_proc(spy, signal.SIGKILL)
        self.report.profile_step = step
        ctl_out, pj_out = spies["controller"][1], spies["projector"][1]
        if ctl_out.exists():
            self.report.profile = profile_parts.parse(ctl_out)
        else:
            self.report.profile_note = "py-spy wrote nothing: " + self.log_tail(
                "pyspy-controller", 500
            )
        if pj_out.exists():
            self.report.projector_profile = profile_parts.parse(
                pj_out,
                profile_parts.PROJECTOR_RULES,
                ("reports/", "switch_control/", "callcenter/", "django/db/"),
            )
        if self.args.keep_profile:
            keep = Path(self.args.keep_profile)
            keep.mkdir(parents=True, exist_ok=True)
            for _spy, out in spies.values():
                if out.exists():
                    shutil.copy(out, keep / out.name)

    def rss_step(self, concurrent: int, rate: float, hold: float) -> None:
        self.start_phone(hangs_up_at_once=False, audio="silence")
        assert self.redis is not None
        pids = self.pids("controller", "asterisk", "projector", "redis")
        idle = {k: procstat.rss_kib(p) for k, p in pids.items()}
        peak = dict(idle)
        peak_calls = {"live": 0, "channels": 0}
        t_start = time.monotonic()
        checked = False

        def sample() -> None:
            nonlocal checked
            for k, p in pids.items():
                peak[k] = max(peak[k], procstat.rss_kib(p))
            peak_calls["live"] = max(peak_calls["live"], int(self.redis.scard(LIVE_CALLS)))
            ramp = concurrent / rate
            if not checked and time.monotonic() - t_start > ramp + 3:
                checked = True
                peak_calls["channels"] = self.channels()

        xml = sipp_calls.caller_hangs_up(CALLER, hold, audio="silence")
        step = self.run_step(
            "rss",
            rate,
            hold,
            xml,
            ("controller", "asterisk", "projector", "redis"),
            stack=True,
            calls=concurrent,
            limit=concurrent,
            sampler=sample,
            extra_wait=hold,
            media=True,
        )
        self.report.rss = {
            "idle": idle,
            "peak": peak,
            "live_calls_peak": peak_calls["live"],
            "channels_at_peak": peak_calls["channels"],
            "step": step,
            "concurrent": concurrent,
            "rate": rate,
            "hold": hold,
        }
        log(
            f"RSS at {peak_calls['live']} live calls ({peak_calls['channels']} channels): "
            + ", ".join(
                f"{k} {v / 1024:.0f} MB (idle {idle[k] / 1024:.0f})" for k, v in peak.items()
            )
        )

    # ------------------------------------------------------------------ the whole run
    def run(self) -> Report:
        a = self.args
        self.start_redis()
        self.start_sandbox()
        self.migrate()
        log(f"setup done in {self.elapsed:.0f}s; tmp {self.tmp}")

        # (a) dialplan only
        sa = Series("a", "(a) Asterisk dialplan only: Answer + Hangup", ("asterisk",))
        if "a" in a.modes:
            self.run_series(sa, a.rates_a, 0.0, sipp_calls.caller_waits_for_bye("benchdp", 10))

        # (b) bare ARI app
        if "b" in a.modes:
            self.start_bare()
            sb = Series("b", "(b) bare ARI app (one asyncio process)", ("asterisk", "bare app"))
            self.run_series(sb, a.rates_b, 0.0, sipp_calls.caller_waits_for_bye("benchari", 10))
            self.stop_proc(self.bare)
            self.bare = None

        # (t) the thin reference for (c), same path with none of the machinery, and (c) the
        # real stack: paired at each rate (adjacent steps, alternating which goes first),
        # so the machine's drifting noise weighs on both alike
        tprocs = ("asterisk", "thin app", "redis", "agent sipp")
        procs = ("asterisk", "controller", "projector", "redis", "agent sipp")
        t0 = Series("t0", "(t) thin reference app, same path, hold 0 s", tprocs)
        t2 = Series("t2", "(t) thin reference app, same path, hold 2 s", tprocs)
        c0 = Series("c0", "(c) controller, full path, hold 0 s", procs)
        c2 = Series("c2", "(c) controller, full path, hold 2 s", procs)
        thin_caller = CALLER if self.thin_did else "benchari"
        paired = not (self.thin_did or a.sequential)
        self.report.paired = paired
        if "t0" in a.modes or "t2" in a.modes:
            self.start_thin()
        if paired:
            self.start_stack()
        for hold, st, sc, rates, reserve in (
            (0.0, t0, c0, a.rates_c0, 500),
            (2.0, t2, c2, a.rates_c2, 350),
        ):
            want_t, want_c = st.mode in a.modes, sc.mode in a.modes
            if not (want_t or want_c):
                continue
            xml_t, xml_c = caller_xml(thin_caller, hold), caller_xml(CALLER, hold)
            self.start_phone(hangs_up_at_once=not hold)
            if paired:
                self.run_paired(
                    st if want_t else None,
                    sc if want_c else None,
                    rates,
                    hold,
                    (xml_t, xml_c),
                    reserve_s=reserve,
                )
            elif want_t:
                self.run_series(st, rates, hold, xml_t, thin=True, reserve_s=reserve)
        if not paired:  # (c) after (t): the thin app must be gone (same Stasis app name)
            if self.thin is not None:
                self.stop_proc(self.thin)
                self.thin = None
            self.start_stack()
            for hold, sc, rates, reserve in (
                (0.0, c0, a.rates_c0, 150),
                (2.0, c2, a.rates_c2, 110),
            ):
                if sc.mode not in a.modes:
                    continue
                self.start_phone(hangs_up_at_once=not hold)
                self.run_series(
                    sc, rates, hold, caller_xml(CALLER, hold), stack=True, reserve_s=reserve
                )
        if self.thin is not None:
            self.stop_proc(self.thin)
            self.thin = None

        # per-part profile at a rate the controller handles (py-spy costs CPU too)
        if "profile" in a.modes:
            self.start_phone(hangs_up_at_once=True)
            best = c0.best
            rate = min(a.profile_rate, best.rate) if best else min(a.rates_c0)
            self.profile_step(rate)
        if "rss" in a.modes:
            self.rss_step(a.rss_calls, a.rss_rate, a.rss_hold)
        self.report.elapsed_s = self.elapsed
        return self.report


def caller_xml(user: str, hold: float) -> str:
    """The callers' scenario: hang up ``hold`` s after the answer, or (hold 0) wait for the
    far end's BYE."""
    if hold:
        return sipp_calls.caller_hangs_up(user, hold)
    return sipp_calls.caller_waits_for_bye(user, 15)


def _s(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _media_port() -> int:
    """An even UDP port with the next two free (SIPp binds audio and video ports)."""
    for _ in range(100):
        p = free_udp_port() & ~1
        ok = True
        for q in (p, p + 2):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                try:
                    s.bind(("127.0.0.1", q))
                except OSError:
                    ok = False
                    break
        if ok:
            return p
    raise RuntimeError("no free media port")


# ---------------------------------------------------------------------------- output
def _f(v: float, fmt: str = ".1f") -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, fmt)


def machine() -> str:
    model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} CPU(s), {model or platform.processor()}, Linux {platform.release()}"


def series_table(s: Series) -> list[str]:
    stack = s.mode.startswith("c")
    cols = ["rate (cps)", "achieved", "calls", "ok", "failed", "answer p50 / p99 (ms)"]
    cols += [f"{p} ms/call" for p in s.procs]
    cols += ["SIPp callers ms/call"]
    thin = s.mode.startswith("t")
    if stack:
        cols += ["CDRs", "agent phone ok / bridged", "DB agent legs answered"]
        cols += ["answered before offered", "2nd prompt", "drain (s)"]
    elif thin:
        cols += ["CDRs", "agent phone ok / bridged"]
    cols += ["clean"]
    out = ["| " + " | ".join(cols) + " |", "|" + "---:|" * len(cols)]
    for st in s.steps:
        row = [
            f"{st.rate:g}",
            f"{st.achieved:.0f}",
            str(st.calls),
            str(st.ok),
            str(st.failed),
            f"{_f(st.p50, '.1f')} / {_f(st.p99, '.1f')}",
        ]
        row += [_f(st.ms_per_call(p), ".2f") for p in s.procs]
        row += [_f(st.ms_per_call("sipp callers"), ".2f")]
        if stack:
            row += [
                str(st.cdr),
                f"{st.agent_ok} / {st.agent_bridged}",
                str(st.agent_answered),
                str(st.answered_first),
                str(st.two_prompts),
                f"{st.drain_s:.1f}",
            ]
        elif thin:
            row += [str(st.cdr), f"{st.agent_ok} / {st.agent_bridged}"]
        row += ["yes" if st.clean else "**no**: " + "; ".join(st.notes or ["SIPp failures"])]
        out.append("| " + " | ".join(row) + " |")
    if s.skipped:
        out.append(f"\n{s.skipped}")
    return out


def render(rep: Report, args: argparse.Namespace) -> str:
    L: list[str] = []
    when = rep.started.strftime("%Y-%m-%d %H:%M UTC")
    L.append("## Call path: Asterisk vs bare ARI app vs the controller")
    L.append("")
    L.append(
        f"Run {when}, {machine()}, Asterisk {rep.asterisk_version} (sandbox), Python "
        f"{platform.python_version()}, `.venv/bin/python bench/bench_call_path.py"
        f"{' --quick' if args.quick else ''}` ({rep.elapsed_s / 60:.1f} min). "
        f"Steps of {args.duration:g} s of calls at each rate; a mode stops at its first "
        "rate that is not clean. Everything on 127.0.0.1; the load generators (SIPp) "
        "share the same 2 cores. "
        + (
            f"Code measured: {rep.code} (as the controller and projector loaded it). "
            if rep.code
            else ""
        )
        + "On this shared VM the p99 latencies move a lot between "
        "runs (a step near a mode's limit can pass in one run and miss in the next); "
        "compare rows of the same run."
    )
    L.append("")
    L.append(
        "Clean = SIPp counts every call successful (callers that wait for the far end's BYE "
        "fail without it), the rate was sustained (>= 95 % between first and last INVITE), "
        "no channel left; for (c) also one CDR (`Call` with `ended_at`) per call in the DB "
        "after the projector caught up, every call answered by the agent phone without a "
        "failure, and every agent leg bridged (`CallBridged` of the agent leg on "
        "`callctl:events`). A step whose p99 answer latency is above "
        f"{args.max_p99_ms:g} ms is not clean either (calls are queueing). Answer latency = "
        "first INVITE sent -> 200 OK received (SIPp "
        "message trace, us resolution). CPU = utime+stime from /proc over the step "
        "including the drain (projector catch-up), divided by the calls of the step; "
        "`SIPp callers` is the load generator, for scale."
    )
    L.append("")
    L.append(
        f"(c) hold 0 s: the agent phone hangs up {AGENT_TALK_MS} ms after answering (a "
        "phone that hangs up at once always beats the controller's `addChannel`, so the "
        "join would never be exercised) and the controller releases the caller; hold 2 s: "
        "the caller hangs up 2 s after its answer and the controller hangs up the agent. "
        "Every call first hears `sound:beep` (~0.45 s): the caller enters the bridge when "
        "the prompt ends. `DB agent legs answered` = `CallLeg` rows of agents with "
        "`answered_at`; `answered before offered` = agent legs whose `CallAnswered` was "
        "published before their `CallOffered`; `2nd prompt` = callers that heard a second "
        "prompt (the no-agent one; see the findings below)."
    )
    L.append("")
    L.append(
        "(t) is the same call path as (c) done by `bench/thin_path_app.py`, a single-purpose "
        "asyncio script (aiohttp, uvloop, orjson, an ARI event filter, CDRs batched into a "
        "Redis stream) with none of the real machinery: no state store, bus, normalization, "
        "ledger, projector, AMI or hangup handler. It is the issue's "
        '"physical limit" measured in this run, so (c) can be judged against it on the same '
        "machine at the same moment. Clean for (t) also needs one CDR per call on its stream, "
        "the agent phone's every call ok and every agent leg bridged."
        + (
            " (t) and (c) run paired: at each rate one step of each, back to back, the "
            "first alternating from rate to rate, both stacks up all along (the machine's "
            "noise drifts within minutes; a (t) run minutes before (c) flattered one side)."
            if rep.paired
            else " (t) ran at every rate before (c) (`--sequential`)."
        )
        + (
            " The thin app makes its REST calls with aiohttp's `ClientSession`, as the issue "
            "describes it"
            if "http" not in args.thin_like.split(",")
            else " The thin app makes its REST calls with the controller's client (`--thin-like "
            "http`)"
        )
        + "; the controller with its own keep-alive client "
        "(`switch_control/protocols/ari/http.py`, see the ARI REST client section)."
        + (f" Run with `--thin-like {args.thin_like}`." if args.thin_like else "")
    )
    for key in ("a", "b", "t0", "t2", "c0", "c2"):
        s = rep.series.get(key)
        if not s:
            continue
        L.append("")
        L.append(f"### {s.title}")
        L.append("")
        L += series_table(s)
    L.append("")
    L += summary_lines(rep)
    return "\n".join(L) + "\n"


def summary_lines(rep: Report) -> list[str]:
    L: list[str] = ["### Summary", ""]
    best = {k: rep.series[k].best for k in rep.series}

    def cps(k: str) -> float:
        b = best.get(k)
        return b.rate if b else 0.0

    L.append("| mode | highest clean cps | answer p50 / p99 (ms) at that rate | CPU ms/call |")
    capped = {k: bool(s.steps) and s.steps[-1].clean for k, s in rep.series.items()}
    L.append("|---|---:|---:|---|")
    for k, s in rep.series.items():
        b = best[k]
        if b is None:
            L.append(f"| {s.title} | none | - | - |")
            continue
        cpu = ", ".join(f"{p} {b.ms_per_call(p):.2f}" for p in s.procs)
        ge = ">= " if capped[k] else ""
        L.append(f"| {s.title} | {ge}{b.rate:g} | {b.p50:.1f} / {b.p99:.1f} | {cpu} |")
    L.append("")
    c0, c2 = cps("c0"), cps("c2")
    a_, b_ = cps("a"), cps("b")
    ok0, ok2 = c0 >= TARGETS["c0"], c2 >= TARGETS["c2"]

    def ref(t: str) -> str:
        if t not in rep.series:
            return ""
        return (
            f"; the thin reference app was clean up to {cps(t):g} cps in this run"
            + (" (its last step)" if capped.get(t) else "")
            + (
                f", so {TARGETS['c0' if t == 't0' else 'c2']:g} was out of reach"
                if cps(t) and not capped.get(t) and cps(t) < TARGETS["c0" if t == "t0" else "c2"]
                else ""
            )
        )

    L.append(
        f"- Target (c) hold 0 s >= {TARGETS['c0']:g} cps: **{'met' if ok0 else 'NOT met'}** "
        f"({c0:g} cps clean{ref('t0')})."
    )
    L.append(
        f"- Target (c) hold 2 s >= {TARGETS['c2']:g} cps: **{'met' if ok2 else 'NOT met'}** "
        f"({c2:g} cps clean{ref('t2')})."
    )
    if a_ and b_:

        def ratio(x: str, y: str) -> str:
            vx, vy = cps(x), cps(y)
            if capped.get(y) and not capped.get(x):
                return f"<= {vx / vy:.2f}"
            if capped.get(x) and not capped.get(y):
                return f">= {vx / vy:.2f}"
            return f"{vx / vy:.2f}" + (" (both capped)" if capped.get(x) else "")

        L.append(
            f"- Highest clean rate ratios: (c) hold 0 / (a) {ratio('c0', 'a')}, "
            f"(c) hold 0 / (b) {ratio('c0', 'b')}, (c) hold 2 / (b) {ratio('c2', 'b')}, "
            f"(b) / (a) {ratio('b', 'a')} (a mode whose last step was clean is capped by "
            "the highest rate tried, hence >= / <=)."
        )
    ast = {k: best[k].ms_per_call("asterisk") for k in best if best[k] is not None}
    if "a" in ast:
        L.append(
            "- Asterisk CPU per call: "
            + ", ".join(f"{k} {v:.2f} ms" for k, v in ast.items())
            + f" (x{ast.get('c0', math.nan) / ast['a']:.1f} for (c) hold 0 vs (a): the agent "
            "leg, bridge, prompt and ARI)."
        )
    b0 = best.get("c0")
    bb = best.get("b")
    if b0 and bb:
        L.append(
            f"- Controller CPU per call {b0.ms_per_call('controller'):.2f} ms + projector "
            f"{b0.ms_per_call('projector'):.2f} ms + Redis {b0.ms_per_call('redis'):.2f} ms "
            f"(hold 0 at {b0.rate:g} cps) vs the bare ARI app {bb.ms_per_call('bare app'):.2f} "
            "ms (which makes 2 REST calls per call; (c) makes 9 and handles twice the channels)."
        )
    for c_, t_ in (("c0", "t0"), ("c2", "t2")):
        bc, bt = best.get(c_), best.get(t_)
        if bt is None or c_ not in rep.series:
            continue
        share = cps(c_) / cps(t_)
        capped_t = " (the thin app's last step was clean: its limit is higher)" * capped[t_]
        L.append(
            f"- {rep.series[c_].title} against the thin app on "
            f"the same path: {cps(c_):g} vs {cps(t_):g} cps clean = "
            f"{share:.2f}{capped_t}; the issue's aim is within ~15 % of it (>= 0.85): "
            f"**{'met' if share >= 0.85 and not capped[t_] else 'NOT met'}**."
        )
        if bc is None:
            continue
        ac, at = bc.ms_per_call("asterisk"), bt.ms_per_call("asterisk")
        ours = bc.ms_per_call("controller") + bc.ms_per_call("projector")
        ours += bc.ms_per_call("redis")
        thin = bt.ms_per_call("thin app") + bt.ms_per_call("redis")
        L.append(
            f"  CPU per call at those rates: Asterisk {ac:.1f} ms under the controller vs "
            f"{at:.1f} ms under the thin app; controller + projector + Redis {ours:.1f} ms vs "
            f"thin app + Redis {thin:.1f} ms."
        )
        # a steadier yardstick than the clean rates (one step either way moves their ratio
        # by ~0.1): the whole path's CPU per call of both at the same rate
        common = {st.rate: st for st in rep.series[c_].steps if st.clean}
        same = [
            (st, common[st.rate]) for st in rep.series[t_].steps if st.clean and st.rate in common
        ]
        if same:
            st_t, st_c = max(same, key=lambda tc: tc[0].rate)
            tot_t, tot_c = path_cpu(st_t, THIN_PATH), path_cpu(st_c, CTL_PATH)
            L.append(
                f"  Capacity at the same rate ({st_t.rate:g} cps, the highest both ran clean): "
                f"the whole path takes {tot_t:.1f} ms of CPU per call under the thin app and "
                f"{tot_c:.1f} ms under the controller (Asterisk, app, projector, Redis; "
                f"not the load generators) = {tot_t / tot_c:.2f}."
            )
            ratios = [
                path_cpu(t, THIN_PATH) / path_cpu(c, CTL_PATH)
                for t, c in same
                if t.rate >= CAPACITY_FROM_CPS
            ]
            if len(ratios) > 1:
                L.append(
                    f"  The same over every rate from {CAPACITY_FROM_CPS:g} cps that both ran "
                    f"clean ({len(ratios)} rates{', paired steps' * rep.paired}): median "
                    f"{statistics.median(ratios):.2f}, range {min(ratios):.2f}-"
                    f"{max(ratios):.2f} (below {CAPACITY_FROM_CPS:g} cps fixed costs such as "
                    "presence polling weigh on the few calls)."
                )
    for k in ("c0", "c2"):
        b = best.get(k)
        if b is None:
            continue
        parts = {p: b.ms_per_call(p) for p in CTL_PATH}
        total = sum(parts.values())
        no_pj = total - parts["projector"]
        L.append(
            f"- CPU budget of one call, {rep.series[k].title} at {b.rate:g} cps: "
            + " + ".join(f"{p} {v:.1f}" for p, v in parts.items())
            + f" = {total:.1f} ms, so 2 cores top out near {2000 / total:.0f} cps before the "
            f"load generators take their share; without the projector ({no_pj:.1f} ms) near "
            f"{2000 / no_pj:.0f} cps."
        )
    L.append("")
    L += profile_lines(rep)
    L.append("")
    L += findings_lines(rep)
    L.append("")
    L += rss_lines(rep)
    return L


def profile_lines(rep: Report) -> list[str]:
    L = ["### Controller CPU by part (py-spy)", ""]
    prof, st = rep.profile, rep.profile_step
    if prof is None or st is None or not prof.samples:
        L.append(rep.profile_note or "not run")
        return L
    ctl = st.ms_per_call("controller")
    L.append(
        f"One extra step of (c) hold 0 s at {st.rate:g} cps ({st.calls} calls, "
        f"{'clean' if st.clean else 'not clean: ' + '; '.join(st.notes)}) with "
        f"`py-spy record --rate 250 {rep.profile_flag}` on the controller and on the projector: "
        f"{prof.samples} controller samples; controller CPU {ctl:.2f} ms/call in this step "
        "(py-spy's reading adds a little). py-spy counts a thread that runs or waits for a "
        "core, so the shares below are applied to the CPU measured from /proc. A sample "
        "goes to the innermost frame that names "
        "a part (`bench/profile_parts.py`); `event loop / other` is mostly uvloop's own C "
        "code (socket reads/writes, callbacks), which py-spy shows as `Runner.run`."
    )
    L.append("")
    L += _parts_table(prof, profile_parts.PARTS, ctl)
    L.append("")
    L += _top_lines(prof, "controller")
    pj = rep.projector_profile
    pj_ms = st.ms_per_call("projector")
    L.append("")
    L.append("### Projector CPU by part (py-spy, same step)")
    L.append("")
    if pj is None or not pj.samples:
        L.append("no projector profile")
        return L
    L.append(
        f"{pj.samples} samples; projector CPU {pj_ms:.2f} ms/call in this step (all of its "
        "threads: the asyncio consumer and the `sync_to_async` worker)."
    )
    L.append("")
    L += _parts_table(pj, profile_parts.PROJECTOR_PARTS, pj_ms)
    L.append("")
    L += _top_lines(pj, "projector")
    return L


def _parts_table(prof: profile_parts.Profile, parts: tuple[str, ...], ms: float) -> list[str]:
    L = ["| part | share of the process's CPU | ms per call |", "|---|---:|---:|"]
    for part in parts:
        sh = prof.share(part)
        L.append(f"| {part} | {100 * sh:.1f} % | {sh * ms:.2f} |")
    return L


def _top_lines(prof: profile_parts.Profile, who: str) -> list[str]:
    L = [f"Top self-time lines of the {who} (leaf frames):", ""]
    L += ["| share | frame |", "|---:|---|"]
    for frame, n in prof.leaf.most_common(12):
        L.append(f"| {100 * n / prof.samples:.1f} % | `{frame}` |")
    L.append("")
    L.append(f"Top functions of the {who}, inclusive (time in them and what they call):")
    L.append("")
    L += ["| share | function |", "|---:|---|"]
    for fn, n in prof.inclusive.most_common(12):
        L.append(f"| {100 * n / prof.samples:.1f} % | `{fn}` |")
    return L


# the code the findings point into, read when the controller and projector start (the
# tree may change while the bench runs; the processes keep what they loaded)
CITED = (
    "switch_control/drivers/asterisk/core.py",
    "switch_control/engine/calls.py",
    "switch_control/protocols/ari/client.py",
    "switch_control/protocols/ari/models.py",
    "switch_control/protocols/ami.py",
    "switch_control/daemon.py",
    "switch_control/management/commands/run_projector.py",
    "reports/projector.py",
    "callcenter/settings/__init__.py",
    "asterisk_conf/manager.conf",
    "asterisk_conf/extensions.conf",
)
SNAPSHOT: dict[str, str] = {}


def snapshot_code() -> str:
    """Remember the cited files; return the code version (commit, uncommitted paths)."""
    for path in CITED:
        with contextlib.suppress(OSError):
            SNAPSHOT[path] = (REPO / path).read_text()

    def git(*a: str) -> str:
        r = subprocess.run(["git", *a], cwd=REPO, capture_output=True, text=True, check=False)
        return r.stdout.rstrip("\n")

    head = git("rev-parse", "--short", "HEAD")
    dirty = [
        line[3:]
        for line in git("status", "--porcelain", "--untracked-files=no").splitlines()
        if not line[3:].startswith("bench/")
    ]
    return f"commit {head}" + (f" + uncommitted changes in {', '.join(dirty)}" if dirty else "")


def where(path: str, needle: str) -> str:
    """``path:line`` of the first line of a cited file containing ``needle`` (as the
    controller and projector loaded it); "" if not there."""
    text = SNAPSHOT.get(path)
    if text is None:
        with contextlib.suppress(OSError):
            text = (REPO / path).read_text()
    for i, line in enumerate((text or "").splitlines(), 1):
        if needle in line:
            return f"{path}:{i}"
    return ""


def findings_lines(rep: Report) -> list[str]:
    """Findings from this run's numbers; file:line from the code the processes loaded."""
    L = ["### Findings and hotspots", ""]
    series_steps = [st for k in ("c0", "c2") if k in rep.series for st in rep.series[k].steps]
    steps = list(series_steps)
    if rep.profile_step is not None:
        steps.append(rep.profile_step)
    if rep.rss:
        steps.append(rep.rss["step"])
    n = 0

    def item(text: str) -> None:
        nonlocal n
        n += 1
        L.append(f"{n}. {text}")

    legs = sum(st.calls for st in steps)
    early = sum(st.answered_first or 0 for st in steps)
    unanswered = sum(st.calls - (st.agent_answered or 0) for st in steps)
    two = sum(st.two_prompts or 0 for st in steps)
    core = "switch_control/drivers/asterisk/core.py"
    originate = where(core, '"/channels",')
    rest = where("switch_control/protocols/ari/http.py", "self.transport.write(data)")
    if early:
        item(
            f"**Agent `CallAnswered` published before its `CallOffered`**: {early} of {legs} "
            f"agent legs in the (c) steps. The originate request (`{originate}`)"
            " returns after Asterisk has already dialled, and the leg's `CallOffered` is emitted"
            f" only then (`{where(core, '            CallOffered(')}`), while the leg's own "
            "events (`ChannelStateChange` Up -> `CallAnswered`) are translated as they arrive. "
            f"`{where('switch_control/engine/calls.py', 'leg = state.leg(getattr')}` drops "
            "events of legs it does not know yet, so the controller never sees that agent up: "
            "when the agent then hangs up, the policy treats it as never answered and plays the "
            f"no-agent prompt to the caller before releasing it ({two} callers heard a second "
            "prompt). The projector loses the same `answered_at` "
            f"(`{where('reports/projector.py', 'elif isinstance(event, c.CallAnswered)')}`: no "
            f"leg row yet): {unanswered} agent `CallLeg` rows without `answered_at`. Not fixed "
            "here (benchmark only)."
        )
    prof, pj, st = rep.profile, rep.projector_profile, rep.profile_step
    if prof is not None and prof.samples and st is not None:
        ctl = st.ms_per_call("controller")

        def pc(*frags: str) -> str:
            sh = prof.containing(*frags)
            return f"{100 * sh:.0f} % ({sh * ctl:.1f} ms/call)"

        item(
            f"**AMI**: {pc('panoramisk/', 'protocols/ami')} of the controller's CPU. The "
            "driver opens AMI only while it reconciles and for the half-hourly AstDB sweep: "
            "a standing manager session, whatever event classes it asks for, makes Asterisk "
            "format every AMI event of every call (measured: 12.0 -> 10.8 ms of Asterisk CPU "
            "per call without it); phones' presence is polled over ARI."
        )
        item(
            f"**ARI REST requests**: {pc('AriClient.request')} "
            f"(9 requests per call: answer, play, bridge, the caller's subscription, "
            f"addChannel, originate, addChannel, hangup, bridge delete), of which the socket "
            f"write `{rest}` {pc('_Conn.send')}; on loopback the kernel's TCP delivery to "
            "Asterisk is charged to the sender. They go through the controller's own "
            "keep-alive HTTP/1.1 client (`HttpPool`): aiohttp's `ClientSession` spent ~85 us "
            "of CPU per request, this one ~25 (`bench/bench_ari_http.py`); aiohttp stays for "
            "the websocket. The pool keeps up to `ARI_MAX_CONNECTIONS` (256) connections: "
            "`addChannel` and `answer` hold theirs until the channel did it, and with 16 "
            "every call queued behind them from ~40 cps on (answer p50 > 1 s)."
        )
        item(
            f"**ARI events**: {pc('AriClient._ws_loop')} for the websocket reader and "
            f"dispatch, of which `parse_event` {pc('switch_control/protocols/ari/models.py')} "
            f"(timestamps with `datetime.fromisoformat`, "
            f"`{where('switch_control/protocols/ari/models.py', 'fromisoformat')}`; "
            "`strptime` cost 6 % alone). Asterisk sends only the event types the driver "
            f"uses (`{where('switch_control/drivers/asterisk/translate.py', 'WANTED_EVENTS =')}`)."
        )
        item(
            f"**Publisher**: {pc('_publisher')} in "
            f"`{where('switch_control/daemon.py', 'async with self.redis.pipeline')}`: an "
            "XADD per event, and per batch one MSET of the live calls' states and one "
            "DEL of the ended ones (it waits up to `PUBLISH_LINGER_MS`, 25 ms, for a burst "
            "to gather)."
        )
    if pj is not None and pj.samples and st is not None:
        pms = st.ms_per_call("projector")

        def pp(*frags: str) -> str:
            sh = pj.containing(*frags)
            return f"{100 * sh:.0f} % ({sh * pms:.1f} ms/call)"

        handoff = pj.share(profile_parts.P_THREAD)
        others = sum(st.ms_per_call(k) for k in ("asterisk", "controller"))
        item(
            f"**Projector**: {pms:.1f} ms per call"
            + (" (more than Asterisk and the controller together)" if pms > others else "")
            + ": each batch (the consumer lingers `PROJECTOR_LINGER_MS`, 1 s, for one) is "
            "read, folded in memory "
            f"and written with a fixed number of statements "
            f"(`{where('reports/projector.py', 'class _Batch')}`): Django ORM + SQLite "
            f"{pp('django/db/')}, of which SQLite commits {pp('BaseDatabaseWrapper._commit')}"
            f"; the CDR rules themselves {pp('_Batch.apply')}; decoding the events "
            f"{pp('switch_control/contract/codec.py')}; the `sync_to_async` hand-off "
            f"{100 * handoff:.0f} % ({handoff * pms:.1f} ms/call). (The per-event ORM version "
            "took 15.9 ms per call.)"
        )
    ast = [st.ms_per_call("asterisk") for st in series_steps if st.clean]
    if ast:
        astdb = where("asterisk_conf/extensions.conf", "Set(DB(cc_end")
        span = f"{min(ast):.1f}" + (f"-{max(ast):.1f}" if max(ast) > min(ast) else "")
        item(
            f"**Asterisk** takes {span} ms per call in the clean (c) steps (two channels, a "
            "bridge and a prompt; (b) answers one channel and hangs up). Besides the call "
            "itself it writes AstDB once per leg in the hangup handler"
            + (f" (`{astdb}`)" if astdb else "")
            + " and builds the ARI events the controller reads. The app no longer asks for "
            "`subscribeAll`, with which Asterisk turned every stasis message of every channel "
            "and bridge into JSON before the event filter dropped most of them: the driver "
            "now knows bridge membership from its own addChannel/removeChannel replies, "
            "subscribes each dialplan caller explicitly (its `ChannelDestroyed`) and polls "
            "phones' presence (8 ARI events per call instead of 12; Asterisk's excess over "
            "the thin app went from ~1.6 to ~0.8-1.3 ms per call at 90-100 cps). "
            "`--thin-like` adds the controller's features to the thin app one at a time. "
            "Measured that way earlier (75 cps, 3 steps each, thin app with all five "
            "features 12.4 ms, without any 9.7): leaving out the AMI session -1.6, the "
            "originate variables and agent hangup handler -1.1, the caller's `[from-trunk]` "
            "dialplan -0.5 (at hold 2 s: -1.3), the event filter and `subscribeAll` within "
            "noise. AMI is now opened only when needed and caller ID no longer set twice. "
            "Reusing bridges instead of creating and deleting one per call (tried on the "
            "thin app, 3 alternating steps each at 100 cps) was within noise. An earlier "
            "attempt with "
            "explicit subscriptions per caller and per bridge was no cheaper for "
            "Asterisk (11.8 against 11.1 ms). Earlier single-step experiments: Asterisk CDRs "
            "off (`cdr.conf` enable = no) 11.2 against 10.6; no `channelvars` in `ari.conf` "
            "12.0; declining stasis message types (`stasis.conf`) "
            "that AMI subscribes to makes Asterisk refuse to start. `perf record` of "
            "Asterisk during such a step (Debian's binaries: dynamic symbols only) shows "
            "no hot spot: allocation, ao2 reference counting and locking spread over "
            "everything, the kernel (thread wake-ups, syscalls) ~30 %, JSON building "
            "(jansson) ~5 %, decoding the GSM prompt ~2 %, AstDB (SQLite) < 1 %."
        )
    return L


def _line(ref: str) -> str:
    path, _, line = ref.rpartition(":")
    text = SNAPSHOT.get(path, "").splitlines()
    return text[int(line) - 1].strip().rstrip(",") if line.isdigit() and text else ""


def rss_lines(rep: Report) -> list[str]:
    r = rep.rss
    if not r:
        return ["### Memory with concurrent calls", "", "not run"]
    L = [f"### Memory with {r['concurrent']} concurrent calls", ""]
    st: Step = r["step"]
    peak, idle = r["peak"], r["idle"]
    ctl_mb = peak.get("controller", 0) / 1024
    L.append(
        f"{r['concurrent']} calls ramped at {r['rate']:g} cps, each held {r['hold']:g} s, "
        "caller and agent phone both sending G.711 silence (RTP every 20 ms), so every call "
        "is two bridged channels with media: peak live calls in the controller's state "
        f"{r['live_calls_peak']}, Asterisk channels {r['channels_at_peak']} (sampled after the "
        f"ramp). Calls ok {st.ok}/{st.calls}, CDRs {st.cdr}"
        f"{'' if st.clean else ' (not clean: ' + '; '.join(st.notes) + ')'}."
    )
    L.append("")
    L.append("| process | VmRSS idle (MB) | peak VmRSS (MB) |")
    L.append("|---|---:|---:|")
    for k in peak:
        L.append(f"| {k} | {idle[k] / 1024:.0f} | {peak[k] / 1024:.0f} |")
    L.append("")
    L.append(
        f"This step is about memory, not capacity: carrying RTP for {r['concurrent']} calls "
        f"costs Asterisk {st.ms_per_call('asterisk'):.0f} ms and the SIPp callers "
        f"{st.ms_per_call('sipp callers'):.0f} ms of CPU per call over the hold, so the "
        f"2 cores are busy (answer p50 / p99 {st.p50:.0f} / {st.p99:.0f} ms). "
        "Asterisk's idle figure is after the (a)/(b) bursts: it keeps what it allocated."
    )
    L.append("")
    ok = ctl_mb <= TARGETS["rss_mb"] and r["live_calls_peak"] >= r["concurrent"] * 0.95
    L.append(
        f"- Target controller RSS <= {TARGETS['rss_mb']:g} MB at {r['concurrent']} calls: "
        f"**{'met' if ok else 'NOT met'}** ({ctl_mb:.0f} MB)."
    )
    return L


def parse_rates(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
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
        type=lambda t: set(t.split(",")),
        default={"a", "b", "t0", "t2", "c0", "c2", "profile", "rss"},
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
    ap.add_argument("--no-write", action="store_true", help="do not touch bench/RESULTS.md")
    ap.add_argument("--quick", action="store_true", help="3 s steps, two rates per mode")
    args = ap.parse_args(argv)
    if args.quick:
        args.duration = 3.0
        args.rates_a, args.rates_b = [100.0, 400.0], [50.0, 200.0]
        args.rates_c0, args.rates_c2 = [25.0, 100.0], [25.0, 50.0]
        args.rss_calls, args.rss_hold = 100, 8.0
    if os.geteuid() != 0:
        raise SystemExit("needs root (the Asterisk sandbox runs in a chroot)")
    bench = Bench(args)

    def _term(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _term)
    try:
        rep = bench.run()
    except BaseException:
        log("bench failed; logs:")
        for name in ("controller", "projector", "bare"):
            tail = bench.log_tail(name, 1500)
            if tail:
                print(f"--- {name} ---\n{tail}", flush=True)
        raise
    finally:
        bench.cleanup()
    text = render(rep, args)
    print("\n" + text, flush=True)
    if not args.no_write:
        write_section("call-path", text)
        log(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
