"""Reconciliation with the switch after a (re)connection or a controller restart (SW-4)."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from ...callcontrol import KnownLeg
from ...contract import CallEnded, Direction, HangupCause, LegRole, cause_from_q850
from ...errors import CommandRejected, NoSuchCall, SwitchUnavailable
from ...protocols.esl import EslEvent
from . import translate as tr
from .core import FreeSwitchCore, end_marker
from .translate import FsLeg

logger = logging.getLogger(__name__)


class FreeSwitchSync(FreeSwitchCore):
    """``restore`` + ``reconcile``: the leg table rebuilt from what the switch has."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._dialling: set[str] = set()  # legs whose originate is in progress

    async def restore(self, legs: Sequence[KnownLeg]) -> None:
        """Before ``start``: the legs a previous controller knew; reconciliation ends those
        the switch no longer has."""
        for known in legs:
            self.legs.setdefault(
                known.leg_id,
                FsLeg(
                    known.leg_id,
                    known.call_id,
                    known.role,
                    originated=known.role is not LegRole.CALLER,  # we dialled the others
                    created=True,
                    offered=True,
                    up=known.up,
                    bridge_id=known.bridge_id,
                ),
            )

    async def reconcile(self) -> None:
        """``show channels as json`` says what lives. Legs we knew that are gone ended
        while we could not see them; live ones, known or not, stay controllable, with
        their conference membership from ``conference json_list``."""
        rows = tr.json_rows(await self.esl.api("show channels as json"))
        live = {row["uuid"]: row for row in rows}
        members = tr.conference_members(await self.esl.api("conference json_list", check=False))
        for leg_id, leg in list(self.legs.items()):
            if leg_id in live or leg_id in self._dialling:
                continue
            self._forget(leg)
            if leg.offered:
                event = await self._ended_while_away(leg)
                logger.warning(
                    "[call %s] leg %s ended while we were away: %s",
                    leg.call_id,
                    leg_id,
                    event.cause.value,
                )
                await self._emit(event)
        for leg_id, row in live.items():
            alive = self.legs.get(leg_id) or await self._adopt(leg_id, row)
            if alive is None:
                continue
            alive.created = True
            alive.up = alive.up or row.get("callstate") in ("ACTIVE", "HELD", "UNHELD")
            alive.bridge_id, alive.member_id = members.get(leg_id, ("", ""))
            if alive.bridge_id:
                self.bridges.setdefault(alive.bridge_id, alive.call_id)
        logger.info("reconciled: %d live legs", len(self.legs))

    async def _ended_while_away(self, leg: FsLeg) -> CallEnded:
        """The end the switch kept (the leg's hangup hook: ``<epoch>:<q850>``), else
        SWITCH_LOST now."""
        try:
            kept = await self.esl.api(f"global_getvar {end_marker(leg.leg_id)}", check=False)
        except SwitchUnavailable:
            kept = ""
        stamp, _, code = kept.strip().partition(":")
        if code.isdigit():
            at = float(stamp) if stamp.isdigit() else time.time()
            cause = cause_from_q850(int(code))
            if cause is HangupCause.UNKNOWN and code == "0":
                cause = HangupCause.NORMAL_CLEARING
            return CallEnded(
                call_id=leg.call_id, leg_id=leg.leg_id, cause=cause, cause_code=int(code), at=at
            )
        return CallEnded(call_id=leg.call_id, leg_id=leg.leg_id, cause=HangupCause.SWITCH_LOST)

    async def _adopt(self, leg_id: str, row: dict[str, Any]) -> FsLeg | None:
        """A live channel we did not know: ours if we dialled it (``cc_call_id``) or the
        dialplan gave it to us (``cc_direction``, or parked, or in a conference)."""
        try:
            dump = EslEvent(tr.json_dump(await self.esl.api(f"uuid_dump {leg_id} json")))
        except (NoSuchCall, CommandRejected, ValueError):
            return None  # gone meanwhile
        call_id = dump.variable("cc_call_id") or ""
        if not call_id and not dump.variable("cc_direction"):
            if row.get("application") not in ("park", "conference"):
                return None
        direction = Direction.OUTBOUND if call_id else tr.direction_of(dump)
        default = LegRole.CALLER if direction is Direction.INBOUND else LegRole.AGENT
        leg = FsLeg(
            leg_id,
            call_id or leg_id,
            tr.role_of(dump.variable("cc_role"), default),
            direction,
            caller_number=str(row.get("cid_num", "")),
            callee_number=str(row.get("dest", "")),
            channel_name=str(row.get("name", "")),
            originated=bool(call_id),
            created=True,
            offered=True,
        )
        self.legs[leg_id] = leg
        logger.info("[call %s] adopted live leg %s", leg.call_id, leg_id)
        return leg
