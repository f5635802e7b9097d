"""The outside world of each ``CallControl`` implementation, behind one interface, so one
contract suite runs against every driver: the fake, the real Asterisk (sandbox + SIPp),
and FreeSWITCH (fake ESL server checked against captures).

Each world answers from the switch's own state, never from the driver's events: who is in
a bridge (``bridged``), and what a party hears (``hears``: on Asterisk the RTP that reaches
the party's phone, on the fakes their model of the media)."""

from __future__ import annotations

import asyncio
import time
import urllib.request
from base64 import b64encode
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from switch_control import contract as c
from switch_control.callcontrol import CallControl, KnownLeg
from switch_control.drivers.fake import FakeDriver, FakeSwitch, PhoneBehavior
from switch_control.drivers.freeswitch import FreeSwitchConfig, FreeSwitchDriver, MediaConfig
from switch_control.protocols.esl import EslClient
from tests.e2e.harness import Events, Harness, make_driver, make_harness
from tests.e2e.rtp import RtpSink
from tests.fakes.fake_freeswitch import FakeFreeSwitch

WhileAway = Callable[[], Awaitable[None]]


class World(Protocol):
    name: str
    driver: CallControl
    events: Events

    async def inbound_call(
        self,
        caller: str,
        number: str,
        *,
        dtmf: str = "",
        dtmf_after_s: float = 3.0,
        talks: bool = False,
    ) -> c.CallOffered: ...

    async def phone(
        self, ext: str, behavior: PhoneBehavior = PhoneBehavior.ANSWER, *, talks: bool = False
    ) -> None:
        """A phone registers as ``ext`` and behaves so when called; with ``talks`` its
        user speaks the whole time (others are silent)."""

    async def hears(self, leg_id: str) -> bool:
        """Whether the party on ``leg_id`` hears anything now: someone who talks, a
        prompt, music."""

    def bridged(self, bridge_id: str) -> set[str]:
        """The legs in the bridge, as the switch has it."""

    async def far_end_hangup(self, leg_id: str) -> None:
        """The party on ``leg_id`` hangs up (normal clearing)."""

    async def restart_controller(self, known: Sequence[KnownLeg], while_away: WhileAway) -> None:
        """The controller stops; ``while_away`` happens; a new driver restores ``known``
        and starts (``driver`` and ``events`` are then the new controller's)."""

    async def close(self) -> None: ...


def _audible(sources: set[str], talking: set[str]) -> bool:
    return bool(sources & talking) or bool(sources & {"prompt", "music"})


class FakeWorld:
    name = "fake"

    def __init__(self) -> None:
        self.switch = FakeSwitch()
        self.driver = FakeDriver(self.switch)
        self.events = Events()
        self._tasks: list[asyncio.Task[None]] = []
        self._talking_exts: set[str] = set()
        self._talking_legs: set[str] = set()

    async def start(self) -> FakeWorld:
        await self.driver.start(self.events.sink)
        return self

    async def inbound_call(
        self,
        caller: str,
        number: str,
        *,
        dtmf: str = "",
        dtmf_after_s: float = 3.0,
        talks: bool = False,
    ) -> c.CallOffered:
        leg = self.switch.inbound_call(caller, number)
        if talks:
            self._talking_legs.add(leg)
        if dtmf:

            async def press() -> None:
                await asyncio.sleep(dtmf_after_s)  # the caller's own pause, not a test wait
                self.switch.press(leg, dtmf)

            self._tasks.append(asyncio.create_task(press()))
        return await self.events.wait(c.CallOffered, leg_id=leg)

    async def phone(
        self, ext: str, behavior: PhoneBehavior = PhoneBehavior.ANSWER, *, talks: bool = False
    ) -> None:
        self.switch.phone(ext, behavior)
        if talks:
            self._talking_exts.add(ext)

    async def hears(self, leg_id: str) -> bool:
        talking = self._talking_legs | {
            g.leg_id for g in self.switch.legs.values() if g.callee in self._talking_exts
        }
        return _audible(self.switch.heard_by(leg_id), talking)

    def bridged(self, bridge_id: str) -> set[str]:
        return set(self.switch.bridges.get(bridge_id, set()))

    async def far_end_hangup(self, leg_id: str) -> None:
        self.switch.far_end_hangup(leg_id)

    async def restart_controller(self, known: Sequence[KnownLeg], while_away: WhileAway) -> None:
        await self.driver.close()
        await while_away()
        await self.switch.settled()  # what happened meanwhile reached no controller
        self.driver, self.events = FakeDriver(self.switch), Events()
        await self.driver.restore(known)
        await self.driver.start(self.events.sink)

    async def close(self) -> None:
        for t in self._tasks:
            t.cancel()
        await self.driver.close()
        await self.switch.close()


