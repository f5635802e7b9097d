"""Drivers replaying each capture scenario against the fake FreeSWITCH.

Each driver sends the captured commands (``.tx``, verbatim: the fake is told to
give channels and jobs the capture's UUIDs) and performs, through the fake's test
controls, what SIPp did in the lab (calls arriving, agents answering, hangups,
DTMF), waiting for the same events the capture driver waited for.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable

from tests.fakes.fake_freeswitch import FakeFreeSwitch

from .fidelity import CaptureInfo, RawClient, is_event


class Replay:
    def __init__(self, fake: FakeFreeSwitch, client: RawClient, info: CaptureInfo) -> None:
        self.fake, self.client, self.info = fake, client, info
        self.index = 0

    async def tx(self, *, reply: bool = True) -> str:
        """Send the next captured command; wait for its reply."""
        command = self.info.commands[self.index]
        self.index += 1
        before = self.client.replies()
        self.client.send(command)
        if reply:
            await self.client.wait(lambda m: m.is_reply, before + 1)
        return command

    async def ev(self, name: str, uuid: str | None = None, count: int = 1, **values: str) -> None:
        await self.client.wait(is_event(name, uuid, **values), count)

    def uuid(self, n: int) -> str:
        return self.info.channel_uuids[n]

    def inbound(self, n: int = 0) -> str:
        """The n-th channel of the capture arrives as an inbound SIP call."""
        uuid = self.uuid(n)
        create = self.info.first("CHANNEL_CREATE", uuid).fields
        port = int(create["Channel-Name"].rsplit(":", 1)[1])
        self.fake.inbound_call(
            create["Caller-Caller-ID-Number"],
            create["Caller-Destination-Number"],
            caller_name=create.get("Caller-Caller-ID-Name", ""),
            port=port,
        )
        return uuid

    async def login(self) -> None:
        await self.tx()  # auth
        await self.tx()  # event <fmt> ALL

    async def bye(self) -> None:
        await self.tx()  # exit
        await asyncio.wait_for(self.client.task, 5)


async def _listed(r: Replay, *uuids: str) -> None:
    """Until ``show channels`` lists those channels (the fake's channel list lags)."""
    deadline = asyncio.get_running_loop().time() + 5
    while not all(r.fake.listed(r.fake.channel(uuid)) for uuid in uuids):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"channels {uuids} never listed")
        await asyncio.sleep(0.01)  # polls a condition (the fake's clock is the real one)


async def _parked_caller(r: Replay) -> str:
    caller = r.inbound(0)
    await r.ev("CHANNEL_PARK", caller)
    await r.tx()  # uuid_answer
    return caller


async def _bridged(r: Replay) -> tuple[str, str]:
    caller = await _parked_caller(r)
    await r.tx()  # bgapi originate agent
    await r.ev("BACKGROUND_JOB")
    agent = r.uuid(1)
    await r.ev("CHANNEL_PARK", agent)
    await r.tx()  # uuid_bridge
    await r.ev("CALL_UPDATE", agent, Bridged_To=caller)
    return caller, agent


async def scenario_01(r: Replay) -> None:
    await r.login()
    caller = await _parked_caller(r)
    await r.tx()  # sendmsg playback
    await r.ev("CHANNEL_EXECUTE_COMPLETE", caller, Application="playback")
    await r.tx()  # uuid_broadcast
    await r.ev("PRIVATE_COMMAND", caller)
    r.fake.hangup(caller)
    await r.ev("CHANNEL_STATE", caller, Channel_State="CS_DESTROY")
    await r.bye()


async def scenario_02(r: Replay) -> None:
    await r.login()
    caller = await _parked_caller(r)
    await r.tx()  # sendmsg play_and_get_digits
    await r.ev("PLAYBACK_STOP", caller)
    r.fake.send_dtmf(caller, "123#")
    await r.ev("CHANNEL_EXECUTE_COMPLETE", caller, Application="play_and_get_digits")
    await r.tx()  # uuid_getvar
    await r.tx()  # uuid_recv_dtmf
    await r.ev("DTMF", caller, DTMF_Digit="9")
    r.fake.hangup(caller)
    await r.ev("CHANNEL_STATE", caller, Channel_State="CS_DESTROY")
    await r.bye()


async def scenario_03(r: Replay) -> None:
    await r.login()
    caller = await _parked_caller(r)
    await r.tx()  # uuid_record start
    await r.tx()  # uuid_broadcast
    await r.ev("PRIVATE_COMMAND", caller)
    await r.tx()  # uuid_record stop
    await r.tx()  # uuid_record stop (again: error)
    r.fake.hangup(caller)
    await r.ev("CHANNEL_STATE", caller, Channel_State="CS_DESTROY")
    await r.bye()


async def scenario_04(r: Replay) -> None:
    await r.login()
    register = r.info.first("CUSTOM/sofia::register").fields
    r.fake.agent_register("1001", call_id=register["call-id"])
    caller, agent = await _bridged(r)
    r.fake.hangup(agent)
    await r.ev("CHANNEL_STATE", caller, Channel_State="CS_DESTROY")
    unregister = r.info.first("CUSTOM/sofia::unregister").fields
    r.fake.agent_unregister("1001", call_id=unregister["call-id"])
    await r.ev("CUSTOM/sofia::unregister")
    await r.bye()


async def scenario_05(r: Replay) -> None:
    await r.login()
    caller, agent = await _bridged(r)
    await r.tx()  # uuid_hold
    await r.ev("PLAYBACK_START", agent)
    await r.tx()  # uuid_hold off
    await r.tx()  # uuid_transfer 9999
    await r.ev("CHANNEL_STATE", caller, Channel_State="CS_DESTROY")
    await r.bye()


