"""An RTP sink for tests: a UDP socket a SIPp phone announces in its SDP, so the test hears
what the phone would hear (packets and their loudness, G.711 A-law decoded)."""

from __future__ import annotations

import math
import socket
import threading
import time


def _alaw_to_linear(a: int) -> int:
    a ^= 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    if seg == 0:
        t += 8
    elif seg == 1:
        t += 0x108
    else:
        t = (t + 0x108) << (seg - 1)
    return t if a & 0x80 else -t


ALAW = [_alaw_to_linear(i) for i in range(256)]


class RtpSink:
    """Counts RTP packets received and how many carry audible sound."""

    def __init__(self, loud_rms: float = 300.0) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.loud_rms = loud_rms
        self.packets: list[tuple[float, float]] = []  # (time, rms)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, _ = self.sock.recvfrom(2048)
            except TimeoutError:
                continue
            except OSError:
                return
            if len(data) < 12 or data[1] & 0x7F != 8:  # PCMA only (skip telephone-event)
                continue
            payload = data[12:]
            if not payload:
                continue
            rms = math.sqrt(sum(ALAW[b] ** 2 for b in payload) / len(payload))
            self.packets.append((time.monotonic(), rms))

    def count(self, since: float = 0.0) -> int:
        return sum(1 for t, _ in self.packets if t >= since)

    def loud(self, since: float = 0.0, until: float = float("inf")) -> int:
        return sum(1 for t, r in self.packets if since <= t < until and r >= self.loud_rms)

    def close(self) -> None:
        self._stop.set()
        self.sock.close()
        self._thread.join(2)
