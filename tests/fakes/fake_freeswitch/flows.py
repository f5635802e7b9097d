"""Call flows of the fake switch: inbound calls, dialplan, applications, hangup.

Each flow emits the events, in the order, that the captures show for it.
"""

from __future__ import annotations

import asyncio
import re
import uuid as uuidlib

from .channels import Channel, Profile
from .engine import Engine
from .sipvars import sip_inbound_vars

# The lab dialplan (context ``public``): 9999 -> tone then hangup, conf-NAME ->
# conference, sock -> outbound socket, everything else -> park.
TONE_9999 = "tone_stream://%(500,500,600);loops=4"
HOLD_MUSIC = "tone_stream://%(2000,4000,440,480);loops=-1"
_CONF = re.compile(r"^conf-(.+)$")


class Flows(Engine):
    """Inbound calls, dialplan, park, media applications, DTMF, recording, hangup."""

    outbound_target: tuple[str, int] | None = None

    # -- inbound calls ------------------------------------------------------------------

    def inbound_call(
        self,
        caller: str,
        callee: str,
        *,
        caller_name: str = "",
        uuid: str | None = None,
        network_addr: str = "127.0.0.1",
        port: int = 5061,
        user_agent: str = "SIPp-lab-caller",
    ) -> Channel:
        """A SIP call arrives from ``caller`` for ``callee`` and runs the dialplan."""
        name = f"sofia/lab/{caller}@{network_addr}:{port}"
        profile = Profile(
            direction="inbound",
            username=caller,
            dialplan="XML",
            caller_id_name=caller_name,
            caller_id_number=caller,
            orig_caller_id_name=caller_name,
            orig_caller_id_number=caller,
            network_addr=network_addr,
            ani=caller,
            destination_number=callee,
            source="mod_sofia",
            context="public",
        )
        call_id = f"{self.session_counter + 1}-{port}@{network_addr}"
        variables = sip_inbound_vars(caller, callee, caller_name, network_addr, port, call_id)
        variables["sip_user_agent"] = user_agent
        ch = self.create_channel(
            uuid=uuid, name=name, direction="inbound", profile=profile, variables=variables
        )
        ch.profile_set = False
        self.run_state(ch, "CS_NEW")
        ch.profile_set = True
        self.codec_events(ch)
        self.run_state(ch, "CS_INIT")
        ch.state = "CS_ROUTING"
        self.channel_event("CHANNEL_CREATE", ch)
        ch.running_state = "CS_ROUTING"
        self.set_callstate(ch, "RINGING")
        self.run_state(ch, "CS_ROUTING")
        self.spawn(self.run_dialplan(ch))
        return ch

    async def run_dialplan(self, ch: Channel) -> None:
        dest = ch.profile.destination_number
        self.run_state(ch, "CS_EXECUTE")
        if dest == "9999":
            await self.dialplan_tone(ch)
        elif (match := _CONF.match(dest)) is not None:
            await self.dialplan_conference(ch, match.group(1))
        elif dest == "sock":
            await self.dialplan_socket(ch)
        else:
            await self.park(ch)

    async def dialplan_tone(self, ch: Channel) -> None:
        apps = [("answer", ""), ("playback", TONE_9999), ("hangup", "NORMAL_CLEARING")]
        await self.run_apps(ch, [(app, data, str(uuidlib.uuid4())) for app, data in apps])

    async def dialplan_conference(self, ch: Channel, name: str) -> None:  # pragma: no cover
        raise NotImplementedError  # provided by the conference mixin

    async def dialplan_socket(self, ch: Channel) -> None:  # pragma: no cover
        raise NotImplementedError  # provided by the outbound-socket mixin

    # -- applications ---------------------------------------------------------------------

    async def park(self, ch: Channel, app_uuid: str | None = None) -> None:
        """``park``: CHANNEL_EXECUTE park, CHANNEL_PARK; stays until hangup or bridge."""
        post = self.start_app(ch, "park", "", app_uuid or str(uuidlib.uuid4()))
        ch.app, ch.app_post = "park", post
        self.channel_event("CHANNEL_PARK", ch)

    def unpark(self, ch: Channel) -> None:
        """Leave park: CHANNEL_UNPARK + the park's EXECUTE_COMPLETE."""
        if ch.app != "park":
            return
        self.channel_event("CHANNEL_UNPARK", ch)
        response = ch.get_var("current_application_response") or "_none_"
        self.complete_app(ch, ch.app_post, response)
        ch.app, ch.app_post = "", []

    async def run_apps(self, ch: Channel, apps: list[tuple[str, str, str | None]]) -> None:
        """Run applications in sequence; finish the teardown if the call ended meanwhile."""
        for app, data, app_uuid in apps:
            if not ch.alive:
                break
            await self.run_app(ch, app, data, app_uuid)
        self.finish_if_hung_up(ch)

    def finish_if_hung_up(self, ch: Channel) -> None:
        if ch.hangup_cause and not ch.gone and ch.running_apps == 0 and not ch.bridged_to:
            self.finish_unbridged(ch)

    async def run_app(
        self,
        ch: Channel,
        app: str,
        data: str,
        app_uuid: str | None,
        *,
        lock_headers: list[tuple[str, str]] | None = None,
    ) -> None:
        """Execute one dialplan application on ``ch`` (sendmsg execute, dialplan, broadcast).

        With ``lock_headers`` (event-lock), a PRIVATE_COMMAND follows the completion.
        """
        if not ch.alive:
            return
        if app == "park":
            await self.park(ch, app_uuid)
            return
        handler = getattr(self, "app_" + app, None)
        post = self.start_app(ch, app, data, app_uuid)
        ch.running_apps += 1
        response = "_none_"
        try:
            if handler is not None:
                result = await handler(ch, data)
                response = result or "_none_"
        finally:
            ch.running_apps -= 1
        if not ch.gone:
            self.complete_app(ch, post, response)
            if lock_headers is not None:
                self.private_command(ch, lock_headers)

    def private_command(self, ch: Channel, headers: list[tuple[str, str]]) -> None:
        """PRIVATE_COMMAND after an event-locked execute.

        ``headers`` are those of the queued command (a sendmsg's lines, or the COMMAND
        event uuid_broadcast queued): they come first, then the event's own base headers.
        """
        event = self.events.channel("PRIVATE_COMMAND", ch, variables=False)
        event.headers[:0] = headers
        self.emit(event)

    async def app_answer(self, ch: Channel, data: str) -> str | None:
        self.answer(ch)
        return None

    async def app_hangup(self, ch: Channel, data: str) -> str | None:
        self.mark_hangup(ch, data or "NORMAL_CLEARING")
        return None

    async def app_playback(self, ch: Channel, data: str) -> str | None:
        return await self.play_file(ch, data)

    async def play_file(self, ch: Channel, path: str) -> str:
        kind = path.split("://", 1)[0] if "://" in path else "file"
        post = [("Playback-File-Type", kind), ("Playback-File-Path", path)]
        self.channel_event("PLAYBACK_START", ch, post=post)
        stop = ch.playback_stop = asyncio.get_running_loop().create_future()
        seconds = media_seconds(path)
        try:
            timeout = None if seconds is None else seconds * self.time_scale
            await asyncio.wait_for(asyncio.shield(stop), timeout)
        except TimeoutError:
            pass
        ch.playback_stop = None
        status = "break" if stop.done() else "done"
        for name, value in (("playback_seconds", "1"), ("playback_ms", "1000")):
            self.set_var(ch, name, value)
        self.channel_event("PLAYBACK_STOP", ch, post=[*post, ("Playback-Status", status)])
        return "FILE PLAYED"

    async def app_play_and_get_digits(self, ch: Channel, data: str) -> str | None:
        args = data.split()
        # min max tries timeout terminators file invalid_file var_name regexp digit_timeout
        max_digits = int(args[1]) if len(args) > 1 else 1
        timeout_ms = int(args[3]) if len(args) > 3 else 5000
        terminators = args[4] if len(args) > 4 else "#"
        prompt = args[5] if len(args) > 5 else ""
        var_name = args[7] if len(args) > 7 else ""
        ch.app_collects_dtmf = True
        try:
            if prompt:
                await self.play_file(ch, prompt)
            digits = ""
            while ch.alive and len(digits) < max_digits:
                digit = await self.next_dtmf(ch, timeout_ms / 1000)
                if digit is None or digit in terminators:
                    break
                digits += digit
        finally:
            ch.app_collects_dtmf = False
            ch.dtmf_buffer.clear()
        if var_name and ch.alive:
            self.set_var(ch, var_name, digits)
        return None

    async def next_dtmf(self, ch: Channel, timeout: float) -> str | None:
        if ch.dtmf_buffer:
            return ch.dtmf_buffer.pop(0)
        waiter: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        ch.dtmf_waiters.append(waiter)
        try:
            return await asyncio.wait_for(waiter, max(timeout * self.time_scale, 0.0) or None)
        except (TimeoutError, asyncio.CancelledError):
            return None
        finally:
            if waiter in ch.dtmf_waiters:
                ch.dtmf_waiters.remove(waiter)

    def dtmf(self, ch: Channel, digit: str, source: str) -> None:
        """One DTMF digit reaches the channel (DTMF event, then whoever waits for it)."""
        duration = "2240" if source == "RTP" else "2000"
        post = [("DTMF-Digit", digit), ("DTMF-Duration", duration), ("DTMF-Source", source)]
        self.channel_event("DTMF", ch, post=post)
        waiters = [w for w in ch.dtmf_waiters if not w.done()]
        if waiters:
            waiters[0].set_result(digit)
        elif ch.app_collects_dtmf:
            ch.dtmf_buffer.append(digit)

    # -- recording ------------------------------------------------------------------------

    def record_start(self, ch: Channel, path: str) -> None:
        ch.recordings.append(path)
        self.channel_event("RECORD_START", ch, post=[("Record-File-Path", path)])
        bug = [("Media-Bug-Function", "session_record"), ("Media-Bug-Target", path)]
        self.channel_event("MEDIA_BUG_START", ch, pre=bug)

    def record_stop(self, ch: Channel, path: str, cause: str = "success-maxtime") -> bool:
        if path not in ch.recordings and path != "all":
            return False
        paths = list(ch.recordings) if path == "all" else [path]
        for item in paths:
            ch.recordings.remove(item)
            post = [("Record-File-Path", item), ("Record-Completion-Cause", cause)]
            self.channel_event("RECORD_STOP", ch, post=post)
            bug = [("Media-Bug-Function", "session_record"), ("Media-Bug-Target", item)]
            self.channel_event("MEDIA_BUG_STOP", ch, pre=bug)
        return True

    # -- hangup ---------------------------------------------------------------------------

    def finish_unbridged(self, ch: Channel) -> None:
        """Teardown of a channel that is not bridged (after CHANNEL_HANGUP)."""
        if ch.gone:
            return
        if ch.playback_stop is not None and not ch.playback_stop.done():
            ch.playback_stop.set_result(None)
        for waiter in ch.dtmf_waiters:
            if not waiter.done():
                waiter.cancel()
        self.unpark(ch)
        for path in list(ch.recordings):
            self.record_stop(ch, path, "success-maxtime")
        self.hangup_states(ch)
        self.reporting(ch)
        self.destroy(ch)

    def remote_hangup(self, ch: Channel, cause: str = "NORMAL_CLEARING") -> None:
        """The far end hangs up (SIP BYE), or ``uuid_kill``/``hupall``."""
        if not ch.alive:
            return
        self.mark_hangup(ch, cause)
        self.continue_hangup(ch)

    def continue_hangup(self, ch: Channel) -> None:
        """Everything after CHANNEL_HANGUP, depending on what the channel is doing."""
        if ch.gone:
            return
        if ch.bridged_to and ch.other is not None:
            self.hangup_bridged(ch, ch.hangup_cause)  # type: ignore[attr-defined]
            return
        if ch.running_apps:
            # the running application stops; its task finishes the teardown
            if ch.playback_stop is not None and not ch.playback_stop.done():
                ch.playback_stop.set_result(None)
            for waiter in ch.dtmf_waiters:
                if not waiter.done():
                    waiter.cancel()
            return
        self.finish_unbridged(ch)

    async def broadcast(self, ch: Channel, path: str, loops: str | None = None) -> None:
        """uuid_broadcast (and hold music): a queued, event-locked playback.

        The PRIVATE_COMMAND afterwards carries the queued COMMAND event's headers.
        """
        queued = [
            *self.events.base("COMMAND", "COMMAND_BROADCAST"),
            ("call-command", "execute"),
            ("execute-app-name", "playback"),
            ("execute-app-arg", path),
            ("event-lock", "true"),
            ("lead-frames", "5"),
        ]
        if loops is not None:
            queued.append(("loops", loops))
        await self.run_app(ch, "playback", path, str(uuidlib.uuid4()), lock_headers=queued)
        self.finish_if_hung_up(ch)


def media_seconds(path: str) -> float | None:
    """How long playing ``path`` takes (None: forever, ``loops=-1`` or a local stream)."""
    if path.startswith("local_stream://"):
        return None
    loops_match = re.search(r"loops=(-?\d+)", path)
    loops = int(loops_match.group(1)) if loops_match else 1
    if loops < 0:
        return None
    tone = re.search(r"%\((\d+),(\d+)", path)
    if tone is not None:
        return (int(tone.group(1)) + int(tone.group(2))) * loops / 1000
    silence = re.match(r"silence_stream://(\d+)", path)
    if silence is not None:
        return int(silence.group(1)) / 1000
    return 1.0
