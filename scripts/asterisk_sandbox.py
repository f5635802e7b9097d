"""A real Asterisk 22 (Debian sid's package) in a chroot on 127.0.0.1, for tests and the demo.

    python -m scripts.asterisk_sandbox build          # build/cache the root filesystem tarball
    python -m scripts.asterisk_sandbox start [--env FILE]   # start one, print its endpoints

Debian 12 has no asterisk package; sid's needs sid's libc, so an all-sid root filesystem is
built once with mmdebstrap from the host's own apt mirror and cached outside the repository
(``$CALLCENTER_CACHE`` or ``~/.cache/callcenter``). Each sandbox unpacks a fresh copy, picks
free ports, renders ``asterisk_conf/`` for loopback and runs Asterisk as user asterisk.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from base64 import b64encode
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parent.parent
CONF_DIR = REPO / "asterisk_conf"
CACHE = Path(os.environ.get("CALLCENTER_CACHE", Path.home() / ".cache" / "callcenter"))
TARBALL = CACHE / "asterisk-sid.tar.zst"
STASIS_APP = "callcenter"
DEMO_AGENTS = ("1001", "1002", "1003", "1004", "1005", "2001", "2002", "9001")


class SandboxError(RuntimeError):
    pass


def host_debian_mirror() -> str:
    """The Debian mirror this host's apt uses (a local mirror is respected)."""
    candidates: list[Path] = [Path("/etc/apt/sources.list")]
    d = Path("/etc/apt/sources.list.d")
    if d.is_dir():
        candidates += sorted(d.iterdir())
    for path in candidates:
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        for m in re.finditer(r"^\s*URIs:\s*(\S+)", text, re.M):  # deb822
            if "debian" in m.group(1) and "security" not in m.group(1):
                return m.group(1)
        for m in re.finditer(r"^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+\S+", text, re.M):
            if "debian" in m.group(1) and "security" not in m.group(1):
                return m.group(1)
    raise SandboxError("no Debian mirror found in /etc/apt/sources.list*; cannot build sid rootfs")


