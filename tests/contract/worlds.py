"""The outside world of each ``CallControl`` implementation, behind one interface, so one
contract suite runs against every driver: the fake, the real Asterisk (sandbox + SIPp),
and FreeSWITCH (fake ESL server checked against captures)."""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from switch_control import contract as c
from switch_control.callcontrol import CallControl
from switch_control.drivers.fake import FakeDriver
from switch_control.drivers.freeswitch import FreeSwitchConfig, FreeSwitchDriver, MediaConfig
from switch_control.protocols.esl import EslClient
from tests.e2e.harness import Events, Harness, make_harness
from tests.fakes.fake_freeswitch import FakeFreeSwitch


class World(Protocol):
    name: str
    driver: CallControl
    events: Events

    async def inbound_call(
        self, caller: str, number: str, *, dtmf: str = "", dtmf_after_s: float = 3.0
    ) -> c.CallOffered: ...

    async def phone(self, ext: str, behavior: str = "answer") -> None:
        """``answer``: answers promptly; ``busy``: rejects busy; ``ring``: rings forever."""

    async def close(self) -> None: ...


class FakeWorld:
    name = "fake"

    def __init__(self) -> None:
        self.driver = FakeDriver()
        self.events = Events()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> FakeWorld:
        await self.driver.start(self.events.sink)
        return self

    async def inbound_call(
        self, caller: str, number: str, *, dtmf: str = "", dtmf_after_s: float = 3.0
    ) -> c.CallOffered:
        leg = await self.driver.world_inbound_call(caller, number)
        if dtmf:

            async def press() -> None:
                await asyncio.sleep(dtmf_after_s)
                await self.driver.world_dtmf(leg, dtmf)

            self._tasks.append(asyncio.create_task(press()))
        return await self.events.wait(c.CallOffered, leg_id=leg)

    async def phone(self, ext: str, behavior: str = "answer") -> None:
        self.driver.behaviors[ext] = {"ring": "ring"}.get(behavior, behavior)

    async def close(self) -> None:
        for t in self._tasks:
            t.cancel()
        await self.driver.close()


class AsteriskWorld:
    name = "asterisk"

    def __init__(self, harness: Harness) -> None:
        self.h = harness
        self.driver = harness.driver
        self.events = harness.events

    async def inbound_call(
        self, caller: str, number: str, *, dtmf: str = "", dtmf_after_s: float = 3.0
    ) -> c.CallOffered:
        offered, _ = await self.h.call_in(
            caller, number, dtmf=dtmf, audio="silence", dtmf_after_ms=int(dtmf_after_s * 1000)
        )
        return offered

    async def phone(self, ext: str, behavior: str = "answer") -> None:
        answer = {"answer": "answer", "busy": "busy", "ring": "ignore"}[behavior]
        await self.h.phone(ext, answer=answer, audio="silence")

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

    async def start(self) -> FreeSwitchWorld:
        await self.fake.start()
        esl = EslClient("127.0.0.1", self.fake.port, "ClueCon", backoff_initial=0.05)
        config = FreeSwitchConfig(media=MediaConfig(recordings_dir=self.recordings_dir))
        self.driver = FreeSwitchDriver(esl, config)
        await self.driver.start(self.events.sink)
        assert await self.driver.wait_connected(5), "driver did not connect to the fake"
        return self

    async def inbound_call(
        self, caller: str, number: str, *, dtmf: str = "", dtmf_after_s: float = 3.0
    ) -> c.CallOffered:
        ch = self.fake.inbound_call(caller, number)
        if dtmf:

            async def press() -> None:
                await asyncio.sleep(dtmf_after_s)
                self.fake.send_dtmf(ch.uuid, dtmf)

            self._tasks.append(asyncio.create_task(press()))
        return await self.events.wait(c.CallOffered, leg_id=ch.uuid)

    async def phone(self, ext: str, behavior: str = "answer") -> None:
        self.fake.agent_register(ext)
        self.fake.set_endpoint(ext, behavior)

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
