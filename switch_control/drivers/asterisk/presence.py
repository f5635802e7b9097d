"""Phones' registration state over ARI (SW-1, ACD presence): a poll of
``GET /endpoints/{tech}`` every ``poll_s`` -> ``EndpointStatusChanged`` for each phone that
came or went, and every online phone after a (re)connection. The endpoint events would come
only with a subscription to the endpoints, which also carries every message of their
channels: one request per poll is cheaper for Asterisk, whatever the call rate."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from ...contract import EndpointStatusChanged, Event
from ...errors import CommandRejected, NoSuchCall, SwitchUnavailable
from ...protocols.ari import AriClient
from . import translate as tr

logger = logging.getLogger(__name__)


class Presence:
    def __init__(
        self,
        ari: AriClient,
        emit: Callable[[Event], Awaitable[None]],
        *,
        tech: str = "PJSIP",
        poll_s: float = 2.0,
    ) -> None:
        self.ari = ari
        self.emit = emit
        self.tech = tech
        self.poll_s = poll_s
        self._last: dict[str, bool] | None = None  # endpoint -> online, last poll

    def forget(self) -> None:
        """After a reconnection, every phone's state is told again."""
        self._last = None

    async def endpoint_online(self, endpoint: str) -> bool:
        try:
            info = await self.ari.get(f"/endpoints/{self.tech}/{endpoint}")
        except NoSuchCall:  # no such endpoint
            return False
        return str((info or {}).get("state", "")) == "online"

    async def poll(self) -> None:
        """Tell which phones registered, unregistered or became (un)reachable since the
        last poll (every phone that is online after a (re)connection)."""
        states = tr.endpoint_states(await self.ari.get(f"/endpoints/{self.tech}"))
        before, self._last = self._last, states
        for endpoint, online in states.items():
            if before is not None and before.get(endpoint) == online:
                continue
            if before is None and not online:
                continue  # the first poll tells the phones that are online
            await self.emit(EndpointStatusChanged(endpoint=endpoint, online=online))

    async def loop(self) -> None:
        while True:
            if self.ari.connected:
                try:
                    await self.poll()
                except (CommandRejected, NoSuchCall, SwitchUnavailable) as exc:
                    logger.debug("presence not polled: %s", exc)
            await asyncio.sleep(self.poll_s)