class AsteriskWorld:
    name = "asterisk"

    def __init__(self, harness: Harness) -> None:
        self.h = harness
        self.driver = harness.driver
        self.events = harness.events
        self._sinks: dict[str, RtpSink] = {}  # caller leg -> what its phone hears

    async def inbound_call(
        self,
        caller: str,
        number: str,
        *,
        dtmf: str = "",
        dtmf_after_s: float = 3.0,
        talks: bool = False,
    ) -> c.CallOffered:
        offered, rtp = await self.h.call_in(
            caller,
            number,
            dtmf=dtmf,
            audio=True if talks else "silence",
            dtmf_after_ms=int(dtmf_after_s * 1000),
        )
        self._sinks[offered.leg_id] = rtp
        return offered

    async def phone(
        self, ext: str, behavior: PhoneBehavior = PhoneBehavior.ANSWER, *, talks: bool = False
    ) -> None:
        if behavior is PhoneBehavior.OFFLINE:
            return  # never registers
        answer = {
            PhoneBehavior.ANSWER: "answer",
            PhoneBehavior.BUSY: "busy",
            PhoneBehavior.RING: "ignore",
        }[behavior]
        await self.h.phone(ext, answer=answer, audio=True if talks else "silence")

    def _sink(self, leg_id: str) -> RtpSink:
        if leg_id in self._sinks:
            return self._sinks[leg_id]
        offered = self.events.of(c.CallOffered, leg_id=leg_id)
        assert offered, f"no CallOffered for {leg_id}"
        phone = next(p for p in reversed(self.h.phones) if p.ext == offered[0].callee_number)
        return phone.rtp

    async def hears(self, leg_id: str) -> bool:
        """Half a second of the RTP reaching the party's phone (a line that carries none
        for two seconds hears nothing); audible if a fifth of it is loud."""
        sink = self._sink(leg_id)
        loop = asyncio.get_running_loop()
        t0, deadline = time.monotonic(), loop.time() + 2.0
        while sink.count(since=t0) < 25 and loop.time() < deadline:
            await asyncio.sleep(0.05)  # (a measurement window: RTP comes at 50 packets/s)
        return sink.loud(since=t0) >= 5

    def bridged(self, bridge_id: str) -> set[str]:
        try:
            return self.h.bridge_channels(bridge_id)
        except OSError:  # (urllib: 404, no such bridge)
            return set()

    async def far_end_hangup(self, leg_id: str) -> None:
        info = self.h.sandbox.info
        req = urllib.request.Request(  # noqa: S310 - loopback http
            f"{info.ari_url}/channels/{leg_id}?reason_code=16", method="DELETE"
        )
        token = b64encode(f"{info.ari_user}:{info.ari_password}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
        await asyncio.to_thread(urllib.request.urlopen, req, timeout=5)

    async def restart_controller(self, known: Sequence[KnownLeg], while_away: WhileAway) -> None:
        await self.driver.close()
        await while_away()
        self.events = Events()
        self.driver = make_driver(self.h.sandbox)
        self.h.driver, self.h.events = self.driver, self.events  # (closed with the harness)
        await self.driver.restore(known)
        await self.driver.start(self.events.sink)
        assert await self.driver.wait_connected(20), "the restarted driver did not connect"

    async def close(self) -> None:
        await self.h.close()


class FreeSwitchWorld:
    """The FreeSWITCH driver on the fake FreeSWITCH (its lab dialplan parks every call)."""

    name = "freeswitch"

    def __init__(self, recordings_dir: str) -> None:
        self.fake = FakeFreeSwitch()
        self.recordings_dir = recordings_dir
        self.events = Events()
        self._tasks: list[asyncio.Task[None]] = []
        self._talking_exts: set[str] = set()
        self._talking_legs: set[str] = set()

    async def start(self) -> FreeSwitchWorld:
        await self.fake.start()
        await self._connect()
        return self

    async def _connect(self, known: Sequence[KnownLeg] = ()) -> None:
        esl = EslClient("127.0.0.1", self.fake.port, "ClueCon", backoff_initial=0.05)
        config = FreeSwitchConfig(media=MediaConfig(recordings_dir=self.recordings_dir))
        self.driver = FreeSwitchDriver(esl, config)
        await self.driver.restore(known)
        await self.driver.start(self.events.sink)
        assert await self.driver.wait_connected(5), "driver did not connect to the fake"

    async def inbound_call(
        self,
        caller: str,
        number: str,
        *,
        dtmf: str = "",
        dtmf_after_s: float = 3.0,
        talks: bool = False,
    ) -> c.CallOffered:
        ch = self.fake.inbound_call(caller, number)
        if talks:
            self._talking_legs.add(ch.uuid)
        if dtmf:

            async def press() -> None:
                await asyncio.sleep(dtmf_after_s)  # the caller's own pause, not a test wait
                self.fake.send_dtmf(ch.uuid, dtmf)

            self._tasks.append(asyncio.create_task(press()))
        return await self.events.wait(c.CallOffered, leg_id=ch.uuid)

    async def phone(
        self, ext: str, behavior: PhoneBehavior = PhoneBehavior.ANSWER, *, talks: bool = False
    ) -> None:
        if talks:
            self._talking_exts.add(ext)
        if behavior is PhoneBehavior.OFFLINE:
            return  # never registers
        self.fake.agent_register(ext)
        fs_behavior = {
            PhoneBehavior.ANSWER: "answer",
            PhoneBehavior.BUSY: "busy",
            PhoneBehavior.RING: "ring",
            PhoneBehavior.NO_ANSWER: "no_answer",
        }[behavior]
        self.fake.set_endpoint(ext, fs_behavior)

    def _heard_by(self, uuid: str) -> set[str]:
        """The fake FreeSWITCH's media: conference members hear the others not on hold;
        an eavesdropper hears its target and what the target hears; with
        ``eavesdrop_whisper_aleg`` the target also hears the eavesdropper."""
        ch = self.fake.channels.get(uuid)
        if ch is None or not ch.alive or not ch.answered:
            return set()
        out = {"prompt"} if ch.playback_stop is not None else set()
        conf = self.fake.conferences.get(ch.conference) if ch.conference else None
        if conf is not None:
            me = next(m for m in conf.members if m.channel is ch)
            if me.hold:
                return out | {"music"}
            out |= {m.channel.uuid for m in conf.members if m is not me and not m.hold}
        spied = self._eavesdropping(ch)
        if spied is not None:
            out |= {spied} | self._heard_by(spied)
        for other in self.fake.channels.values():
            whisper = other.get_var("eavesdrop_whisper_aleg") == "true"
            if whisper and self._eavesdropping(other) == uuid:
                out.add(other.uuid)
        out.discard(uuid)
        return out

    @staticmethod
    def _eavesdropping(ch: Any) -> str | None:
        if ch.alive and ch.get_var("current_application") == "eavesdrop":
            return str(ch.get_var("current_application_data"))
        return None

    async def hears(self, leg_id: str) -> bool:
        talking = self._talking_legs | {
            ch.uuid
            for ch in self.fake.channels.values()
            if ch.endpoint in self._talking_exts and ch.alive
        }
        return _audible(self._heard_by(leg_id), talking)

    def bridged(self, bridge_id: str) -> set[str]:
        conf = self.fake.conferences.get(f"cc-{bridge_id}")
        return {m.channel.uuid for m in conf.members} if conf is not None else set()

    async def far_end_hangup(self, leg_id: str) -> None:
        self.fake.hangup(leg_id)

    async def restart_controller(self, known: Sequence[KnownLeg], while_away: WhileAway) -> None:
        await self.driver.close()
        await while_away()
        await self.fake.settle()
        self.events = Events()
        await self._connect(known)

    async def close(self) -> None:
        for t in self._tasks:
            t.cancel()
        await self.driver.close()
        await self.fake.stop()
        assert not self.fake.errors, self.fake.errors


async def make_world(name: str, request: Any) -> Any:
    if name == "fake":
        return await FakeWorld().start()
    if name == "freeswitch":
        return await FreeSwitchWorld(str(request.getfixturevalue("tmp_path"))).start()
    if name == "asterisk":
        sandbox = request.getfixturevalue("asterisk")
        return AsteriskWorld(await make_harness(sandbox))
    raise ValueError(name)
