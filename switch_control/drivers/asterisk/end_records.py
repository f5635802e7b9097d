"""Legs' end records on the switch, for a controller that was away (SW-4).

Every leg carries a hangup handler (``[cc-hangup]`` in ``asterisk_conf/extensions.conf``)
that writes ``cc_end/<hour>/<leg id> = <epoch.ms>,<Q.850 cause>`` to AstDB; a
reconciliation reads the record of each leg that ended while we could not see it, over
AMI. AMI is opened only for the while (``session``): a manager session that stays
connected makes Asterisk format every AMI event of every call for it, whatever the
session reads (~1.1 ms of Asterisk CPU per call, 9 %, on the benchmark's path).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable

from ...contract import CallEnded, HangupCause, cause_from_q850
from ...errors import CommandRejected, SwitchUnavailable
from ...protocols.ami import AmiClient
from .translate import LegInfo

logger = logging.getLogger(__name__)

END_FAMILY = "cc_end"  # AstDB family the dialplan's hangup handler writes
# The handler files each record under the hour it was written in (``cc_end/<hour>/<leg>``,
# hours since the epoch): whole hours are dropped at once (``sweep``), so AstDB does not
# grow with every leg ever handled between two reconciliations.
END_LOOKBACK_HOURS = 24  # how far back a reconciliation looks for a leg's end record
END_KEEP_HOURS = 2  # hours of records the sweep keeps (legs seen ending live need none)
END_SWEEP_S = 1800.0


def end_hour(at: float) -> int:
    """AstDB bucket of a record written at ``at`` (``MATH(${EPOCH}/3600,int)``)."""
    return int(at // 3600)


class EndRecords:
    """Reads, clears and sweeps the records; without AMI every lost leg is SWITCH_LOST."""

    def __init__(self, ami: AmiClient | None, ready: Callable[[], bool] = lambda: True) -> None:
        """``ready``: whether the sweep may run (connected, and reconciled since)."""
        self.ami = ami
        self.ready = ready
        self._lock = asyncio.Lock()  # one AMI session at a time
        self._swept_to = 0  # end-record hours below this are gone

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[None]:
        """AMI open for the while (nothing happens without AMI)."""
        if self.ami is None:
            yield
            return
        async with self._lock:
            await self.ami.start()
            try:
                yield
            finally:
                await self.ami.close()

    async def ended_while_away(self, leg: LegInfo) -> CallEnded:
        """The switch's own record of when and why a leg ended; SWITCH_LOST at the time we
        noticed otherwise. (In a ``session``.)"""
        value = None
        if self.ami is not None and await self.ami.wait_connected(3.0):
            now = end_hour(time.time())
            try:
                # newest hour first: the leg ended while we were away, most likely lately
                for hour in range(now, now - END_LOOKBACK_HOURS - 1, -1):
                    value = await self.ami.db_get(f"{END_FAMILY}/{hour}", leg.leg_id)
                    if value:
                        break
            except (SwitchUnavailable, CommandRejected) as exc:
                logger.warning("end of leg %s not read from AstDB: %s", leg.leg_id, exc)
                value = None
            if value:
                stamp, _, code = value.partition(",")
                try:
                    at, q850 = float(stamp), int(code or 0)
                except ValueError:
                    pass
                else:
                    cause = cause_from_q850(q850)
                    return CallEnded(
                        call_id=leg.call_id, leg_id=leg.leg_id, at=at, cause=cause, cause_code=q850
                    )
        return CallEnded(call_id=leg.call_id, leg_id=leg.leg_id, cause=HangupCause.SWITCH_LOST)

    async def clear(self) -> None:
        """After a reconciliation (in its ``session``): what we needed is read; entries of
        legs we saw end live are of no use."""
        if self.ami is None or not self.ami.connected:
            return
        try:
            await self.ami.db_del_tree(END_FAMILY)
            self._swept_to = end_hour(time.time())
        except SwitchUnavailable as exc:
            logger.warning("AstDB %s not cleared: %s", END_FAMILY, exc)

    async def sweep(self, now: float | None = None) -> int:
        """Drop the hours of records older than ``END_KEEP_HOURS`` (only while we were
        connected and reconciled all along: their legs were seen ending live). Returns how
        many hours were dropped."""
        if self.ami is None or not self.ready():
            return 0
        last = end_hour(now if now is not None else time.time()) - END_KEEP_HOURS
        first = max(self._swept_to, last - END_LOOKBACK_HOURS)
        if first > last:
            return 0
        async with self.session():
            try:
                if not await self.ami.wait_connected(5.0):
                    logger.warning("AMI unavailable: AstDB %s not swept", END_FAMILY)
                    return 0
                for hour in range(first, last + 1):
                    await self.ami.db_del_tree(f"{END_FAMILY}/{hour}")
                self._swept_to = last + 1
            except SwitchUnavailable as exc:
                logger.warning("AstDB %s not swept: %s", END_FAMILY, exc)
                return 0
        return last + 1 - first

    async def sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(END_SWEEP_S)
            try:
                await self.sweep()
            except Exception:  # the next round tries again; the loop must not die
                logger.exception("AstDB %s sweep failed", END_FAMILY)
