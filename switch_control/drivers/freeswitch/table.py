"""The driver's leg table and bridge (conference room) membership (SW-2)."""

from __future__ import annotations

import asyncio

from ...errors import CommandRejected, NoSuchCall
from . import translate as tr
from .media import check_id
from .translate import FsLeg


class LegTable:
    """The legs the driver handles, the bridges of the calls, and the joins under way."""

    def __init__(self, conference_profile: str) -> None:
        self.legs: dict[str, FsLeg] = {}
        self.bridges: dict[str, str] = {}  # bridge id -> call id
        self.dialling: set[str] = set()  # legs whose originate is in progress
        self.conference_profile = conference_profile
        self._joined = asyncio.Condition()

    def known(self, leg_id: str) -> FsLeg:
        leg = self.legs.get(leg_id)
        if leg is None:
            raise NoSuchCall(f"no such leg {leg_id}")
        return leg

    def bridge_members(self, bridge_id: str) -> list[FsLeg]:
        return [x for x in self.legs.values() if bridge_id in (x.bridge_id, x.join_bridge)]

    def conference(self, bridge_id: str) -> str:
        return tr.CONFERENCE_PREFIX + check_id(bridge_id, "bridge id")

    def join_target(self, bridge_id: str) -> str:
        """Inline extension that puts a channel in the bridge (and parks it if it leaves)."""
        return f"conference:{self.conference(bridge_id)}@{self.conference_profile},park"

    async def joined(self) -> None:
        """A leg joined a bridge: wake those waiting for its member id."""
        async with self._joined:
            self._joined.notify_all()

    async def wait_member(self, leg: FsLeg, timeout: float = 5.0) -> str:
        """The leg's conference member id, waiting for a join that is on its way."""
        try:
            async with self._joined:
                await asyncio.wait_for(
                    self._joined.wait_for(lambda: bool(leg.member_id) or not leg.join_bridge),
                    timeout,
                )
        except TimeoutError:
            pass
        if not leg.member_id:
            raise CommandRejected(f"leg {leg.leg_id} is not in a bridge")
        return leg.member_id
