"""The ``socket`` dialplan application: FreeSWITCH connects out to an ESL server."""

from __future__ import annotations

import asyncio
import uuid as uuidlib

from . import wire
from .channels import Channel
from .listener import Listener
from .sofia import Sofia


class OutboundSocket(Sofia):
    """Outbound-socket sessions (``socket 127.0.0.1:8084 async full`` in the lab dialplan)."""

    listeners: set[Listener]

    async def dialplan_socket(self, ch: Channel) -> None:
        # The lab dialplan says ``socket 127.0.0.1:8084 async full``; the fake connects to
        # ``outbound_target`` (a test server on a free port) but reports the dialplan text.
        target = self.outbound_target
        data = "127.0.0.1:8084 async full"
        self.set_var(ch, "socket_host", "127.0.0.1")
        post = self.start_app(ch, "socket", data, str(uuidlib.uuid4()))
        ch.app, ch.app_post = "park", post
        self.channel_event("CHANNEL_PARK", ch)
        if target is None:
            return
        try:
            reader, writer = await asyncio.open_connection(*target)
        except OSError:
            return
        conn = Listener(self, reader, writer, session=ch)
        self.listeners.add(conn)
        self.spawn(self._outbound_watch(conn, ch))
        await conn.run()

    async def _outbound_watch(self, conn: Listener, ch: Channel) -> None:
        await self.wait_hangup(ch)
        while not ch.gone and not conn.closed:
            await asyncio.sleep(0)
        await asyncio.sleep(0)
        if conn.closed:
            return
        session = (ch.uuid, ch.name)
        if conn.linger is not None:
            conn.write(wire.disconnect_notice(session=session, linger=conn.linger))
            await asyncio.sleep(conn.linger * self.time_scale)
        await conn.close(wire.disconnect_notice(session=session))

    def connect_reply(self, ch: Channel) -> bytes:
        headers = self.events.base("CHANNEL_DATA", "CHANNEL_DATA")
        headers += ch.profile.headers("Channel")
        headers += self.events.channel_data(ch, variables=True)
        headers += [
            ("Content-Type", "command/reply"),
            ("Reply-Text", "+OK\n"),
            ("Socket-Mode", "async"),
            ("Control", "full"),
        ]
        return wire.outbound_connect_reply(headers)