def build_rootfs(force: bool = False) -> Path:
    """Build (once) and cache the all-sid root filesystem with asterisk installed."""
    if TARBALL.exists() and not force:
        return TARBALL
    if shutil.which("mmdebstrap") is None:
        raise SandboxError("mmdebstrap is not installed (apt-get install mmdebstrap zstd)")
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = CACHE / f"asterisk-sid.{os.getpid()}.partial.tar.zst"
    cmd = [
        "mmdebstrap",
        "--mode=root",
        "--variant=apt",
        "--include=asterisk",
        '--aptopt=Acquire::Check-Valid-Until "false"',
        "--dpkgopt=path-exclude=/usr/share/{man,doc,info,locale}/*",
        "sid",
        str(partial),
        host_debian_mirror(),
    ]
    logger.info("building Asterisk root filesystem (once): %s", " ".join(cmd))
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        partial.unlink(missing_ok=True)
        raise SandboxError(f"mmdebstrap failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    partial.rename(TARBALL)
    logger.info("rootfs built in %.1fs: %s", time.monotonic() - t0, TARBALL)
    return TARBALL


def _free_port(kind: int = socket.SOCK_STREAM, also_udp: bool = False) -> int:
    for _ in range(200):
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if also_udp:
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                    u.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise SandboxError("no free port")


def free_port() -> int:
    return _free_port()


def free_udp_port() -> int:
    return _free_port(socket.SOCK_DGRAM)


def _rtp_range(size: int = 400) -> tuple[int, int]:
    for _ in range(50):
        start = random.randrange(20000, 60000 - size, 2)
        ok = True
        for p in (start, start + size // 2, start + size - 2):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                try:
                    s.bind(("127.0.0.1", p))
                except OSError:
                    ok = False
                    break
        if ok:
            return start, start + size
    raise SandboxError("no free RTP range")


@dataclass
class SandboxInfo:
    root: str
    pid: int
    sip_port: int
    http_port: int
    ami_port: int
    rtp_start: int
    rtp_end: int
    pstn_port: int
    ari_user: str = "callcenter"
    ari_password: str = ""
    ami_user: str = "callcenter"
    ami_password: str = ""
    app: str = STASIS_APP
    agents: tuple[str, ...] = DEMO_AGENTS
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def ari_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/ari"

    def env(self) -> dict[str, str]:
        """Environment for the controller and web to use this sandbox."""
        return {
            "SWITCH_KIND": "asterisk",
            "ARI_URL": self.ari_url,
            "ARI_USER": self.ari_user,
            "ARI_PASSWORD": self.ari_password,
            "ARI_APP": self.app,
            "AMI_HOST": "127.0.0.1",
            "AMI_PORT": str(self.ami_port),
            "AMI_USER": self.ami_user,
            "AMI_PASSWORD": self.ami_password,
            "ASTERISK_SIP_PORT": str(self.sip_port),
        }


_PLACEHOLDER = re.compile(r"\{\{([A-Z0-9_]+)\}\}")


def render(template: str, values: dict[str, str]) -> str:
    """Fill ``{{NAME}}`` placeholders (``${...}`` is Asterisk's own syntax and stays)."""

    def sub(m: re.Match[str]) -> str:
        try:
            return values[m.group(1)]
        except KeyError:
            raise SandboxError(f"no value for {{{{{m.group(1)}}}}}") from None

    return _PLACEHOLDER.sub(sub, template)


def render_conf(dest: Path, values: dict[str, str], agents_text: str) -> None:
    """Render asterisk_conf/*.conf into ``dest`` (files mode 0644: Asterisk runs as asterisk);
    ``agents_text`` becomes pjsip_agents.conf."""
    dest.mkdir(parents=True, exist_ok=True)
    for src in sorted(CONF_DIR.glob("*.conf")):
        if src.name == "pjsip_agents.conf":
            continue
        (dest / src.name).write_text(render(src.read_text(), values))
    (dest / "pjsip_agents.conf").write_text(agents_text)
    for f in dest.iterdir():
        f.chmod(0o644)


def agents_conf(agents: Sequence[tuple[str, str, str]]) -> str:
    """PJSIP sections for agents ``(extension, caller-id name, password)``; an empty
    password means no authentication (the loopback sandbox only)."""
    parts = []
    for ext, name, password in agents:
        cid = name.replace('"', "'") or f"Agent {ext}"
        text = f'[{ext}](agent-endpoint)\naors = {ext}\ncallerid = "{cid}" <{ext}>\n'
        if password:
            text += f"auth = {ext}-auth\n[{ext}-auth](agent-auth)\nusername = {ext}\n"
            text += f"password = {password}\n"
        parts.append(text + f"[{ext}](agent-aor)\n")
    return "\n".join(parts)


# The sandbox's own dialplan: test helpers that a real deployment does not need.
SANDBOX_DIALPLAN = """
; counts executions, for exactly-once tests: originate Local/<id>@cc-count; each id has
; its own counter CC_COUNT_<id> (one shared counter under LOCK() lost increments once many
; originates ran at once: LOCK gives up after a few seconds and the two updates race)
[cc-count]
exten => _X!,1,Set(GLOBAL(CC_COUNT_${EXTEN})=$[0${CC_COUNT_${EXTEN}} + 1])
 same => n,Hangup()

; (a) of the benchmark: dialplan-only answer + hangup
[bench-dialplan]
exten => _X.,1,Answer()
 same => n,Hangup()

; (b) of the benchmark: a bare ARI app
[bench-ari]
exten => _X.,1,Stasis(bench)
 same => n,Hangup()
"""


def _make_moh(moh_dir: Path) -> None:
    """A music-on-hold file: a tone melody, so tests can check RTP reaches a held caller."""
    moh_dir.mkdir(parents=True, exist_ok=True)
    out = moh_dir / "cc-moh.wav"
    if shutil.which("sox"):
        subprocess.run(
            [
                "sox",
                "-n",
                "-r",
                "8000",
                "-c",
                "1",
                "-b",
                "16",
                str(out),
                "synth",
                "1",
                "sine",
                "440",
                "synth",
                "1",
                "sine",
                "660",
                "repeat",
                "4",
            ],
            check=True,
            capture_output=True,
        )
    else:  # fall back to a shipped prompt
        logger.warning("sox missing: using a stock prompt as music on hold")


class AsteriskSandbox:
    """Start/stop one sandbox Asterisk. Use as a context manager or call start()/stop()."""

    def __init__(
        self,
        base_dir: Path | None = None,
        agents: tuple[str, ...] = DEMO_AGENTS,
        *,
        rtp_ports: int = 400,
        extra_pjsip: str = "",
    ) -> None:
        """``rtp_ports``: size of the RTP port range (two per channel; benchmarks with
        hundreds of bridged calls need more). ``extra_pjsip``: more PJSIP sections
        (e.g. benchmark endpoints), appended to ``pjsip_agents.conf``."""
        self.base_dir = base_dir
        self.agents = agents
        self.rtp_ports = rtp_ports
        self.extra_pjsip = extra_pjsip
        self.info: SandboxInfo | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self._tmp: str | None = None

    def __enter__(self) -> SandboxInfo:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 60.0) -> SandboxInfo:
        if os.geteuid() != 0:
            raise SandboxError("the Asterisk sandbox needs root (chroot)")
        tarball = build_rootfs()
        self._tmp = tempfile.mkdtemp(prefix="cc-asterisk-", dir=self.base_dir)
        root = Path(self._tmp) / "root"
        root.mkdir()
        t0 = time.monotonic()
        subprocess.run(
            ["tar", "--zstd", "-xf", str(tarball), "-C", str(root)],
            check=True,
            capture_output=True,
        )
        logger.info("unpacked rootfs in %.1fs", time.monotonic() - t0)
        (root / "etc/resolv.conf").unlink(missing_ok=True)
        (root / "etc/resolv.conf").write_text("nameserver 127.0.0.1\n")
        # Asterisk resolves its own host name (ast_find_ourip): keep that off DNS
        (root / "etc/hosts").write_text(f"127.0.0.1 localhost {socket.gethostname()}\n")
        rtp_start, rtp_end = _rtp_range(self.rtp_ports)
        info = SandboxInfo(
            root=str(root),
            pid=0,
            sip_port=_free_port(also_udp=True),
            http_port=free_port(),
            ami_port=free_port(),
            rtp_start=rtp_start,
            rtp_end=rtp_end,
            pstn_port=free_udp_port(),
            ari_password=secrets.token_urlsafe(16),
            ami_password=secrets.token_urlsafe(16),
            agents=self.agents,
        )
        values = {
            "SIP_BIND": "127.0.0.1",
            "HTTP_BIND": "127.0.0.1",
            "AMI_BIND": "127.0.0.1",
            "SIP_PORT": str(info.sip_port),
            "HTTP_PORT": str(info.http_port),
            "AMI_PORT": str(info.ami_port),
            "AMI_PERMIT": "127.0.0.1/255.255.255.255",
            "RTP_START": str(rtp_start),
            "RTP_END": str(rtp_end),
            "ARI_USER": info.ari_user,
            "ARI_PASSWORD": info.ari_password,
            "AMI_USER": info.ami_user,
            "AMI_PASSWORD": info.ami_password,
            "STASIS_APP": info.app,
            "ARI_ALLOWED_ORIGINS": "http://127.0.0.1",
            "MAX_CALLS": "2000",
            "WS_PROTOCOL": "ws",
            "QUALIFY_FREQUENCY": "0",
            "TRUNK_FROM_USER": "",
            "TRUNK_AUTH_LINE": "",
            "TRUNK_HOST": f"127.0.0.1:{info.pstn_port}",
            "TRUNK_MATCH": "127.0.0.1",
            "ICE_SUPPORT": "no",
            # SIPp phones are linear scripts: no mid-call re-INVITEs
            "SEND_CONNECTED_LINE": "no",
            # tests listen on the port a SIPp phone announces, not where SIPp sends from
            "RTP_SYMMETRIC": "no",
        }
        etc = root / "etc/asterisk"
        # Debian's defaults stay for modules we don't configure (indications.conf for
        # tones…); stasis.conf's [threadpool] section is not what Asterisk 22 expects.
        # users.conf/acl.conf samples make Asterisk resolve names (no DNS here).
        for name in ("stasis.conf", "users.conf", "acl.conf"):
            (etc / name).unlink(missing_ok=True)
        agents_text = agents_conf([(a, "", "") for a in self.agents])
        render_conf(
            etc, values, agents_text + ("\n" + self.extra_pjsip if self.extra_pjsip else "")
        )
        (etc / "extensions_local.conf").write_text(SANDBOX_DIALPLAN)
        (etc / "extensions_local.conf").chmod(0o644)
        _make_moh(root / "var/lib/asterisk/moh")
        subprocess.run(
            [
                "chroot",
                str(root),
                "install",
                "-d",
                "-o",
                "asterisk",
                "-g",
                "asterisk",
                "/var/spool/asterisk/recording",
            ],
            check=True,
            capture_output=True,
        )
        with open(Path(self._tmp) / "asterisk.out", "wb") as log:
            self.proc = self._spawn(root, log)
        info.pid = self.proc.pid
        self.info = info
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        logger.info("sandbox Asterisk up in %.1fs (pid %d)", time.monotonic() - t0, info.pid)
        return info

    @staticmethod
    def _spawn(root: Path | str, log: Any) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                "chroot",
                str(root),
                "/usr/sbin/asterisk",
                "-f",
                "-n",
                "-U",
                "asterisk",
                "-G",
                "asterisk",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def cli(self, command: str, timeout: float = 15.0) -> str:
        assert self.info is not None
        proc = subprocess.run(
            ["chroot", self.info.root, "/usr/sbin/asterisk", "-rx", command],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return proc.stdout + proc.stderr

    def ari_get(self, path: str, timeout: float = 2.0) -> object:
        assert self.info is not None
        req = urllib.request.Request(self.info.ari_url + path)  # noqa: S310 - loopback http
        token = b64encode(f"{self.info.ari_user}:{self.info.ari_password}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - loopback
            return json.loads(resp.read())

    def _wait_ready(self, timeout: float) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SandboxError(
                    f"Asterisk exited with {self.proc.returncode}: {self.log_tail()}"
                )
            out = self.cli("core waitfullybooted", timeout=max(1.0, deadline - time.monotonic()))
            if "fully booted" in out:
                break
            time.sleep(0.1)
        while time.monotonic() < deadline:
            try:
                self.ari_get("/asterisk/info")
                return
            except (urllib.error.URLError, OSError, ValueError):
                time.sleep(0.05)
        raise SandboxError(f"Asterisk ARI not ready within {timeout}s: {self.log_tail()}")

    def log_tail(self, n: int = 3000) -> str:
        if not self._tmp:
            return ""
        p = Path(self._tmp) / "asterisk.out"
        return p.read_text(errors="replace")[-n:] if p.exists() else ""

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Kill Asterisk (fault tests); ``restart`` brings it back on the same ports."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(10)

    def restart(self, timeout: float = 60.0) -> None:
        assert self.info is not None and self._tmp is not None
        self.kill()
        with open(Path(self._tmp) / "asterisk.out", "ab") as log:
            self.proc = self._spawn(self.info.root, log)
        self.info.pid = self.proc.pid
        self._wait_ready(timeout)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        if self._tmp and not os.environ.get("CC_KEEP_SANDBOX"):
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("action", choices=["build", "start"])
    ap.add_argument("--env", help="write the endpoints as KEY=VALUE lines to this file")
    ap.add_argument("--force", action="store_true", help="rebuild the rootfs tarball")
    args = ap.parse_args(argv)
    if args.action == "build":
        print(build_rootfs(force=args.force))
        return 0
    sb = AsteriskSandbox()
    info = sb.start()
    env = info.env()
    if args.env:
        Path(args.env).write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    print(json.dumps(asdict(info) | {"ari_password": "***", "ami_password": "***"}, indent=1))
    stop = False

    def _term(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _term)
    signal.signal(signal.SIGINT, _term)
    try:
        while not stop and sb.proc is not None and sb.proc.poll() is None:
            time.sleep(0.5)
    finally:
        sb.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
