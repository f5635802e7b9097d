"""The leg table against the switch after a (re)connection or a restart (SW-4).

The customer call id and the leg role travel on the channel itself (``CC_CALL_ID`` /
``CC_ROLE``, exported through ari.conf ``channelvars``), so a restarted controller
rebuilds its table from ``GET /channels`` alone. Legs we knew that are gone ended while we
could not see them (``CallEnded`` from the switch's end record, ``end_records``); legs
still up keep going and stay controllable.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from ...callcontrol import KnownLeg, LegSnapshot
from ...protocols.ari import Channel
from . import translate as tr
from .end_records import EndRecords
from .legs import LegTable
from .translate import LegInfo

logger = logging.getLogger(__name__)


class Reconciler:
    def __init__(self, table: LegTable, end_records: EndRecords) -> None:
        self.table = table
        self.ari = table.ari
        self.end_records = end_records
        self.done = False  # since the last (re)connection

    def restore(self, legs: Sequence[KnownLeg]) -> None:
        """Seed the table with legs persisted before a restart; reconciled on connect."""
        for k in legs:
            self.table.legs.setdefault(
                k.leg_id, LegInfo(k.leg_id, k.call_id, k.role, bridge_id=k.bridge_id, up=k.up)
            )

    async def run(self) -> None:
        """Reconcile with an AMI session open for the while (end records)."""
        async with self.end_records.session():
            await self.reconcile()

    async def reconcile(self) -> None:
        """Rebuild the leg table from the switch. Legs we knew that are gone ended while
        we could not see them; legs still up keep going and stay controllable."""
        table = self.table
        channels = await self.ari.get("/channels") or []
        live: dict[str, Channel] = {}
        for raw in channels:
            try:
                ch = Channel.from_json(raw)
            except ValueError:
                continue
            if tr.in_app(raw, self.ari.config.app) or "CC_CALL_ID" in ch.vars:
                live[ch.id] = ch
        for leg_id in list(table.legs):
            if leg_id not in live:
                leg = table.legs.pop(leg_id)
                table.collectors.pop(leg_id, None)
                await table.emit(await self.end_records.ended_while_away(leg))
        for ch in live.values():
            if ch.id not in table.legs:
                table.legs[ch.id] = LegInfo(
                    ch.id, tr.call_id_of(ch), tr.role_of(ch), up=ch.state == "Up"
                )
        bridges = await self.ari.get("/bridges") or []
        for b in bridges:
            for member in b.get("channels", []):
                member_leg = table.legs.get(member)
                if member_leg is not None:
                    member_leg.bridge_id = b["id"]
                    table.bridges.setdefault(b["id"], member_leg.call_id)
        logger.info("reconciled: %d live legs, %d bridges", len(table.legs), len(bridges))
        await self.end_records.clear()
        self.done = True

    async def list_legs(self) -> list[LegSnapshot]:
        """Our legs as the switch reports them."""
        channels = await self.ari.get("/channels") or []
        legs = self.table.legs
        out = []
        for raw in channels:
            ch = Channel.from_json(raw)
            if ch.id in legs:
                out.append(
                    LegSnapshot(
                        ch.id,
                        ch.state.lower(),
                        ch.caller_number,
                        ch.exten,
                        ch.name,
                        legs[ch.id].bridge_id,
                        ch.creationtime or time.time(),
                    )
                )
        return out