async def scenario_06(r: Replay) -> None:
    await r.login()
    r.fake.set_endpoint("ringer@127.0.0.1:5091", "no_answer")
    await r.tx()  # bgapi originate user/1002 (not registered)
    await r.ev("BACKGROUND_JOB")
    await r.tx()  # api originate user/1002
    for jobs in (2, 3, 4):
        await r.tx()
        await r.ev("BACKGROUND_JOB", count=jobs)
    await r.ev("CHANNEL_STATE", r.uuid(2), Channel_State="CS_DESTROY")
    await r.tx()  # bgapi originate (usage)
    await r.ev("BACKGROUND_JOB", count=5)
    await r.bye()


async def scenario_07(r: Replay) -> None:
    await r.login()
    _caller, agent = await _bridged(r)
    await r.tx()  # bgapi originate supervisor &eavesdrop(caller)
    supervisor = r.uuid(2)
    await r.ev("CALL_UPDATE", supervisor, Direction="SEND")
    r.fake.hangup(supervisor)
    await r.ev("CHANNEL_STATE", supervisor, Channel_State="CS_DESTROY")
    await r.tx()  # uuid_kill caller
    await r.ev("CHANNEL_STATE", agent, Channel_State="CS_DESTROY")
    await r.bye()


async def scenario_08(r: Replay) -> None:
    await r.login()
    caller, agent = await _bridged(r)
    # the capture listed both legs: they were ~0.4 s old by then, past the core database's
    # lag, which the fake models (``list_lag``); the replay is quicker than SIPp
    await _listed(r, caller, agent)
    while not r.info.commands[r.index].startswith("api uuid_kill " + caller):
        command = await r.tx()
        if command.startswith("bgapi"):
            sent = sum(c.startswith("bgapi") for c in r.info.commands[: r.index])
            await r.ev("BACKGROUND_JOB", count=sent)
    await r.tx()  # uuid_kill caller
    await r.ev("CHANNEL_STATE", caller, Channel_State="CS_DESTROY")
    await r.ev("CHANNEL_STATE", agent, Channel_State="CS_DESTROY")
    await r.bye()


async def scenario_09(r: Replay) -> None:
    await r.login()
    if "json" in r.info.stem:
        # member ids and the conference presence counter are global in FreeSWITCH: the
        # JSON run came after the plain one on the same FreeSWITCH.
        r.fake.next_member_id = 4
        r.fake.conference_presence_counts["lab"] = 7
    await _bridged(r)
    await r.tx()  # uuid_transfer -both conf-lab
    await r.ev("CUSTOM/conference::maintenance", Action="add-member", count=2)
    await r.tx()  # bgapi originate third -> conf-lab
    await r.ev("CUSTOM/conference::maintenance", Action="add-member", count=3)
    for _ in range(5):  # list, lab list, json_list, mute, unmute
        await r.tx()
    await r.tx()  # hup all
    await r.ev("CUSTOM/conference::maintenance", Action="conference-destroy")
    await r.bye()


async def scenario_11(r: Replay) -> None:
    await r.login()
    for _ in range(4):  # noevents, event <list>, filter, log 7
        await r.tx()
    caller = r.inbound(0)
    await r.ev("CHANNEL_PARK", caller)
    await r.tx()  # uuid_answer
    await r.ev("CHANNEL_ANSWER", caller)
    r.fake.hangup(caller)
    await r.ev("CHANNEL_HANGUP_COMPLETE", caller)
    while r.index < len(r.info.commands) - 1:
        await r.tx()
    await r.bye()


async def scenario_10(r: Replay, outbound: CaptureInfo) -> bytes:
    """Inbound listener plus the outbound socket the ``socket`` app opens."""
    received = bytearray()
    done = asyncio.Event()
    commands = list(outbound.commands)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        out = RawClient(reader, writer)
        for command in commands:
            before = out.replies()
            out.send(command)
            await out.wait(lambda m: m.is_reply, before + 1)
            if "execute-app-name" in command:
                app = re.search(r"execute-app-name: (\w+)", command)
                assert app is not None
                await out.wait(is_event("CHANNEL_EXECUTE_COMPLETE", Application=app.group(1)))
        hangups.set_result(None)
        await asyncio.wait_for(out.task, 10)
        received.extend(out.data)
        writer.close()
        await writer.wait_closed()
        done.set()

    hangups: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    r.fake.outbound_target = ("127.0.0.1", server.sockets[0].getsockname()[1])
    await r.login()
    caller = r.inbound(0)
    await hangups
    r.fake.hangup(caller)
    await r.ev("CHANNEL_STATE", caller, Channel_State="CS_DESTROY")
    await asyncio.wait_for(done.wait(), 10)
    server.close()
    await server.wait_closed()
    await r.bye()
    return bytes(received)


async def extra_answer_error(r: Replay) -> None:
    """extra/uuid_answer-rtp-bind-error: uuid_answer fails, the call is dropped."""
    await r.login()
    caller = r.inbound(0)
    await r.ev("CHANNEL_PARK", caller)
    r.fake.fail_media(caller)
    await r.tx()  # uuid_answer -> -ERROR
    await r.ev("CHANNEL_STATE", caller, Channel_State="CS_DESTROY")
    await r.tx()  # hupall MANAGER_REQUEST
    await r.bye()


DRIVERS: dict[str, Callable[[Replay], Awaitable[None]]] = {
    "01": scenario_01,
    "02": scenario_02,
    "03": scenario_03,
    "04": scenario_04,
    "05": scenario_05,
    "06": scenario_06,
    "07": scenario_07,
    "08": scenario_08,
    "09": scenario_09,
    "11": scenario_11,
}
