"""Dialling on FreeSWITCH (``bgapi originate``) and what is asked of the switch about legs
and phones: ``leg_existed``, ``list_legs``, ``endpoint_online`` (SW-1, SW-4)."""

from __future__ import annotations

import asyncio
import logging

from ...callcontrol import LegSnapshot
from ...contract import CallEnded, Direction, HangupCause, LegRole
from ...contract.commands import EndpointKind
from ...errors import CommandRejected, OriginateFailed, SwitchUnavailable
from ...protocols.esl.jobs import BackgroundJob
from ..callerid import safe_caller_name
from . import translate as tr
from .core import Switch, marker
from .events import LegEvents
from .media import brace_vars, check_id
from .table import LegTable
from .translate import FsLeg

logger = logging.getLogger(__name__)

_CALLSTATES = {
    "DOWN": "ringing",
    "DIALING": "ringing",
    "RINGING": "ringing",
    "EARLY": "ringing",
    "ACTIVE": "up",
    "HELD": "up",
    "UNHELD": "up",
    "HANGUP": "down",
}


class Dialer:
    """``originate`` and the queries."""

    def __init__(self, switch: Switch, table: LegTable, events: LegEvents) -> None:
        self.switch = switch
        self.config = switch.config
        self.esl = switch.esl
        self.table = table
        self.events = events
        self._creating: dict[str, asyncio.Future[None]] = {}
        events.created.append(self._created)

    def endpoint(self, destination: str, kind: EndpointKind) -> str:
        if kind is EndpointKind.RAW:
            return destination
        check_id(destination, "destination")
        if kind is EndpointKind.AGENT:
            return self.config.agent_dial.format(ext=destination)
        return self.config.gateway_dial.format(number=destination)

    async def originate(
        self,
        *,
        leg_id: str,
        destination: str,
        kind: EndpointKind = EndpointKind.AGENT,
        caller_id_number: str = "",
        caller_id_name: str = "",
        timeout: int = 30,
        variables: dict[str, str] | None = None,
        join_bridge: str = "",
    ) -> str:
        target = f"{self.table.join_target(join_bridge)} inline" if join_bridge else "&park()"
        leg = self.new_leg(leg_id, destination, kind, caller_id_number, variables)
        leg.join_bridge = join_bridge
        await self.dial(leg, destination, kind, target, timeout, variables, caller_id_name)
        return leg_id

    def new_leg(
        self,
        leg_id: str,
        destination: str,
        kind: EndpointKind,
        caller_id_number: str = "",
        variables: dict[str, str] | None = None,
    ) -> FsLeg:
        """The leg a dial will create (``CC_CALL_ID``/``CC_ROLE`` of ``variables``)."""
        check_id(leg_id, "leg id")
        if leg_id in self.table.legs or leg_id in self._creating:
            raise CommandRejected(f"leg {leg_id} already exists")
        variables = variables or {}
        role = LegRole.AGENT if kind is EndpointKind.AGENT else LegRole.EXTERNAL
        try:
            role = LegRole(variables.get("CC_ROLE") or role)
        except ValueError as exc:
            raise CommandRejected(f"unknown role {variables['CC_ROLE']!r}") from exc
        return FsLeg(
            leg_id,
            variables.get("CC_CALL_ID") or leg_id,
            role,
            Direction.OUTBOUND,
            caller_number=caller_id_number,
            callee_number=destination,
            originated=True,
        )

    async def dial(
        self,
        leg: FsLeg,
        destination: str,
        kind: EndpointKind,
        target: str,
        timeout: int,
        variables: dict[str, str] | None = None,
        caller_id_name: str = "",
        extra: dict[str, str] | None = None,
    ) -> None:
        """``bgapi originate``; returns once the switch created the leg (its events come
        from then on); ``OriginateFailed`` when it could not (no registration, no route).
        A failure after that (busy, no answer) is the leg's CallEnded."""
        chan_vars = {
            "origination_uuid": leg.leg_id,
            "cc_call_id": leg.call_id,
            "cc_role": leg.role.value,
            "originate_timeout": str(timeout),
            "ignore_early_media": "true",
            "api_on_originate": f"global_setvar {marker(leg.leg_id)}=1",
        }  # the end record's hook is set once the leg exists (``_keep_end``)
        if leg.caller_number:
            chan_vars["origination_caller_id_number"] = leg.caller_number
        if caller_id_name:
            chan_vars["origination_caller_id_name"] = safe_caller_name(caller_id_name)
        chan_vars |= {k: v for k, v in (variables or {}).items() if not k.startswith("CC_")}
        chan_vars |= extra or {}
        command = f"originate {brace_vars(chan_vars)}{self.endpoint(destination, kind)} {target}"
        created = asyncio.get_running_loop().create_future()
        self._creating[leg.leg_id] = created
        self.table.dialling.add(leg.leg_id)
        self.table.legs[leg.leg_id] = leg
        try:
            job = await self.esl.bgapi(command)
            self.switch.spawn(self._watch(leg, job, timeout))
            await asyncio.wait_for(asyncio.shield(created), self.config.originate_wait)
        except TimeoutError:
            await self.events.offer(leg)  # still dialling (a slow lookup): events will follow
        except BaseException:
            if not leg.created:
                self.table.legs.pop(leg.leg_id, None)
                self.table.dialling.discard(leg.leg_id)
            raise
        finally:
            self._creating.pop(leg.leg_id, None)
        logger.info("[call %s] dialling %s as leg %s", leg.call_id, destination, leg.leg_id)

    def _created(self, leg: FsLeg) -> None:
        self.table.dialling.discard(leg.leg_id)
        waiter = self._creating.get(leg.leg_id)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _watch(self, leg: FsLeg, job: BackgroundJob, timeout: int) -> None:
        """The originate's result: a failure before the channel existed is reported here
        (to ``dial`` while it waits, else as the leg's CallEnded)."""
        try:
            text = await job.result(timeout + 60, check=False)
        except (SwitchUnavailable, TimeoutError) as exc:
            self._fail_waiter(leg, SwitchUnavailable(f"originate of {leg.leg_id}: {exc}"))
            return  # reconciliation finds the leg, or ends it
        finally:
            self.table.dialling.discard(leg.leg_id)
        if not text.startswith("-") or leg.created:
            return  # answered, or the channel existed and its own hangup reports the end
        name = text.removeprefix("-ERR").strip()
        logger.info("[call %s] originate of %s failed: %s", leg.call_id, leg.leg_id, name)
        if self._fail_waiter(leg, OriginateFailed(name or "UNKNOWN", text.strip())):
            return
        if self.table.legs.pop(leg.leg_id, None) is not None and leg.offered:
            cause = HangupCause(name) if name in HangupCause.__members__ else HangupCause.UNKNOWN
            await self.switch.emit(CallEnded(call_id=leg.call_id, leg_id=leg.leg_id, cause=cause))

    def _fail_waiter(self, leg: FsLeg, error: Exception) -> bool:
        waiter = self._creating.get(leg.leg_id)
        if waiter is None or waiter.done():
            return False
        waiter.set_exception(error)
        waiter.exception()  # retrieved by ``dial``
        return True

    # ------------------------------------------------------------------ queries
    async def leg_existed(self, leg_id: str) -> bool:
        """Known live legs; else the marker the leg set on the switch when it was created
        (kept ``marker_ttl`` after it ended); else whether such a channel is up now."""
        if leg_id in self.table.legs:
            return True
        if await self.switch.global_var(marker(leg_id)) == "1":
            return True
        return await self.switch.exists(leg_id)

    async def endpoint_online(self, endpoint: str) -> bool:
        """Whether the extension's phone is registered (what ``user/<ext>`` dials)."""
        check_id(endpoint, "endpoint")
        domain = f"@{self.switch.domain}" if self.switch.domain else ""
        contact = await self.esl.api(f"sofia_contact */{endpoint}{domain}", check=False)
        return bool(contact.strip()) and not contact.startswith(("error/", "-"))

    async def list_legs(self) -> list[LegSnapshot]:
        """The legs of our table the switch has. The table follows the event stream;
        ``show channels`` adds what only the switch knows, but it lists a new leg late
        (SW-4, package docstring), so a leg it leaves out is asked about (``uuid_exists``)."""
        rows = {
            row["uuid"]: row for row in tr.json_rows(await self.esl.api("show channels as json"))
        }
        out = []
        for leg in list(self.table.legs.values()):
            row = rows.get(leg.leg_id)
            if row is None and not (leg.created and await self.switch.exists(leg.leg_id)):
                continue
            row = row or {}
            created = str(row.get("created_epoch", ""))
            state = "up" if leg.up else "ringing"
            out.append(
                LegSnapshot(
                    leg.leg_id,
                    _CALLSTATES.get(str(row.get("callstate")), "other") if row else state,
                    leg.caller_number or str(row.get("cid_num", "")),
                    leg.callee_number or str(row.get("dest", "")),  # dest: after transfers
                    str(row.get("name", "")) or leg.channel_name,
                    leg.bridge_id,
                    float(created) if created.isdigit() else leg.created_at,
                )
            )
        return out
