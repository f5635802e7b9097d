"""The processes under test and around them: a private Redis, the sandbox Asterisk, the
bare and thin ARI apps, the controller and projector, the agent phone (SIPp); started,
found (pids) and stopped by their own pids."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import redis

from bench import procstat, sipp_calls
from scripts import sipp
from scripts.asterisk_sandbox import AsteriskSandbox, free_port, free_udp_port
from switch_control.livestate import live_calls_key

BENCH = Path(__file__).resolve().parent.parent
REPO = BENCH.parent
PYTHON = str(REPO / ".venv/bin/python") if (REPO / ".venv/bin/python").exists() else sys.executable
PYSPY = shutil.which("py-spy", path=str(Path(PYTHON).parent)) or shutil.which("py-spy")

AGENT = "1001"
CALLER = "13800138000"
DID = "4008001234"
CONTROLLER_NAME = "bench-ctl"
EVENTS_STREAM = "callctl:events"
LIVE_CALLS = live_calls_key(CONTROLLER_NAME)  # the controller's own set of live calls
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


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def s_(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def wait_until(pred: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}")


def media_port() -> int:
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


class Stack:
    def __init__(self, stack_env: list[str], thin_like: str) -> None:
        self.extra_env = stack_env
        self.thin_like = thin_like
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
        self.asterisk_version = ""

    # ------------------------------------------------------------------ plumbing
    @property
    def target(self) -> str:
        assert self.sandbox and self.sandbox.info
        return f"127.0.0.1:{self.sandbox.info.sip_port}"

    @property
    def thin_did(self) -> bool:
        """--thin-like did: the thin app's callers go through the DID's dialplan."""
        return "did" in self.thin_like.split(",")

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

        wait_until(ping, 10, "redis-server")

    def start_sandbox(self) -> None:
        self.sandbox = AsteriskSandbox(
            agents=(AGENT,), rtp_ports=RTP_PORTS, extra_pjsip=BENCH_ENDPOINTS
        )
        info = self.sandbox.start()
        ver = self.sandbox.ari_get("/asterisk/info")
        assert isinstance(ver, dict)
        self.asterisk_version = str(ver.get("system", {}).get("version", ""))
        if procstat.comm(info.pid) != "asterisk":  # chroot execs asterisk: same pid
            kids = [p for p in procstat.children(info.pid) if procstat.comm(p) == "asterisk"]
            if kids:
                info.pid = kids[0]
        log(
            f"sandbox Asterisk {self.asterisk_version} pid {info.pid}, SIP {info.sip_port}"
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
        for kv in self.extra_env:  # experiments
            name, _, value = kv.partition("=")
            env[name] = value
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

    # ------------------------------------------------------------------ (b), (t), (c)
    def start_bare(self) -> None:
        env = self.stack_env()
        self.bare = self.spawn(
            [PYTHON, str(BENCH / "bare_ari_app.py"), "--app", "bench"], "bare", env
        )
        wait_until(lambda: "ready" in self.log_tail("bare"), 20, "bare ARI app connected")

    def stop_bare(self) -> None:
        self.stop_proc(self.bare)
        self.bare = None

    def start_thin(self) -> None:
        env = self.stack_env()
        env["THIN_LIKE"] = self.thin_like
        self.thin = self.spawn(
            [
                *(PYTHON, str(BENCH / "thin_path_app.py"), "--agent", AGENT),
                *("--app", env["ARI_APP"] if self.thin_did else "bench"),
            ],
            "thin",
            env,
        )
        wait_until(lambda: "ready" in self.log_tail("thin"), 20, "thin ARI app connected")

    def stop_thin(self) -> None:
        self.stop_proc(self.thin)
        self.thin = None

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
        return any(s_(g.get("name")) == "projector" for g in groups)

    def start_stack(self) -> None:
        env = self.stack_env()
        self.controller = self.spawn([PYTHON, "manage.py", "run_controller"], "controller", env)
        self.projector = self.spawn([PYTHON, "manage.py", "run_projector"], "projector", env)
        wait_until(self.controller_connected, 60, "controller connected to Asterisk")
        wait_until(self.projector_ready, 60, "projector consuming callctl:events")
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
        extra_mp = ("-mp", str(media_port())) if audio else ()
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
