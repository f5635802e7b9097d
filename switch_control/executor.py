"""Runs contract commands on a ``CallControl`` (the controller's command side).

Translation only: which driver call a command becomes, and how a failure is reported
(``CommandFailed`` event with the error class and reason). Commands a driver does not
support yet are rejected with a clear reason, never silently dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from . import contract as c
from .callcontrol import CallControl
from .errors import CommandRejected, NoSuchCall, SwitchControlError

logger = logging.getLogger(__name__)

Emit = Callable[[c.Event], Awaitable[None]]


class Executor:
    def __init__(self, driver: CallControl, emit: Emit) -> None:
        self.driver = driver
        self.emit = emit
        self._playbacks: dict[str, asyncio.Future[None]] = {}
        self._playbacks_of: dict[str, set[str]] = {}  # leg id -> its awaited playbacks

    async def on_event(self, event: c.Event) -> None:
        """Feed driver events (to finish ``PlayPrompt(wait=True)``)."""
        if isinstance(event, c.PlaybackFinished):
            fut = self._playbacks.pop(event.playback_id, None)
            if fut is not None and not fut.done():
                fut.set_result(None)
        elif isinstance(event, c.CallEnded):
            # (indexed by leg: a scan of every playback per hangup grows with the calls)
            for pid in self._playbacks_of.get(event.leg_id, ()):
                fut = self._playbacks.get(pid)
                if fut is not None and not fut.done():
                    fut.set_result(None)

    async def run(self, cmd: c.Command) -> None:
        """Execute; raise ``SwitchControlError`` subclasses on failure."""
        d = self.driver
        match cmd:
            case c.AnswerCall():
                await d.answer(cmd.leg_id)
            case c.Hangup():
                await d.hangup(cmd.leg_id, cmd.cause)
            case c.PlayPrompt():
                if cmd.wait:
                    pid = f"{cmd.leg_id}:{cmd.playback_id or cmd.id}"
                    fut = asyncio.get_running_loop().create_future()
                    self._playbacks[pid] = fut
                    self._playbacks_of.setdefault(cmd.leg_id, set()).add(pid)
                    try:
                        await d.play(cmd.leg_id, cmd.media, pid)
                        await asyncio.wait_for(fut, 120)
                    finally:
                        self._playbacks.pop(pid, None)
                        mine = self._playbacks_of.get(cmd.leg_id)
                        if mine is not None:
                            mine.discard(pid)
                            if not mine:
                                del self._playbacks_of[cmd.leg_id]
                else:
                    await d.play(cmd.leg_id, cmd.media, cmd.playback_id)
            case c.CollectDigits():
                digits, timed_out = await d.collect_digits(
                    cmd.leg_id,
                    prompt=cmd.prompt,
                    max_digits=cmd.max_digits,
                    terminator=cmd.terminator,
                    first_digit_timeout=cmd.first_digit_timeout,
                    inter_digit_timeout=cmd.inter_digit_timeout,
                    overall_timeout=cmd.overall_timeout,
                )
                await self.emit(
                    c.DigitsCollected(
                        call_id=cmd.call_id,
                        leg_id=cmd.leg_id,
                        command_id=cmd.id,
                        digits=digits,
                        timed_out=timed_out,
                    )
                )
            case c.Record():
                await d.record(
                    name=cmd.name,
                    leg_id=cmd.leg_id,
                    bridge_id=cmd.bridge_id,
                    fmt=cmd.format,
                    max_duration=cmd.max_duration,
                    beep=cmd.beep,
                )
            case c.StopRecording():
                await d.stop_recording(cmd.name)
            case c.Bridge():
                await d.bridge(cmd.leg_ids, cmd.bridge_id)
            case c.Originate():
                variables = dict(cmd.variables)
                if cmd.call_id:
                    variables.setdefault("CC_CALL_ID", cmd.call_id)
                await d.originate(
                    leg_id=cmd.leg_id,
                    destination=cmd.destination,
                    kind=cmd.kind,
                    caller_id_number=cmd.caller_id_number,
                    caller_id_name=cmd.caller_id_name,
                    timeout=cmd.timeout,
                    variables=variables,
                    join_bridge=cmd.bridge_id,
                )
            case c.Transfer(mode=c.TransferMode.BLIND):
                await d.blind_transfer(cmd.leg_id, cmd.destination, cmd.kind)
            case c.Transfer():
                await d.consult(
                    cmd.leg_id,
                    destination=cmd.destination,
                    kind=cmd.kind,
                    new_leg_id=cmd.new_leg_id or cmd.id,
                )
            case c.CompleteTransfer():
                await d.complete_consult(cmd.leg_id)
            case c.CancelTransfer():
                await d.cancel_consult(cmd.leg_id)
            case c.Conference():
                await d.add_to_call(
                    cmd.leg_id,
                    destination=cmd.destination,
                    kind=cmd.kind,
                    new_leg_id=cmd.new_leg_id,
                )
            case c.Pickup():
                await d.add_to_call(
                    cmd.ringing_leg_id,
                    destination=cmd.destination,
                    new_leg_id=cmd.new_leg_id,
                    replace_leg=cmd.ringing_leg_id,
                    role=c.LegRole.AGENT,
                )
            case c.Listen() | c.Whisper():
                await d.snoop(
                    cmd.agent_leg_id,
                    destination=cmd.supervisor,
                    kind=cmd.kind,
                    new_leg_id=cmd.new_leg_id,
                    whisper=isinstance(cmd, c.Whisper),
                )
            case c.Barge():
                await d.add_to_call(
                    cmd.agent_leg_id,
                    destination=cmd.supervisor,
                    kind=cmd.kind,
                    new_leg_id=cmd.new_leg_id,
                    role=c.LegRole.SUPERVISOR,
                )
            case c.Intercept():
                await d.add_to_call(
                    cmd.agent_leg_id,
                    destination=cmd.supervisor,
                    kind=cmd.kind,
                    new_leg_id=cmd.new_leg_id,
                    replace_leg=cmd.agent_leg_id,
                    role=c.LegRole.SUPERVISOR,
                )
            case c.Hold():
                await d.hold(cmd.leg_id)
            case c.Unhold():
                await d.unhold(cmd.leg_id)
            case _:
                raise CommandRejected(f"{cmd.TYPE} is not supported by the {d.kind} driver yet")

    async def run_reporting(self, cmd: c.Command, *, internal: bool = False) -> bool:
        """Execute; report a failure as a ``CommandFailed`` event instead of raising
        (except ``SwitchUnavailable``, which the caller retries). ``internal`` commands
        (the controller's own policy) hanging up a leg that is already gone are not
        failures: the leg went away by itself."""
        try:
            await self.run(cmd)
            return True
        except NoSuchCall as exc:
            if internal and isinstance(cmd, c.Hangup):
                logger.debug("%s: leg %s already gone", cmd.TYPE, cmd.leg_id)
                return True
            return await self._failed(cmd, exc)
        except CommandRejected as exc:
            return await self._failed(cmd, exc)
        except TimeoutError:
            await self.emit(
                c.CommandFailed(
                    command_id=cmd.id, command_type=cmd.TYPE, error="Timeout", reason="timed out"
                )
            )
            return False

    async def _failed(self, cmd: c.Command, exc: SwitchControlError) -> bool:
        logger.warning("%s %s failed: %s", cmd.TYPE, cmd.id, exc)
        await self.emit(
            c.CommandFailed(
                command_id=cmd.id,
                command_type=cmd.TYPE,
                error=exc.__class__.__name__,
                reason=str(exc),
            )
        )
        return False
