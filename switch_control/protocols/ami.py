"""Asterisk Manager Interface through panoramisk, for what ARI lacks (SW-1, SW-4): AstDB
(end times of legs that ended while the controller was down). The Asterisk driver opens it
only while it reconciles: an idle manager session still costs Asterisk the formatting of
every AMI event. Phones' presence comes from ARI, not from here. Reconnects by itself
(panoramisk)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from panoramisk import Manager

from ..errors import CommandRejected, SwitchUnavailable

logger = logging.getLogger(__name__)
# panoramisk logs every reconnect attempt; we log the outage once ourselves
_panoramisk_log = logging.getLogger(__name__ + ".panoramisk")
_panoramisk_log.setLevel(logging.CRITICAL)  # its errors reach us as exceptions


@dataclass(frozen=True, slots=True)
class AmiConfig:
    host: str
    port: int
    user: str
    password: str = field(repr=False)
    timeout: float = 5.0


def _get(msg: Any, key: str) -> str:
    value = msg.get(key) if hasattr(msg, "get") else None
    return "" if value is None else str(value)


class AmiClient:
    def __init__(self, config: AmiConfig) -> None:
        self.config = config
        self._manager: Manager | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._manager = Manager(
            loop=loop,
            host=self.config.host,
            port=self.config.port,
            username=self.config.user,
            # only the "system" class (its FullyBooted makes panoramisk send the actions
            # queued while it reconnected): not every call's AMI events
            events="system",
            secret=self.config.password,
            ping_delay=10,
            reconnect_timeout=2,
            log=_panoramisk_log,
        )
        try:
            await asyncio.wait_for(self._manager.connect(), self.config.timeout)
        except (OSError, TimeoutError) as exc:
            # panoramisk keeps retrying in the background
            logger.warning(
                "AMI at %s:%s unavailable (%s); retrying", self.config.host, self.config.port, exc
            )

    async def close(self) -> None:
        if self._manager is not None:
            self._manager.close()
            self._manager = None

    async def wait_connected(self, timeout: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.connected and loop.time() < deadline:  # noqa: ASYNC110 - panoramisk has no event
            await asyncio.sleep(0.05)
        return self.connected

    @property
    def connected(self) -> bool:
        """Logged in over a live connection (panoramisk keeps ``authenticated`` set for a
        moment after the connection is lost)."""
        m = self._manager
        if m is None or not m.authenticated:
            return False
        transport = getattr(getattr(m, "protocol", None), "transport", None)
        return transport is not None and not transport.is_closing()

    async def action(self, action: dict[str, str]) -> list[Any]:
        """Send one action; return its messages (response first, then list events)."""
        if not self.connected or self._manager is None:
            raise SwitchUnavailable("AMI not connected")
        try:
            result = await asyncio.wait_for(self._manager.send_action(action), self.config.timeout)
        except (OSError, TimeoutError, RuntimeError) as exc:  # RuntimeError: closed transport
            raise SwitchUnavailable(f"AMI {action.get('Action')}: {exc}") from exc
        messages = list(result) if isinstance(result, list) else [result]
        if messages and _get(messages[0], "Response") == "Error":
            raise CommandRejected(f"AMI {action.get('Action')}: {_get(messages[0], 'Message')}")
        return messages

    async def db_get(self, family: str, key: str) -> str | None:
        try:
            messages = await self.action({"Action": "DBGet", "Family": family, "Key": key})
        except CommandRejected:
            return None  # "Database entry not found"
        for msg in messages:
            if _get(msg, "Event") == "DBGetResponse":
                return _get(msg, "Val")
        return None

    async def db_del_tree(self, family: str) -> None:
        try:
            await self.action({"Action": "DBDelTree", "Family": family})
        except CommandRejected:
            pass
