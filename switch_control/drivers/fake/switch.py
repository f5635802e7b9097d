"""The fake switch: legs, bridges, phones and what each party hears, and an event task that
delivers what happens to the connected driver *later*, in order, as a real switch's event
stream does (SW-1). Operations change the switch's state at once; their events, and what
phones do (ring, answer, reject), come from the event task after the operation returned.

The switch outlives a driver: a controller that restarts (``FakeDriver(switch)`` again)
finds the legs still up, and the switch's own end records of the legs that ended while no
driver was connected (SW-4), as Asterisk's AstDB or FreeSWITCH's reporting hook keep them.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ...callcontrol import EventSink
from ...contract import (
    CallAnswered,
    CallBridged,
    CallEnded,
    CallOffered,
    CallRinging,
    CallUnbridged,
    Direction,
    DtmfReceived,
    Event,
    HangupCause,
    LegRole,
)
from .media import FakeMedia

logger = logging.getLogger(__name__)

Step = Callable[[], Awaitable[None]]


class PhoneBehavior(enum.Enum):
    """What the phone (or number) at a destination does when it is dialled."""

    ANSWER = "answer"  # rings, then answers (the default for any destination)
    RING = "ring"  # rings until someone answers it or the originate's timeout (NO_ANSWER)
    NO_ANSWER = "noanswer"  # rings, and the switch gives up at once (NO_ANSWER)
    BUSY = "busy"  # rejects the call (USER_BUSY)
    OFFLINE = "offline"  # not registered: not online, dialling it fails (SUBSCRIBER_ABSENT)
    UNKNOWN = "unknown"  # no such endpoint: not online, no route (NO_ROUTE_DESTINATION)


@dataclass
class FakeLeg:
    leg_id: str
    call_id: str
    state: str  # ringing | up | down
    caller: str = ""
    callee: str = ""
    role: LegRole = LegRole.CALLER
    bridge_id: str = ""
    join_bridge: str = ""  # the bridge it joins when it answers
    replace_leg: str = ""  # dropped once this leg joined (intercept, pickup)
    held: bool = False
    created: float = field(default_factory=time.time)
    answered: float = 0.0
    played: list[str] = field(default_factory=list)  # every media item ever started
    playing: set[str] = field(default_factory=set)  # playbacks it hears now


class FakeSwitch:
    """The world a ``FakeDriver`` controls; tests steer the outside through its methods
    (``inbound_call``, ``far_end_hangup``, ``press``, ``pick_up``, ``phone``)."""

    def __init__(self) -> None:
        self.legs: dict[str, FakeLeg] = {}
        self.bridges: dict[str, set[str]] = {}
        self.phones: dict[str, PhoneBehavior] = {}  # destination -> behaviour (else ANSWER)
        self.media = FakeMedia(self)
        self.snoops: dict[str, tuple[str, bool]] = {}  # supervisor leg -> (agent leg, whisper)
        self.created: set[str] = set()  # legs the switch created (markers: leg_existed)
        self.end_records: dict[str, tuple[float, HangupCause]] = {}  # leg -> (at, cause)
        self.up = True  # the switch is reachable
        self._sink: EventSink | None = None
        self._queue: deque[Event | Step] = deque()
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._timers: set[asyncio.TimerHandle] = set()

    # ------------------------------------------------------------------ the event task
    def attach(self, sink: EventSink) -> None:
        """A driver connects: the switch's events go to it from now on."""
        self._sink = sink

    def detach(self, sink: EventSink) -> None:
        """That driver went away: events meanwhile are lost (reconciliation tells)."""
        if self._sink == sink:
            self._sink = None

    def emit(self, event: Event) -> None:
        self._push(event)

    def later(self, step: Step) -> None:
        """Something the switch or a phone does after what is queued now."""
        self._push(step)

    def after(self, seconds: float, step: Step) -> None:
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle

        def fire() -> None:
            self._timers.discard(handle)
            self.later(step)

        handle = loop.call_later(seconds, fire)
        self._timers.add(handle)

    def _push(self, item: Event | Step) -> None:
        self._queue.append(item)
        self._idle.clear()
        self._wakeup.set()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            while not self._queue:
                self._idle.set()
                self._wakeup.clear()
                await self._wakeup.wait()
            item = self._queue.popleft()
            try:
                if isinstance(item, Event):
                    if self._sink is not None:
                        await self._sink(item)
                else:
                    await item()
            except Exception:  # one bad event or step must not stop the switch
                logger.exception("fake switch: %r failed", item)

    async def settled(self) -> None:
        """Wait until the switch has delivered everything it has to say for now."""
        while not self._idle.is_set() or self._queue:
            await self._idle.wait()

    async def close(self) -> None:
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self._queue.clear()
        self._idle.set()

    # ------------------------------------------------------------------ the outside world
    def phone(self, destination: str, behavior: PhoneBehavior = PhoneBehavior.ANSWER) -> None:
        self.phones[destination] = behavior

    def behavior(self, destination: str) -> PhoneBehavior:
        return self.phones.get(destination, PhoneBehavior.ANSWER)

    def inbound_call(self, caller: str, callee: str) -> str:
        """A call arrives (its CallOffered follows); returns its leg id (= the call id)."""
        leg_id = uuid.uuid4().hex
        self.legs[leg_id] = FakeLeg(leg_id, leg_id, "ringing", caller, callee)
        self.created.add(leg_id)
        self.emit(
            CallOffered(
                call_id=leg_id,
                leg_id=leg_id,
                direction=Direction.INBOUND,
                caller_number=caller,
                callee_number=callee,
                channel_name=f"FAKE/{caller}",
                switch="fake",
            )
        )
        return leg_id

    def far_end_hangup(self, leg_id: str, cause: HangupCause = HangupCause.NORMAL_CLEARING) -> None:
        """The party on ``leg_id`` hangs up."""
        leg = self.legs.get(leg_id)
        if leg is not None:
            self.end(leg, cause)

    def press(self, leg_id: str, digits: str) -> None:
        """The party on ``leg_id`` presses keys (RFC 2833)."""
        leg = self.legs[leg_id]
        for d in digits:
            self.emit(DtmfReceived(call_id=leg.call_id, leg_id=leg_id, digit=d))

    def pick_up(self, leg_id: str) -> None:
        """A ringing phone (``RING``) is answered now."""
        self.later(lambda: self.answered(leg_id))

    # ------------------------------------------------------------------ legs and bridges
    def set_up(self, leg: FakeLeg) -> None:
        if leg.state != "up":
            leg.state = "up"
            leg.answered = time.time()
            self.emit(CallAnswered(call_id=leg.call_id, leg_id=leg.leg_id))

    def end(self, leg: FakeLeg, cause: HangupCause) -> None:
        if leg.bridge_id:
            self.leave(leg)
        self.media.leg_gone(leg)
        leg.state = "down"
        self.legs.pop(leg.leg_id, None)
        self.snoops.pop(leg.leg_id, None)
        at = time.time()
        self.end_records[leg.leg_id] = (at, cause)
        self.emit(CallEnded(call_id=leg.call_id, leg_id=leg.leg_id, cause=cause, at=at))

    def ended_while_away(self, leg_id: str, call_id: str) -> CallEnded:
        """The switch's own end time and cause of a leg (as Asterisk's AstDB records or
        FreeSWITCH's reporting hook keep them), else SWITCH_LOST."""
        record = self.end_records.get(leg_id)
        if record is None:
            return CallEnded(call_id=call_id, leg_id=leg_id, cause=HangupCause.SWITCH_LOST)
        at, cause = record
        return CallEnded(call_id=call_id, leg_id=leg_id, cause=cause, at=at)

    def leave(self, leg: FakeLeg) -> None:
        bridge_id, leg.bridge_id = leg.bridge_id, ""
        members = self.bridges.get(bridge_id, set())
        members.discard(leg.leg_id)
        if not members:
            self.bridges.pop(bridge_id, None)
        self.emit(CallUnbridged(call_id=leg.call_id, leg_id=leg.leg_id, bridge_id=bridge_id))

    def join(self, leg: FakeLeg, bridge_id: str) -> None:
        if leg.bridge_id == bridge_id:
            return
        if leg.bridge_id:
            self.leave(leg)
        leg.bridge_id = bridge_id
        self.bridges.setdefault(bridge_id, set()).add(leg.leg_id)
        self.emit(CallBridged(call_id=leg.call_id, leg_id=leg.leg_id, bridge_id=bridge_id))

    def dial(self, leg: FakeLeg, timeout: float) -> None:
        """A leg the switch dials: it rings, then its phone does what it does."""
        self.legs[leg.leg_id] = leg
        self.created.add(leg.leg_id)
        self.emit(
            CallOffered(
                call_id=leg.call_id,
                leg_id=leg.leg_id,
                direction=Direction.OUTBOUND,
                role=leg.role,
                caller_number=leg.caller,
                callee_number=leg.callee,
                switch="fake",
            )
        )
        self.emit(CallRinging(call_id=leg.call_id, leg_id=leg.leg_id))
        self.later(lambda: self._phone_acts(leg.leg_id, timeout))

    async def _phone_acts(self, leg_id: str, timeout: float) -> None:
        leg = self.legs.get(leg_id)
        if leg is None or leg.state != "ringing":
            return
        match self.behavior(leg.callee):
            case PhoneBehavior.ANSWER:
                await self.answered(leg_id)
            case PhoneBehavior.BUSY:
                self.end(leg, HangupCause.USER_BUSY)
            case PhoneBehavior.NO_ANSWER:
                self.end(leg, HangupCause.NO_ANSWER)
            case _:  # RING: until answered or the originate's timeout
                self.after(timeout, lambda: self._ring_timeout(leg_id))

    async def _ring_timeout(self, leg_id: str) -> None:
        leg = self.legs.get(leg_id)
        if leg is not None and leg.state == "ringing":
            self.end(leg, HangupCause.NO_ANSWER)

    async def answered(self, leg_id: str) -> None:
        """The dialled phone answers: up, into its bridge, then the replaced leg drops."""
        leg = self.legs.get(leg_id)
        if leg is None or leg.state != "ringing":
            return
        self.set_up(leg)
        if leg.join_bridge:
            bridge_id, leg.join_bridge = leg.join_bridge, ""
            self.join(leg, bridge_id)
        if leg.replace_leg:
            old = self.legs.get(leg.replace_leg)
            leg.replace_leg = ""
            if old is not None:
                up = old.state == "up"
                self.end(old, HangupCause.NORMAL_CLEARING if up else HangupCause.PICKED_OFF)

    # ------------------------------------------------------------------ what parties hear
    def heard_by(self, leg_id: str) -> set[str]:
        """What the party on ``leg_id`` hears now: the legs whose voice reaches it,
        ``"prompt"`` (a playback to it), ``"music"`` (held)."""
        leg = self.legs.get(leg_id)
        if leg is None or leg.state != "up":
            return set()
        out = {"prompt"} if leg.playing else set()
        if leg.held:
            return out | {"music"}
        out |= self._peers(leg)
        spied = self.snoops.get(leg_id)
        if spied is not None:  # a supervisor hears the agent and what the agent hears
            agent = self.legs.get(spied[0])
            if agent is not None and leg.bridge_id:
                out |= {agent.leg_id} | self._peers(agent)
        for sup_id, (agent_id, whisper) in self.snoops.items():
            sup = self.legs.get(sup_id)
            if whisper and agent_id == leg_id and sup is not None and sup.bridge_id:
                out.add(sup_id)  # a whisper reaches the agent alone
        out.discard(leg_id)
        return out

    def _peers(self, leg: FakeLeg) -> set[str]:
        if not leg.bridge_id or leg.held:
            return set()
        return {
            m
            for m in self.bridges.get(leg.bridge_id, set())
            if m != leg.leg_id and m in self.legs and not self.legs[m].held
        }
