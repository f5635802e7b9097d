"""End records and markers on FreeSWITCH (SW-4): the hangup hook each leg carries, what
it kept for a leg that ended while the controller was away, and the clearing of a leg's
global variables once it ended (package docstring: "Markers", "End records")."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from ...contract import CallEnded, HangupCause, cause_from_q850
from ...errors import CommandRejected, NoSuchCall, SwitchUnavailable
from .core import Switch, end_marker, marker
from .table import LegTable
from .translate import FsLeg

logger = logging.getLogger(__name__)


class EndRecords:
    """The end record of every leg, and the forgetting of legs that ended."""

    def __init__(self, switch: Switch, table: LegTable) -> None:
        self.switch = switch
        self.table = table
        self.forgotten: list[Callable[[FsLeg], None]] = []  # other parts' clean-up
        self._timers: dict[str, asyncio.TimerHandle] = {}  # leg id -> its markers' clearing

    @staticmethod
    def hangup_hook(leg: FsLeg) -> str:
        return f"global_setvar {end_marker(leg.leg_id)}=${{end_epoch}}:${{hangup_cause_q850}}"

    async def keep(self, leg: FsLeg) -> None:
        """Ask the switch to keep the end time and cause of a leg (``uuid_setvar``, as
        FreeSWITCH refuses the hook among originate variables). A leg that is gone
        already has its CHANNEL_HANGUP_COMPLETE on the way."""
        try:
            hook = self.hangup_hook(leg)
            await self.switch.esl.api(f"uuid_setvar {leg.leg_id} api_reporting_hook {hook}")
        except (NoSuchCall, CommandRejected, SwitchUnavailable) as exc:
            logger.debug("[call %s] no hangup hook on %s: %s", leg.call_id, leg.leg_id, exc)

    async def ended_while_away(self, leg: FsLeg) -> CallEnded:
        """The end the switch kept (the leg's hangup hook: ``<epoch>:<q850>``), else
        SWITCH_LOST now."""
        try:
            kept = await self.switch.global_var(end_marker(leg.leg_id))
        except SwitchUnavailable:
            kept = ""
        stamp, _, code = kept.partition(":")
        if code.isdigit():
            at = float(stamp) if stamp.isdigit() else time.time()
            cause = cause_from_q850(int(code))
            if cause is HangupCause.UNKNOWN and code == "0":
                cause = HangupCause.NORMAL_CLEARING
            return CallEnded(
                call_id=leg.call_id, leg_id=leg.leg_id, cause=cause, cause_code=int(code), at=at
            )
        return CallEnded(call_id=leg.call_id, leg_id=leg.leg_id, cause=HangupCause.SWITCH_LOST)

    def forget(self, leg: FsLeg) -> None:
        """The leg ended: out of the table; its markers cleared ``marker_ttl`` later."""
        self.table.legs.pop(leg.leg_id, None)
        names = [end_marker(leg.leg_id)] + ([marker(leg.leg_id)] if leg.originated else [])
        loop = asyncio.get_running_loop()
        self._timers[leg.leg_id] = loop.call_later(
            self.switch.config.marker_ttl, self._clear_markers, leg.leg_id, names
        )
        for clean_up in self.forgotten:
            clean_up(leg)

    def _clear_markers(self, leg_id: str, names: list[str]) -> None:
        self._timers.pop(leg_id, None)

        async def clear() -> None:
            for name in names:
                try:
                    await self.switch.esl.api(f"global_setvar {name}=")
                except (CommandRejected, SwitchUnavailable) as exc:
                    logger.debug("marker %s not cleared: %s", name, exc)

        self.switch.spawn(clear())

    def close(self) -> None:
        for handle in self._timers.values():
            handle.cancel()  # those markers stay on the switch (harmless, see the docstring)
