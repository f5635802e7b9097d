"""What the call-center driver uses beyond the captured scenarios, modelled on FreeSWITCH 1.11.

The captures (``shared/freeswitch-captures``) do not exercise these; their behaviour follows
FreeSWITCH's sources (mod_dptools ``inline`` dialplan, ``switch_ivr_session_transfer``,
``switch_channel_api_on``, mod_conference ``hold``/``recording``) and reuses the event
shapes the captures do show (CHANNEL_EXECUTE/COMPLETE, CHANNEL_STATE, CALLSTATE,
conference::maintenance with the conference and member headers):

* the ``inline`` dialplan: ``uuid_transfer <uuid> <app:arg,app:arg> inline`` and
  ``originate <url> <app:arg,...> inline`` run those applications in order; when they run
  out the channel hangs up, unless the last one parked it;
* a transfer interrupts whatever the channel runs (park, a playback, a conference: the
  member leaves first) and the rest of the old extension never runs;
* ``api_on_originate`` on an originated leg: the api command runs when the leg is created;
  ``api_reporting_hook`` on any leg runs when it has hung up, ``${var}`` expanded from its
  variables (``hangup_cause_q850``, ``end_epoch`` are set as the CDR variables are). Like
  ``api_hook`` in ``switch_core_state_machine.c``, the command's API event is the channel's
  own data: no ``Event-Name`` (a CHANNEL_DATA event to subscriptions), the channel headers
  and variables, then ``API-Command`` / ``API-Command-Argument`` (seen on FreeSWITCH 1.11,
  ``extra/driver-originate-reconnect.md``; its exact header order was not captured);
* the ``say`` application (completes without media events);
* recordings (``uuid_record``, conference ``recording``) are written as WAV files when they
  stop, so a test can fetch them;
* a conference stops its recordings when its last member leaves.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid as uuidlib
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .channels import Channel, Profile, now_us
from .conference import Conference, Member
from .events import CALLING, Event
from .outbound import OutboundSocket

# Event-Calling-* of the events added here (mod_conference 1.11 sources, not captured)
CALLING.update(
    {
        "CONF_HOLD": ("conference_api.c", "conference_api_sub_hold", 1040),
        "CONF_UNHOLD": ("conference_api.c", "conference_api_sub_unhold", 1093),
        "CONF_RECORD_START": ("conference_record.c", "conference_record_thread_run", 251),
        "CONF_RECORD_STOP": ("conference_record.c", "conference_record_thread_run", 335),
    }
)


# hangup_cause_q850 of the causes the fake produces (FreeSWITCH's own causes: 16)
Q850 = {
    "UNALLOCATED_NUMBER": 1,
    "NO_ROUTE_DESTINATION": 3,
    "NORMAL_CLEARING": 16,
    "USER_BUSY": 17,
    "NO_USER_RESPONSE": 18,
    "NO_ANSWER": 19,
    "SUBSCRIBER_ABSENT": 20,
    "CALL_REJECTED": 21,
    "DESTINATION_OUT_OF_ORDER": 27,
    "NORMAL_TEMPORARY_FAILURE": 41,
    "INCOMPATIBLE_DESTINATION": 88,
}


@dataclass
class ConferenceRecording:
    path: str
    started: float = field(default_factory=time.monotonic)


def parse_inline(dest: str) -> list[tuple[str, str]]:
    """``app:arg,app2`` (or ``m:^:app:arg^app2`` with another delimiter) -> [(app, arg)]."""
    delim = ","
    if len(dest) > 3 and dest.startswith("m:") and dest[3] == ":":
        delim, dest = dest[2], dest[4:]
    apps = []
    for item in dest.split(delim):
        app, _, data = item.strip().partition(":")
        if app:
            apps.append((app, data))
    return apps


def write_wav(path: str, seconds: float) -> None:
    """A silent 8 kHz mono WAV file (what a recording of a quiet call looks like)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    frames = max(800, int(8000 * min(seconds, 5.0)))
    with wave.open(str(target), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x00" * frames)


class PlatformCalls(OutboundSocket):
    """Inline dialplan, transfers that interrupt, api_on_originate, recordings as files."""

    conference_record_paths: dict[str, dict[str, ConferenceRecording]]
    record_started: dict[tuple[str, str], float]

    def conference_recordings(self, conf: Conference) -> dict[str, ConferenceRecording]:
        return self.conference_record_paths.setdefault(conf.uuid, {})

    # -- channel creation -------------------------------------------------------------------

    def create_channel(
        self,
        *,
        uuid: str | None,
        name: str,
        direction: str,
        profile: Profile,
        variables: dict[str, Any],
        **attrs: Any,
    ) -> Channel:
        ch = super().create_channel(
            uuid=uuid,
            name=name,
            direction=direction,
            profile=profile,
            variables=variables,
            **attrs,
        )
        command = ch.get_var("api_on_originate")
        if direction == "outbound" and command:
            self.spawn(self.run_api(command))  # type: ignore[attr-defined]
        return ch

    def mark_hangup(self, ch: Channel, cause: str) -> bool:
        if not super().mark_hangup(ch, cause):
            return False
        self.set_var(ch, "hangup_cause_q850", str(Q850.get(cause, 16)))
        return True

    def reporting(self, ch: Channel) -> None:
        """CDR variables, then ``api_reporting_hook`` (expanded with the channel's variables)."""
        self.set_var(ch, "end_epoch", str(int(time.time())))
        hook = ch.get_var("api_reporting_hook")
        if hook:  # FreeSWITCH runs it in CS_REPORTING, before CHANNEL_HANGUP_COMPLETE
            name, _, arg = hook.replace("::", " ", 1).partition(" ")
            arg = re.sub(r"\$\{(\w+)\}", lambda m: ch.get_var(m.group(1)) or "", arg).strip()
            event = self.hook_event(ch, name, arg)
            self.spawn(self.run_api(f"{name} {arg}", event=event))  # type: ignore[attr-defined]
        super().reporting(ch)

    def hook_event(self, ch: Channel, command: str, arg: str) -> Event:
        """The nameless event a hook's api command fires (the channel's data + the command)."""
        base = [item for item in self.events.base("", "API") if item[0] != "Event-Name"]
        headers = base + self.events.channel_data(ch, variables=True)
        headers.append(("API-Command", command))
        if arg:
            headers.append(("API-Command-Argument", arg))
        return Event(headers, event_id="CHANNEL_DATA")

    # -- inline dialplan --------------------------------------------------------------------

    async def run_dialplan(self, ch: Channel) -> None:
        if ch.profile.dialplan != "inline":
            await super().run_dialplan(ch)
            return
        generation = ch.transfers
        self.run_state(ch, "CS_EXECUTE")
        for app, data in parse_inline(ch.profile.destination_number):
            if not ch.alive or ch.transfers != generation:
                break
            await self.run_app(ch, app, data, str(uuidlib.uuid4()))
        if ch.transfers != generation:
            return  # the new extension runs now
        if ch.alive and ch.app != "park":  # the extension ran out of applications
            self.mark_hangup(ch, "NORMAL_CLEARING")
        self.finish_if_hung_up(ch)

    async def transfer_inline(self, ch: Channel, dest: str, context: str) -> None:
        """``uuid_transfer <uuid> <dest> inline``: leave what runs, then run ``dest``."""
        ch.transfers += 1
        await self.interrupt(ch)
        if not ch.alive:
            self.finish_if_hung_up(ch)
            return
        self.unpark(ch)
        context = context or ch.profile.context or "default"
        source = self.transfer_source("bl_xfer", f"{dest}/{context}/inline")
        self._add_transfer_history(ch, source)
        ch.unlink()
        ch.new_profile(
            destination_number=dest,
            transfer_source=source,
            rdnis=ch.profile.destination_number,
            dialplan="inline",
            context=context,
        )
        ch.profile.times["transfer"] = now_us()
        ch.state = "CS_ROUTING"
        await self._reroute(ch)

    async def interrupt(self, ch: Channel) -> None:
        """Stop the running application (a transfer breaks out of it) and wait for it."""
        conf = self.conferences.get(ch.conference) if ch.conference else None
        if conf is not None:
            member = next((m for m in conf.members if m.channel is ch), None)
            if member is not None:
                self.kick(member)
        if ch.playback_stop is not None and not ch.playback_stop.done():
            ch.playback_stop.set_result(None)
        for waiter in ch.dtmf_waiters:
            if not waiter.done():
                waiter.cancel()
        for _ in range(200):
            if not ch.running_apps or not ch.alive:
                break
            await asyncio.sleep(0)

    def break_media(self, ch: Channel, flush: bool) -> None:
        """``uuid_break``: stop the playback; with ``all`` drop the queued applications too."""
        if flush:
            ch.flushes += 1
        if ch.playback_stop is not None and not ch.playback_stop.done():
            ch.playback_stop.set_result(None)

    async def app_say(self, ch: Channel, data: str) -> str | None:
        await self.media_pause(0.5)
        return None

    # -- recordings -------------------------------------------------------------------------

    def record_start(self, ch: Channel, path: str) -> None:
        self.record_started[(ch.uuid, path)] = time.monotonic()
        super().record_start(ch, path)

    def record_stop(self, ch: Channel, path: str, cause: str = "success-maxtime") -> bool:
        paths = list(ch.recordings) if path == "all" else [path]
        stopped = super().record_stop(ch, path, cause)
        if stopped:
            for item in paths:
                begin = self.record_started.pop((ch.uuid, item), time.monotonic())
                write_wav(item, time.monotonic() - begin)
        return stopped

    def conference_record_start(self, conf: Conference, path: str) -> None:
        self.conference_recordings(conf)[path] = ConferenceRecording(path)
        self.conf_event(conf, "CONF_RECORD_START", [("Action", "start-recording"), ("Path", path)])

    def conference_record_stop(self, conf: Conference, path: str) -> int:
        recordings = self.conference_recordings(conf)
        paths = list(recordings) if path == "all" else [p for p in recordings if p == path]
        for item in paths:
            rec = recordings.pop(item)
            elapsed = time.monotonic() - rec.started
            write_wav(item, elapsed)
            samples = int(elapsed * 8000)
            self.conf_event(
                conf,
                "CONF_RECORD_STOP",
                [
                    ("Action", "stop-recording"),
                    ("Path", item),
                    ("Other-Recordings", "true" if recordings else "false"),
                    ("Samples-Out", str(samples)),
                    ("Samplerate", "8000"),
                    ("Milliseconds-Elapsed", str(samples // 8)),
                ],
            )
        return len(paths)

    def leave_conference(self, conf: Conference, member: Member) -> None:
        last = len(conf.members) == 1
        if last:  # the recorder stops once nobody is left to record
            self.conference_record_stop(conf, "all")
        super().leave_conference(conf, member)
