"""Known switch bugs the e2e tests can meet, detected positively, never guessed.

The sandbox Asterisk is shared by a whole test session. When a test meets a known switch
bug it is marked ``xfail`` with a reason naming the bug and what was measured, and the
sandbox is flagged so that the *next* test gets a fresh Asterisk (``tests/conftest.py``,
``_asterisk_alive``). Nothing is restarted silently: every other failure fails.

ASTERISK_WS_HANG (issue 12, part 6): seen in long runs on Asterisk 22, the app's old
events websocket stays in CLOSE-WAIT on Asterisk's side and every new upgrade of
``/ari/events?app=<name>`` hangs while REST still answers. ``scripts/repro_ari_ws_hang.py``
tries to provoke it; the controller alarms while it lasts and retries by itself
(``switch_control/protocols/ari/events.py``).
"""

from __future__ import annotations

import base64
import contextlib
import os
import socket
import struct
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import weakref
from typing import Any

ASTERISK_WS_HANG = (
    "known Asterisk 22 bug: the ARI events websocket upgrade for the app hangs "
    "(old websocket kept in CLOSE-WAIT; issue 12 part 6)"
)

_flagged: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def flag_for_restart(sandbox: Any, why: str) -> None:
    """The test that saw ``why`` failed or xfailed: the next test gets a fresh switch."""
    _flagged[sandbox] = why


def take_restart_flag(sandbox: Any) -> str | None:
    return _flagged.pop(sandbox, None)


def close_wait_sockets(port: int) -> int:
    """Sockets of the switch's HTTP port in CLOSE-WAIT (the peer closed, the switch not)."""
    out = subprocess.run(
        ["ss", "-Htan", "state", "close-wait", f"( sport = :{port} )"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return len([line for line in out.splitlines() if line.strip()])


def _upgrade_ms(host: str, port: int, auth: str, app: str, timeout: float) -> float | None:
    """Time to Asterisk's 101 for one events-websocket upgrade, or None if none came.
    The socket is closed with a close frame, as a well-behaved client does."""
    key = base64.b64encode(os.urandom(16)).decode()
    q = urllib.parse.urlencode({"app": app, "subscribeAll": "false"})
    request = (
        f"GET /ari/events?{q} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Authorization: Basic {auth}\r\n\r\n"
    ).encode()
    t0 = time.monotonic()
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(request)
        head = b""
        deadline = t0 + timeout
        while b"\r\n\r\n" not in head:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            sock.settimeout(left)
            try:
                chunk = sock.recv(4096)
            except TimeoutError:
                return None
            if not chunk:
                raise ConnectionError(f"closed before answering the upgrade: {head[:100]!r}")
            head += chunk
        ms = (time.monotonic() - t0) * 1000
        if not head.startswith(b"HTTP/1.1 101"):
            status = head.split(b"\r\n", 1)[0]
            raise ConnectionError(f"upgrade refused: {status!r}")
        mask = os.urandom(4)
        code = struct.pack("!H", 1000)
        with contextlib.suppress(OSError):
            sock.sendall(
                bytes([0x88, 0x82]) + mask + bytes(b ^ mask[i] for i, b in enumerate(code))
            )
            sock.settimeout(1.0)
            sock.recv(64)
    return ms


def ari_app_upgrade_hangs(
    ari_url: str, user: str, password: str, app: str, timeout: float = 5.0
) -> str | None:
    """Positive detection of ASTERISK_WS_HANG: REST answers (``/asterisk/ping``) but an
    upgrade for ``app`` gets no answer within ``timeout``. Returns what was measured, or
    None when it is anything else (switch down, credentials refused, upgrade answered)."""
    url = urllib.parse.urlsplit(ari_url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    ping = urllib.request.Request(
        f"http://{host}:{port}{url.path}/asterisk/ping",
        headers={"Authorization": f"Basic {auth}"},
    )
    try:
        with urllib.request.urlopen(ping, timeout=3.0) as resp:  # noqa: S310 - loopback
            resp.read()
    except (urllib.error.URLError, OSError):
        return None  # not reachable at all: a dead switch is not this bug
    try:
        ms = _upgrade_ms(host, port, auth, app, timeout)
    except OSError:
        return None
    if ms is not None:
        return None
    try:
        other = _upgrade_ms(host, port, auth, f"{app}-probe", timeout)
        other_text = "unanswered too" if other is None else f"answered in {other:.0f} ms"
    except OSError as exc:
        other_text = f"failed ({exc})"
    return (
        f"REST answers; upgrade for app {app!r} unanswered after {timeout:g}s "
        f"(another app name: {other_text}); {close_wait_sockets(port)} sockets in "
        f"CLOSE-WAIT on :{port}"
    )
