"""``CallControl`` on FreeSWITCH (Event Socket, SW-1): a thin driver over parts with one job
each, composed here rather than stacked as subclasses:

* ``Switch`` (``core``): the ESL link, the event sink, (re)connections;
* ``LegTable`` (``table``): the legs, the bridges, joins under way;
* ``EndRecords`` (``ends``): end records and markers, forgetting ended legs;
* ``LegEvents`` (``events``): what each leg's events mean; the other parts add handlers;
* ``Reconciler`` (``sync``): ``restore`` and reconciliation (SW-4);
* ``Dialer`` (``dialing``): originate, ``leg_existed``, ``list_legs``, ``endpoint_online``;
* ``LegOps`` (``legs``): one-leg operations: answer, hangup, media, digits, hold;
* ``Recorder`` (``recording``): recordings of a leg or a bridge;
* ``CallOps`` (``calls``): bridges, a third party, supervision, transfers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...callcontrol import EventSink, SwitchInfo
from ...protocols.esl import EslClient
from .calls import CallOps
from .core import FreeSwitchConfig, Switch
from .dialing import Dialer
from .ends import EndRecords
from .events import LegEvents
from .legs import LegOps
from .recording import Recorder
from .sync import Reconciler
from .table import LegTable
from .translate import FsLeg


class FreeSwitchDriver:
    """``CallControl`` on FreeSWITCH (Event Socket)."""

    kind = "freeswitch"

    def __init__(self, esl: EslClient, config: FreeSwitchConfig | None = None) -> None:
        self.esl = esl
        self.config = config or FreeSwitchConfig()
        self.switch = switch = Switch(esl, self.config)
        self.table = table = LegTable(self.config.conference_profile)
        self.ends = ends = EndRecords(switch, table)
        events = LegEvents(switch, table, ends)
        sync = Reconciler(switch, table, ends)
        switch.reconcile, switch.after_connected = sync.reconcile, sync.adopt_late
        dialer = Dialer(switch, table, events)
        leg_ops = LegOps(switch, table, events, ends)
        recorder = Recorder(switch, table, events, leg_ops)
        calls = CallOps(switch, table, events, dialer, leg_ops)
        # the CallControl operations, each the job of one part
        self.restore = sync.restore
        self.endpoint, self.originate = dialer.endpoint, dialer.originate
        self.leg_existed, self.list_legs = dialer.leg_existed, dialer.list_legs
        self.endpoint_online = dialer.endpoint_online
        self.answer, self.hangup, self.hold, self.unhold = (
            leg_ops.answer,
            leg_ops.hangup,
            leg_ops.hold,
            leg_ops.unhold,
        )
        self.play, self.stop_playback = leg_ops.play, leg_ops.stop_playback
        self.collect_digits = leg_ops.collect_digits
        self.record, self.stop_recording = recorder.record, recorder.stop_recording
        self.fetch_recording = recorder.fetch_recording
        self.bridge, self.add_to_call, self.snoop = calls.bridge, calls.add_to_call, calls.snoop
        self.consult, self.complete_consult = calls.consult, calls.complete_consult
        self.cancel_consult, self.blind_transfer = calls.cancel_consult, calls.blind_transfer

    @property
    def legs(self) -> dict[str, FsLeg]:
        return self.table.legs

    @property
    def bridges(self) -> dict[str, str]:
        return self.table.bridges

    @property
    def version(self) -> str:
        return self.switch.version

    @property
    def domain(self) -> str:
        return self.switch.domain

    async def start(self, sink: EventSink) -> None:
        await self.switch.start(sink)

    async def close(self) -> None:
        self.ends.close()
        await self.switch.close()

    async def wait_connected(self, timeout: float) -> bool:
        return await self.switch.wait_connected(timeout)

    async def info(self) -> SwitchInfo:
        return SwitchInfo("freeswitch", self.version, self.switch.ready, len(self.legs))


if TYPE_CHECKING:
    from ...callcontrol import CallControl

    def _check(d: FreeSwitchDriver) -> CallControl:
        return d
