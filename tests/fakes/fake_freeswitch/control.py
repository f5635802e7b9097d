"""Test controls of the fake FreeSWITCH: what SIPp and the lab did around the captures."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

from .channels import Channel
from .platform_calls import PlatformCalls


class TestControls(PlatformCalls):
    """Calls arriving, phones registering and answering, DTMF, hangups, outages."""

    __test__ = False  # not a pytest test class

    def queue_uuids(self, uuids: Iterable[str]) -> None:
        """UUIDs the next channels get, in creation order (to replay captures)."""
        self.uuid_queue.extend(uuids)

    def queue_job_uuids(self, uuids: Iterable[str]) -> None:
        self.job_uuid_queue.extend(uuids)

    def agent_register(self, user: str, *, port: int = 5090, call_id: str = "") -> None:
        """A SIP phone registers as directory user ``user`` (sofia::register)."""
        self.register(user, port=port, call_id=call_id)

    def agent_unregister(self, user: str, *, call_id: str = "") -> None:
        """The phone unregisters (PRESENCE_IN + sofia::unregister)."""
        reg = self.registrations.get(user)
        if reg is not None and call_id:
            reg.call_id = call_id
        self.unregister(user)

    def set_endpoint(
        self, key: str, behavior: str = "answer", *, ring_seconds: float = 0.0
    ) -> None:
        """How a called party behaves: answer | busy | no_answer | reject | ring (user or host)."""
        endpoint = self.endpoint(key)
        endpoint.behavior, endpoint.ring_seconds = behavior, ring_seconds

    agent_behavior = set_endpoint

    def answer_ringing(self, key: str) -> None:
        """Make a ``ring`` endpoint answer now."""
        self.endpoint(key).answer_now.set()

    def channel(self, uuid: str) -> Channel:
        ch = self.channels.get(uuid)
        if ch is None:
            raise KeyError(uuid)
        return ch

    def fail_media(self, uuid: str) -> None:
        """Answering ``uuid`` will fail like an RTP bind error (``-ERROR``, call dropped)."""
        self.channel(uuid).media_fails = True

    def send_dtmf(self, uuid: str, digits: str) -> None:
        """RFC 2833 digits from the far end of ``uuid``."""
        ch = self.channel(uuid)
        for digit in digits:
            self.dtmf(ch, digit, "RTP")

    def hangup(self, uuid: str, cause: str = "NORMAL_CLEARING") -> None:
        """The far end of ``uuid`` hangs up (BYE)."""
        self.remote_hangup(self.channel(uuid), cause)

    remote_hangup_uuid = hangup

    def heartbeat(self) -> None:
        headers = [
            ("Event-Info", "System Ready"),
            ("Up-Time", self.uptime_text()),
            ("FreeSWITCH-Version", "1.11.3-dev+git~20260821T141014Z~cc93a683ca~64bit"),
            ("Uptime-msec", str(int((time.monotonic() - self.started) * 1000))),
            ("Session-Count", str(len(self.live_channels()))),
            ("Max-Sessions", "100"),
            ("Session-Per-Sec", "30"),
            ("Session-Per-Sec-Last", "0"),
            ("Session-Per-Sec-Max", "1"),
            ("Session-Per-Sec-FiveMin", "1"),
            ("Session-Since-Startup", str(self.session_counter)),
            ("Session-Peak-Max", "1"),
            ("Session-Peak-FiveMin", "1"),
            ("Idle-CPU", "99.000000"),
        ]
        self.emit(self.events.system("HEARTBEAT", "HEARTBEAT", headers))

    async def drop_connections(self) -> None:
        """Close every client connection abruptly (no goodbye), e.g. to test reconnects."""
        for listener in list(self.listeners):
            listener.closed = True
            listener.writer.close()
        self.listeners.clear()

    async def settle(self, rounds: int = 20) -> None:
        """Let spawned flows run (the fake's time is the event loop's)."""
        for _ in range(rounds):
            await asyncio.sleep(0)
