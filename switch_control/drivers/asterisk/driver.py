"""``CallControl`` on Asterisk (ARI + AMI): a thin driver over parts with one job each
(SW-1, SW-2, SW-3, SW-4, REC-1).

- ``legs.LegTable``: the legs and bridges we own, bridge membership, ending legs;
- ``events.AriEvents``: ARI events -> the table and contract events;
- ``reconcile.Reconciler``: the table against the switch after a (re)connection/restart;
- ``end_records.EndRecords``: legs' end times and causes kept on the switch (AstDB, AMI);
- ``presence.Presence``: phones' registration state (a poll of the endpoints);
- ``media.LegMedia``: answer, prompts, digits, hold, recordings of one leg;
- ``dialing.Dialer``: originate, dialling into a call, supervision;
- ``transfer.Transfers``: attended and blind transfer.

Every call we handle sits in the Stasis app (``asterisk_conf/extensions.conf``). The app
does not ask for ``subscribeAll``: with it, Asterisk turned every message of every channel
(each dialplan step, variable, bridge change) into JSON for us before the event filter
dropped most of them (~1.5 ms of Asterisk CPU per call on the benchmark's path). What that
brought otherwise comes another way: bridge membership from our own requests (``legs``),
phones' presence from a poll (``presence``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ...callcontrol import EventSink, KnownLeg, LegSnapshot, SwitchInfo
from ...contract import HangupCause, LegRole, SwitchConnected, SwitchDisconnected
from ...contract.commands import EndpointKind
from ...errors import CommandRejected, NoSuchCall
from ...protocols.ami import AmiClient
from ...protocols.ari import AriClient
from . import translate as tr
from .dialing import Dialer
from .end_records import EndRecords
from .events import AriEvents
from .legs import LegTable
from .media import LegMedia
from .presence import Presence
from .reconcile import Reconciler
from .transfer import Transfers
from .translate import LegInfo

logger = logging.getLogger(__name__)


class AsteriskDriver:
    kind = "asterisk"

    def __init__(
        self,
        ari: AriClient,
        *,
        agent_tech: str = "PJSIP",
        trunk: str = "trunk",
        moh_class: str = "default",
        ami: AmiClient | None = None,
        presence_poll_s: float = 2.0,
    ) -> None:
        self.ari = ari
        self.ami = ami
        self.version = ""
        self.table = table = LegTable(ari)
        self.events = events = AriEvents(table)
        self.end_records = EndRecords(ami, ready=lambda: ari.connected and self.reconciler.done)
        self.reconciler = Reconciler(table, self.end_records)
        self.presence = Presence(ari, table.emit, tech=agent_tech, poll_s=presence_poll_s)
        self.media = LegMedia(table, moh_class=moh_class)
        self.dialer = Dialer(table, events, agent_tech=agent_tech, trunk=trunk)
        self.transfers = Transfers(table, self.dialer, moh_class=moh_class)
        ari.on_connect(self._on_connect)
        ari.on_disconnect(self._on_disconnect)

    # ------------------------------------------------------------------ what tests look at
    @property
    def legs(self) -> dict[str, LegInfo]:
        return self.table.legs

    @property
    def bridges(self) -> dict[str, str]:
        return self.table.bridges

    @property
    def sink(self) -> EventSink | None:
        return self.table.sink

    @sink.setter
    def sink(self, sink: EventSink | None) -> None:
        self.table.sink = sink

    def app_registration(self) -> dict[str, Any]:
        """Whether the Stasis app is registered on Asterisk, since when not and why: the
        controller's status shows it as an alarm (SW-4, issue 12 part 6)."""
        return self.ari.app_registration()

    def bridge_members(self, bridge_id: str) -> list[LegInfo]:
        return self.table.members(bridge_id)

    def endpoint(self, destination: str, kind: EndpointKind) -> str:
        return self.dialer.endpoint(destination, kind)

    # ------------------------------------------------------------------ lifecycle
    async def start(self, sink: EventSink) -> None:
        self.table.sink = sink
        await self.ari.start()
        if self.ami is not None:
            self.table.spawn(self.end_records.sweep_loop())
        if self.presence.poll_s > 0:
            self.table.spawn(self.presence.loop())

    async def close(self) -> None:
        await self.table.cancel_background()
        await self.ari.close()
        if self.ami is not None:
            await self.ami.close()

    async def wait_connected(self, timeout: float) -> bool:
        return await self.ari.wait_connected(timeout)

    async def info(self) -> SwitchInfo:
        return SwitchInfo("asterisk", self.version, self.ari.connected, len(self.table.legs))

    async def _on_connect(self) -> None:
        app = self.ari.config.app
        try:
            await self.ari.put(
                f"/applications/{app}/eventFilter",
                {"allowed": [{"type": t} for t in tr.WANTED_EVENTS]},
            )
        except (CommandRejected, NoSuchCall) as exc:  # older Asterisk: no filter, still fine
            logger.info("ARI event filter not applied: %s", exc)
        info = await self.ari.get("/asterisk/info", only="system")
        self.version = str((info or {}).get("system", {}).get("version", ""))
        logger.info("connected to Asterisk %s at %s", self.version, self.ari.config.url)
        await self.reconciler.run()
        await self.table.emit(SwitchConnected(switch="asterisk", version=self.version))

    async def _on_disconnect(self) -> None:
        self.reconciler.done = False
        self.presence.forget()  # after a reconnection, every phone's state is told again
        await self.table.emit(SwitchDisconnected(switch="asterisk", reason=self.ari.last_error))

    # ------------------------------------------------------------------ state (SW-4)
    async def restore(self, legs: Sequence[KnownLeg]) -> None:
        self.reconciler.restore(legs)

    async def reconcile(self) -> None:
        await self.reconciler.reconcile()

    async def list_legs(self) -> list[LegSnapshot]:
        return await self.reconciler.list_legs()

    async def leg_existed(self, leg_id: str) -> bool:
        return await self.dialer.leg_existed(leg_id)

    async def sweep_end_records(self, now: float | None = None) -> int:
        return await self.end_records.sweep(now)

    async def endpoint_online(self, endpoint: str) -> bool:
        return await self.presence.endpoint_online(endpoint)

    async def poll_presence(self) -> None:
        await self.presence.poll()

    # ------------------------------------------------------------------ one leg
    async def answer(self, leg_id: str) -> None:
        await self.media.answer(leg_id)

    async def hangup(self, leg_id: str, cause: HangupCause = HangupCause.NORMAL_CLEARING) -> None:
        await self.table.hangup(leg_id, cause)

    async def play(self, leg_id: str, media: Sequence[str], playback_id: str = "") -> str:
        return await self.media.play(leg_id, media, playback_id)

    async def stop_playback(self, playback_id: str) -> None:
        await self.media.stop_playback(playback_id)

    async def collect_digits(
        self,
        leg_id: str,
        *,
        prompt: Sequence[str] = (),
        max_digits: int = 1,
        terminator: str = "#",
        first_digit_timeout: float = 5.0,
        inter_digit_timeout: float = 3.0,
        overall_timeout: float = 15.0,
    ) -> tuple[str, bool]:
        return await self.media.collect_digits(
            leg_id,
            prompt=prompt,
            max_digits=max_digits,
            terminator=terminator,
            first_digit_timeout=first_digit_timeout,
            inter_digit_timeout=inter_digit_timeout,
            overall_timeout=overall_timeout,
        )

    async def hold(self, leg_id: str) -> None:
        await self.media.hold(leg_id)

    async def unhold(self, leg_id: str) -> None:
        await self.media.unhold(leg_id)

    async def record(
        self,
        *,
        name: str,
        leg_id: str = "",
        bridge_id: str = "",
        fmt: str = "wav",
        max_duration: int = 0,
        beep: bool = False,
    ) -> None:
        await self.media.record(
            name=name,
            leg_id=leg_id,
            bridge_id=bridge_id,
            fmt=fmt,
            max_duration=max_duration,
            beep=beep,
        )

    async def stop_recording(self, name: str) -> None:
        await self.media.stop_recording(name)

    async def fetch_recording(self, name: str, fmt: str = "wav") -> bytes:
        return await self.media.fetch_recording(name, fmt)

    # ------------------------------------------------------------------ several legs
    async def bridge(self, leg_ids: Sequence[str], bridge_id: str = "") -> str:
        return await self.table.bridge(leg_ids, bridge_id)

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
        return await self.dialer.originate(
            leg_id=leg_id,
            destination=destination,
            kind=kind,
            caller_id_number=caller_id_number,
            caller_id_name=caller_id_name,
            timeout=timeout,
            variables=variables,
            join_bridge=join_bridge,
        )

    async def add_to_call(
        self,
        leg_id: str,
        *,
        destination: str,
        kind: EndpointKind = EndpointKind.AGENT,
        new_leg_id: str = "",
        replace_leg: str = "",
        role: LegRole | None = None,
        caller_id_number: str = "",
        timeout: int = 30,
    ) -> str:
        return await self.dialer.add_to_call(
            leg_id,
            destination=destination,
            kind=kind,
            new_leg_id=new_leg_id,
            replace_leg=replace_leg,
            role=role,
            caller_id_number=caller_id_number,
            timeout=timeout,
        )

    async def snoop(
        self,
        leg_id: str,
        *,
        destination: str,
        kind: EndpointKind = EndpointKind.AGENT,
        new_leg_id: str = "",
        whisper: bool = False,
        timeout: int = 30,
    ) -> str:
        return await self.dialer.snoop(
            leg_id,
            destination=destination,
            kind=kind,
            new_leg_id=new_leg_id,
            whisper=whisper,
            timeout=timeout,
        )

    async def consult(
        self,
        leg_id: str,
        *,
        destination: str,
        kind: EndpointKind = EndpointKind.AGENT,
        new_leg_id: str = "",
        timeout: int = 30,
    ) -> str:
        return await self.transfers.consult(
            leg_id, destination=destination, kind=kind, new_leg_id=new_leg_id, timeout=timeout
        )

    async def complete_consult(self, leg_id: str) -> None:
        await self.transfers.complete_consult(leg_id)

    async def cancel_consult(self, leg_id: str) -> None:
        await self.transfers.cancel_consult(leg_id)

    async def blind_transfer(
        self, leg_id: str, destination: str, kind: EndpointKind = EndpointKind.AGENT
    ) -> None:
        await self.transfers.blind_transfer(leg_id, destination, kind)


if TYPE_CHECKING:
    from ...callcontrol import CallControl

    def _check(d: AsteriskDriver) -> CallControl:
        return d
