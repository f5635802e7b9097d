"""Run the whole call center locally (see scripts/run.sh and README "Run").

Starts, all on 127.0.0.1: redis-server (unless REDIS_URL points at a reachable one), the
sandbox Asterisk, then ``daphne``, ``run_controller``, ``run_projector``, ``celery worker``
and ``celery beat`` as child processes. Their PIDs go to ``var/run.pids``; Ctrl-C (or
SIGTERM) stops each of them by PID, then Asterisk and Redis.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from scripts.asterisk_sandbox import AsteriskSandbox, SandboxError, free_port

REPO = Path(__file__).resolve().parent.parent
VAR = Path(os.environ.get("CALLCENTER_VAR_DIR", REPO / "var"))
PY = sys.executable
log = logging.getLogger("run")


class Stack:
    def __init__(self) -> None:
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.sandbox: AsteriskSandbox | None = None
        self.stopping = False

    def spawn(self, name: str, cmd: list[str], env: dict[str, str]) -> None:
        logf = open(VAR / "logs" / f"{name}.log", "ab")
        proc = subprocess.Popen(
            cmd,
            env=env,
            cwd=REPO,
            stdout=logf,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        logf.close()
        self.children.append((name, proc))
        (VAR / "run.pids").write_text("".join(f"{n} {p.pid}\n" for n, p in self.children))
        log.info("started %-10s pid %d  (log: var/logs/%s.log)", name, proc.pid, name)

    def stop(self) -> None:
        if self.stopping:
            return
        self.stopping = True
        for name, proc in reversed(self.children):
            if proc.poll() is None:
                log.info("stopping %s (pid %d)", name, proc.pid)
                proc.terminate()
        deadline = time.monotonic() + 15
        for name, proc in reversed(self.children):
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop; killing pid %d", name, proc.pid)
                proc.kill()
                proc.wait(5)
        if self.sandbox is not None:
            log.info("stopping Asterisk")
            self.sandbox.stop()
        (VAR / "run.pids").unlink(missing_ok=True)
        (VAR / "sandbox.env").unlink(missing_ok=True)


def redis_reachable(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    ap = argparse.ArgumentParser(description="Run the call center locally")
    ap.add_argument("--port", type=int, default=int(os.environ.get("WEB_PORT", "8000")))
    args = ap.parse_args()
    (VAR / "logs").mkdir(parents=True, exist_ok=True)
    stack = Stack()

    def on_signal(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    env = dict(
        os.environ,
        PYTHONUNBUFFERED="1",
        DJANGO_SETTINGS_MODULE="callcenter.settings",
        CALLCENTER_VAR_DIR=str(VAR),
    )
    try:
        # --- Redis
        url = env.get("REDIS_URL", "")
        if not url or not redis_reachable(url):
            exe = shutil.which("redis-server")
            if exe is None:
                log.error(
                    "redis-server is not installed and REDIS_URL is not reachable: "
                    "apt-get install redis-server, or set REDIS_URL"
                )
                return 1
            port = free_port()
            url = f"redis://127.0.0.1:{port}/0"
            stack.spawn(
                "redis",
                [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(VAR)],
                env,
            )
            for _ in range(100):
                if redis_reachable(url):
                    break
                time.sleep(0.05)
        env["REDIS_URL"] = url
        # --- database and demo data
        subprocess.run([PY, "manage.py", "migrate", "-v0"], env=env, cwd=REPO, check=True)
        seed = subprocess.run(
            [PY, "manage.py", "seed_demo"],
            env=env,
            cwd=REPO,
            check=True,
            capture_output=True,
            text=True,
        )
        # --- the switch
        if env.get("ARI_URL") and env.get("ARI_PASSWORD"):
            log.info("using your Asterisk at %s", env["ARI_URL"])
        else:
            try:
                stack.sandbox = AsteriskSandbox()
                info = stack.sandbox.start()
            except (SandboxError, OSError) as exc:
                log.error("could not start the sandbox Asterisk: %s", exc)
                return 1
            env.update(info.env())
            (VAR / "sandbox.env").write_text("".join(f"{k}={v}\n" for k, v in info.env().items()))
            (VAR / "sandbox.env").chmod(0o600)
        env.setdefault("DEFAULT_AGENT_EXTENSIONS", "1001,1002")
        # --- the processes
        stack.spawn(
            "web",
            [
                PY,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(args.port),
                "callcenter.asgi:application",
            ],
            env,
        )
        stack.spawn("controller", [PY, "manage.py", "run_controller"], env)
        stack.spawn("projector", [PY, "manage.py", "run_projector"], env)
        stack.spawn(
            "worker",
            [PY, "-m", "celery", "-A", "callcenter", "worker", "-l", "info", "--concurrency", "1"],
            env,
        )
        stack.spawn(
            "beat",
            [
                PY,
                "-m",
                "celery",
                "-A",
                "callcenter",
                "beat",
                "-l",
                "info",
                "--schedule",
                str(VAR / "celerybeat-schedule"),
            ],
            env,
        )
        print(
            f"""
================================================================================
 Call center is up (all on 127.0.0.1)
   status page : http://127.0.0.1:{args.port}/status/
   admin       : http://127.0.0.1:{args.port}/admin/
 {seed.stdout.strip().replace(chr(10), chr(10) + " ")}
   switch      : {env.get("ARI_URL")}  (SIP on 127.0.0.1:{env.get("ASTERISK_SIP_PORT", "?")})
 Place a demo call (SIPp caller -> Asterisk -> controller -> agent phone 1001):
   .venv/bin/python -m scripts.demo_call
 Logs in var/logs/. Ctrl-C stops everything.
================================================================================
""",
            flush=True,
        )
        while True:
            for name, proc in stack.children:
                if proc.poll() is not None:
                    log.error("%s exited with %s; see var/logs/%s.log", name, proc.returncode, name)
                    return 1
            time.sleep(1)
    except KeyboardInterrupt:
        log.info("stopping")
        return 0
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
