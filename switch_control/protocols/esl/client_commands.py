"""The ESL commands of :class:`~.client.EslClient` built on its ``send``/``_checked`` core."""

from __future__ import annotations

import uuid as _uuid
from abc import abstractmethod

from .commands import event_command, sendmsg_headers
from .jobs import Subscriptions

__all__ = ["EslCommandsMixin"]


class EslCommandsMixin:
    """Subscription, ``sendmsg`` and session commands (``-ERR`` replies raise mapped errors)."""

    subscriptions: Subscriptions
    _closing: bool

    @abstractmethod
    async def _checked(self, command: str, headers: list[tuple[str, str]] | None = None) -> str:
        """Send ``command``; return the reply text or raise the mapped error."""

    async def subscribe(self, *events: str, fmt: str = "plain") -> None:
        """``event <fmt> <events>`` (``ALL`` when none given); remembered for reconnects."""
        names = [part for name in events for part in name.split()]
        await self._checked(event_command(fmt, names))
        self.subscriptions.add_events(fmt, names)

    async def nixevent(self, *events: str) -> None:
        names = [part for name in events for part in name.split()]
        await self._checked("nixevent " + " ".join(names))
        self.subscriptions.nix(names)

    async def noevents(self) -> None:
        await self._checked("noevents")
        self.subscriptions.clear_events()

    async def filter(self, header: str, value: str) -> str:
        text = await self._checked(f"filter {header} {value}")
        self.subscriptions.add_filter(header, value)
        return text

    async def filter_delete(self, header: str, value: str | None = None) -> str:
        text = await self._checked(f"filter delete {header}" + (f" {value}" if value else ""))
        self.subscriptions.delete_filter(header, value)
        return text

    async def myevents(self, uuid: str | None = None, fmt: str = "plain") -> str:
        line = f"myevents {uuid} {fmt}" if uuid else f"myevents {fmt}"
        text = await self._checked(line)
        self.subscriptions.myevents = line
        return text

    async def linger(self, seconds: int | None = None) -> str:
        return await self._checked("linger" + (f" {seconds}" if seconds is not None else ""))

    async def nolinger(self) -> str:
        return await self._checked("nolinger")

    async def log(self, level: int | str = 7) -> str:
        text = await self._checked(f"log {level}")
        self.subscriptions.log_level = str(level)
        return text

    async def nolog(self) -> str:
        text = await self._checked("nolog")
        self.subscriptions.log_level = None
        return text

    async def sendmsg(
        self,
        uuid: str | None,
        call_command: str = "execute",
        *,
        app: str | None = None,
        arg: str | None = None,
        event_lock: bool = False,
        loops: int | None = None,
        event_uuid: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> str:
        """``sendmsg [<uuid>]`` with a ``call-command`` (execute, hangup, unicast...)."""
        lines = sendmsg_headers(
            call_command,
            app=app,
            arg=arg,
            event_lock=event_lock,
            loops=loops,
            event_uuid=event_uuid,
            extra=headers,
        )
        return await self._checked(f"sendmsg {uuid}" if uuid else "sendmsg", lines)

    async def execute(
        self,
        uuid: str | None,
        app: str,
        arg: str | None = None,
        *,
        event_lock: bool = False,
        loops: int | None = None,
    ) -> str:
        """Run a dialplan application on a channel; returns its ``Application-UUID``."""
        event_uuid = str(_uuid.uuid4())
        await self.sendmsg(
            uuid, app=app, arg=arg, event_lock=event_lock, loops=loops, event_uuid=event_uuid
        )
        return event_uuid

    async def hangup(self, uuid: str, cause: str = "NORMAL_CLEARING") -> str:
        return await self.sendmsg(uuid, "hangup", headers={"hangup-cause": cause})

    async def exit(self) -> str:
        """``exit``: FreeSWITCH says ``+OK bye`` and closes; no reconnect follows."""
        self._closing = True
        return await self._checked("exit")
