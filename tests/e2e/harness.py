"""Driver-level e2e harness: the real AsteriskDriver on the sandbox Asterisk, SIPp callers
and agent phones, RTP sinks to hear what each phone hears."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from scripts import sipp
from scripts.asterisk_sandbox import free_udp_port
from switch_control import contract as c
from switch_control.drivers.asterisk import AsteriskDriver
from switch_control.protocols.ami import AmiClient, AmiConfig
from switch_control.protocols.ari import AriClient, AriConfig
from tests.e2e.rtp import RtpSink
from tests.e2e.switch_bugs import ASTERISK_WS_HANG, ari_app_upgrade_hangs, flag_for_restart


class Events:
    def __init__(self) -> None:
        self.items: list[c.Event] = []
        self._changed = asyncio.Event()

    async def sink(self, event: c.Event) -> None:
        self.items.append(event)
        self._changed.set()

    def of(self, kind: type[Any], **match: Any) -> list[Any]:
        return [
            e
            for e in self.items
            if isinstance(e, kind) and all(getattr(e, k) == v for k, v in match.items())
        ]

    async def wait(self, kind: type[Any], timeout: float = 10.0, **match: Any) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = self.of(kind, **match)
            if found:
                return found[0]
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"no {kind.__name__} {match} within {timeout}s; "
                    f"got {[e.TYPE for e in self.items][-20:]}"
                )
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                pass


async def until(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s: {what}")


@dataclass
class Phone:
    ext: str
    sipp: sipp.Sipp
    rtp: RtpSink


@dataclass
class Harness:
    sandbox: Any
    driver: AsteriskDriver
    events: Events
    phones: list[Phone] = field(default_factory=list)
    callers: list[tuple[sipp.Sipp, RtpSink]] = field(default_factory=list)

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.sandbox.info.sip_port}"

    async def phone(
        self,
        ext: str,
        *,
        answer: str = "answer",
        ring_ms: int = 300,
        audio: bool | str = True,
        talk_s: float = 60.0,
    ) -> Phone:
        """Register ``ext`` and run its phone (SIPp UAS) that answers after ``ring_ms``."""
        port = free_udp_port()
        await asyncio.to_thread(sipp.register, ext, target=self.target, port=port)
        rtp = RtpSink()
        proc = sipp.run_sipp(
            sipp.phone_scenario(
                ring_ms=ring_ms, talk_s=talk_s, answer=answer, audio=audio, media_port=rtp.port
            ),
            target=self.target,
            port=port,
            uas=True,
        )
        p = Phone(ext, proc, rtp)
        self.phones.append(p)
        return p

    async def call_in(
        self,
        caller: str = "13800138000",
        number: str = "4008001234",
        *,
        audio: bool | str = True,
        dtmf: str = "",
        talk_s: float = 60.0,
        dtmf_after_ms: int = 1500,
    ) -> tuple[c.CallOffered, RtpSink]:
        """A PSTN caller dials in; returns its CallOffered and what the caller hears."""
        rtp = RtpSink()
        proc = sipp.run_sipp(
            sipp.caller_scenario(
                caller,
                talk_s=talk_s,
                dtmf=dtmf,
                audio=audio,
                media_port=rtp.port,
                dtmf_after_ms=dtmf_after_ms,
            ),
            target=self.target,
            port=free_udp_port(),
            service=number,
        )
        self.callers.append((proc, rtp))
        offered = await self.events.wait(c.CallOffered, caller_number=caller, callee_number=number)
        return offered, rtp

    async def answered_in_bridge(
        self, offered: c.CallOffered, agent: str, leg_id: str | None = None
    ) -> tuple[str, str]:
        """Answer the caller, put it in a bridge, ring ``agent`` and wait until bridged."""
        await self.driver.answer(offered.leg_id)
        bridge_id = await self.driver.bridge([offered.leg_id], f"b-{offered.leg_id}")
        leg_id = leg_id or f"{offered.leg_id}-{agent}"
        await self.driver.originate(
            leg_id=leg_id,
            destination=agent,
            variables={"CC_CALL_ID": offered.call_id},
            join_bridge=bridge_id,
        )
        await self.events.wait(c.CallBridged, leg_id=leg_id)
        return bridge_id, leg_id

    def bridge_channels(self, bridge_id: str) -> set[str]:
        return set(self.sandbox.ari_get(f"/bridges/{bridge_id}")["channels"])

    def channel_ids(self) -> set[str]:
        return {ch["id"] for ch in self.sandbox.ari_get("/channels")}

    async def close(self) -> None:
        await self.driver.close()
        self.sandbox.cli("channel request hangup all")
        for p in self.phones:
            p.sipp.cleanup()
            p.rtp.close()
        for proc, rtp in self.callers:
            proc.cleanup()
            rtp.close()


def make_driver(sandbox: Any) -> AsteriskDriver:
    info = sandbox.info
    ari = AriClient(AriConfig(info.ari_url, info.ari_user, info.ari_password, app=info.app))
    ami = AmiClient(AmiConfig("127.0.0.1", info.ami_port, info.ami_user, info.ami_password))
    return AsteriskDriver(ari, ami=ami)


async def make_harness(sandbox: Any, connect_timeout: float = 12.0) -> Harness:
    """The real driver on ``sandbox``, connected. A driver that cannot connect fails the
    test; if that is positively the known Asterisk events-websocket hang, the test is
    marked xfail naming it and the next test gets a fresh Asterisk (``switch_bugs``).
    The switch is never restarted behind the test's back."""
    events = Events()
    driver = make_driver(sandbox)
    await driver.start(events.sink)
    if not await driver.wait_connected(connect_timeout):
        error = driver.ari.last_error
        await driver.close()
        info = sandbox.info
        hang = await asyncio.to_thread(
            ari_app_upgrade_hangs, info.ari_url, info.ari_user, info.ari_password, info.app
        )
        if hang:
            flag_for_restart(sandbox, f"{ASTERISK_WS_HANG}: {hang}")
            pytest.xfail(f"{ASTERISK_WS_HANG}: {hang}")
        raise AssertionError(f"driver did not connect to the sandbox: {error}")
    return Harness(sandbox, driver, events)
