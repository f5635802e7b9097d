"""Reconciliation with the switch after a (re)connection or a controller restart (SW-4)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from ...callcontrol import KnownLeg
from ...contract import Direction, LegRole
from ...errors import CommandRejected, NoSuchCall, SwitchUnavailable
from ...protocols.esl import EslEvent
from . import translate as tr
from .core import Switch
from .ends import EndRecords
from .table import LegTable
from .translate import FsLeg

logger = logging.getLogger(__name__)


class Reconciler:
    """``restore`` + ``reconcile``: the leg table rebuilt from what the switch has."""

    def __init__(self, switch: Switch, table: LegTable, ends: EndRecords) -> None:
        self.switch = switch
        self.table = table
        self.ends = ends

    async def restore(self, legs: Sequence[KnownLeg]) -> None:
        """Before ``start``: the legs a previous controller knew; reconciliation ends those
        the switch no longer has."""
        for known in legs:
            self.table.legs.setdefault(
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
        """Legs we knew that the switch no longer has ended while we could not see them;
        live ones, known or not, stay controllable, with their conference membership
        from ``conference json_list``. ``show channels`` is filled late from the core's
        database, both ways (a new leg missing, a gone one still listed): each known leg
        is asked about (``uuid_exists``, or ``uuid_dump`` when it is not listed), each
        listed unknown one through its ``uuid_dump``."""
        esl, legs = self.switch.esl, self.table.legs
        listed = {row["uuid"]: row for row in tr.json_rows(await esl.api("show channels as json"))}
        members = tr.conference_members(await esl.api("conference json_list", check=False))
        for leg_id, leg in list(legs.items()):
            if leg_id in self.table.dialling:
                continue
            row = listed.get(leg_id) or await self._probe(leg_id)
            if legs.get(leg_id) is not leg:
                continue  # its own events ended it meanwhile
            if row is None or (leg_id in listed and not await self.switch.exists(leg_id)):
                if legs.get(leg_id) is leg:
                    await self._gone_while_away(leg)
                continue
            self._refresh(leg, row, members)
        for leg_id, row in listed.items():
            if leg_id not in legs and (adopted := await self._adopt(leg_id, row)):
                self._refresh(adopted, row, members)
        logger.info("reconciled: %d live legs", len(legs))

    async def adopt_late(self, connection: int) -> None:
        """A second look once ``show channels`` has caught up: live legs it did not list
        yet at the (re)connection (created just before) are adopted now."""
        esl = self.switch.esl
        await asyncio.sleep(self.switch.config.list_settle)
        if esl.connection_count != connection or not esl.connected:
            return
        try:
            rows = tr.json_rows(await esl.api("show channels as json"))
            fresh = [row for row in rows if row["uuid"] not in self.table.legs]
            if not fresh:
                return
            members = tr.conference_members(await esl.api("conference json_list", check=False))
            for row in fresh:
                if row["uuid"] not in self.table.legs:
                    leg = await self._adopt(row["uuid"], row)
                    if leg is not None:
                        self._refresh(leg, row, members)
        except (SwitchUnavailable, CommandRejected, ValueError) as exc:
            logger.warning("second look at the live legs failed: %s", exc)

    async def _probe(self, leg_id: str) -> dict[str, Any] | None:
        """A known leg ``show channels`` did not list: its state from ``uuid_dump``, or
        ``None`` if the switch does not have it."""
        try:
            dump = EslEvent(tr.json_dump(await self.switch.esl.api(f"uuid_dump {leg_id} json")))
        except (NoSuchCall, CommandRejected, ValueError):
            return None
        return {"uuid": leg_id, "callstate": dump.get("Channel-Call-State") or ""}

    def _refresh(
        self, leg: FsLeg, row: dict[str, Any], members: dict[str, tuple[str, str]]
    ) -> None:
        created = leg.created
        leg.created = True
        if leg.originated and not created:
            self.switch.spawn(self.ends.keep(leg))  # its CHANNEL_CREATE came while away
        leg.up = leg.up or row.get("callstate") in ("ACTIVE", "HELD", "UNHELD")
        leg.bridge_id, leg.member_id = members.get(leg.leg_id, ("", ""))
        if leg.bridge_id:
            self.table.bridges.setdefault(leg.bridge_id, leg.call_id)

    async def _gone_while_away(self, leg: FsLeg) -> None:
        self.ends.forget(leg)
        if leg.offered:
            event = await self.ends.ended_while_away(leg)
            logger.warning(
                "[call %s] leg %s ended while we were away: %s",
                leg.call_id,
                leg.leg_id,
                event.cause.value,
            )
            await self.switch.emit(event)

    async def _adopt(self, leg_id: str, row: dict[str, Any]) -> FsLeg | None:
        """A live channel we did not know: ours if we dialled it (``cc_call_id``) or the
        dialplan gave it to us (``cc_direction``, or parked, or in a conference)."""
        try:
            dump = EslEvent(tr.json_dump(await self.switch.esl.api(f"uuid_dump {leg_id} json")))
        except (NoSuchCall, CommandRejected, ValueError):
            return None  # gone meanwhile (or listed after it went)
        if leg_id in self.table.legs:
            return None  # its own events brought it meanwhile
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
        self.table.legs[leg_id] = leg
        logger.info("[call %s] adopted live leg %s", leg.call_id, leg_id)
        return leg
