"""Event construction: the header lists FreeSWITCH 1.11 puts in each event.

Header names, their order, repeated names and the ``Event-Calling-*`` values
follow the captures in ``shared/freeswitch-captures`` (FreeSWITCH 1.11.3).
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Iterable

from .channels import STATE_NUMBERS, Channel
from .wire import Headers

# Event-Calling-File / -Function / -Line-Number per event source.
CALLING: dict[str, tuple[str, str, int]] = {
    "CHANNEL_STATE": ("switch_channel.c", "switch_channel_perform_set_running_state", 2409),
    "CODEC_REAL_READ": ("switch_core_codec.c", "switch_core_session_set_real_read_codec", 189),
    "CODEC_WRITE": ("switch_core_codec.c", "switch_core_session_set_write_codec", 471),
    "CODEC_READ": ("switch_core_codec.c", "switch_core_session_set_read_codec", 300),
    "CHANNEL_CREATE": ("switch_core_state_machine.c", "switch_core_session_run", 626),
    "CHANNEL_ORIGINATE": ("switch_core_state_machine.c", "switch_core_session_run", 632),
    "CHANNEL_CALLSTATE": ("switch_channel.c", "switch_channel_perform_set_callstate", 302),
    "CHANNEL_EXECUTE": ("switch_core_session.c", "switch_core_session_exec", 2949),
    "CHANNEL_EXECUTE_COMPLETE": ("switch_core_session.c", "switch_core_session_exec", 2972),
    "BRIDGE_EXECUTE_A": ("switch_ivr_bridge.c", "uuid_bridge_on_soft_execute", 1236),
    "BRIDGE_EXECUTE_B": ("switch_ivr_bridge.c", "uuid_bridge_on_soft_execute", 1243),
    "CHANNEL_PARK": ("switch_ivr.c", "switch_ivr_park", 1002),
    "CHANNEL_UNPARK": ("switch_ivr.c", "switch_ivr_park", 1213),
    "CHANNEL_ANSWER": ("switch_channel.c", "switch_channel_perform_mark_answered", 3848),
    "CHANNEL_HANGUP": ("switch_channel.c", "switch_channel_perform_hangup", 3447),
    "CHANNEL_HANGUP_COMPLETE": (
        "switch_core_state_machine.c",
        "switch_core_session_reporting_state",
        943,
    ),
    "CHANNEL_DESTROY": ("switch_core_session.c", "switch_core_session_perform_destroy", 1588),
    "CHANNEL_OUTGOING": ("switch_core_session.c", "switch_core_session_outgoing_channel", 768),
    "CHANNEL_PROGRESS": ("switch_channel.c", "switch_channel_perform_mark_ring_ready_value", 3507),
    "CHANNEL_BRIDGE": ("switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", 1689),
    "CHANNEL_UNBRIDGE": ("switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", 1879),
    "CHANNEL_HOLD": ("switch_ivr.c", "switch_ivr_hold", 1558),
    "CHANNEL_UNHOLD": ("switch_ivr.c", "switch_ivr_unhold", 1638),
    "CALL_UPDATE_RECV": ("mod_sofia.c", "sofia_receive_message", 2133),
    "CALL_UPDATE_FLIP": ("switch_channel.c", "switch_channel_flip_cid", 3279),
    "PLAYBACK_START": ("switch_ivr_play_say.c", "switch_ivr_play_file", 1649),
    "PLAYBACK_STOP": ("switch_ivr_play_say.c", "switch_ivr_play_file", 2023),
    "RECORD_START": ("switch_ivr_async.c", "record_callback", 1482),
    "RECORD_STOP": ("switch_ivr_async.c", "send_record_stop_event", 1241),
    "MEDIA_BUG_START": ("switch_core_media_bug.c", "switch_core_media_bug_add", 1014),
    "MEDIA_BUG_STOP": ("switch_core_media_bug.c", "switch_core_media_bug_destroy", 84),
    "DTMF": ("switch_channel.c", "switch_channel_dequeue_dtmf", 678),
    "PRIVATE_COMMAND": ("switch_ivr.c", "switch_ivr_parse_next_event", 804),
    "COMMAND_BROADCAST": ("switch_ivr_async.c", "switch_ivr_broadcast", 5732),
    "API": ("switch_loadable_module.c", "switch_api_execute", 3140),
    "BACKGROUND_JOB": ("mod_event_socket.c", "api_exec", 1580),
    "PRESENCE_IN": ("switch_channel.c", "switch_channel_perform_presence", 806),
    "HEARTBEAT": ("switch_core.c", "send_heartbeat", 95),
    "RE_SCHEDULE": ("switch_scheduler.c", "switch_scheduler_execute", 73),
    "REGISTER": ("sofia_reg.c", "sofia_reg_handle_register_token", 2059),
    "UNREGISTER": ("sofia_reg.c", "sofia_reg_handle_register_token", 2213),
    "PRESENCE_UNREGISTER": ("sofia_reg.c", "sofia_reg_handle_register_token", 2103),
    "CHANNEL_DATA": ("mod_event_socket.c", "parse_command", 2029),
    "UUID_DUMP": ("mod_commands.c", "uuid_dump_function", 6495),
    "CONF_NEW": ("mod_conference.c", "conference_new", 3848),
    "CONF_DESTROY": ("mod_conference.c", "conference_thread_run", 863),
    "CONF_PRESENCE": ("mod_conference.c", "conference_send_presence", 3870),
    "CONF_ADD": ("conference_member.c", "conference_member_add", 962),
    "CONF_DEL": ("conference_member.c", "conference_member_del", 1355),
    "CONF_FLOOR": ("conference_member.c", "conference_member_set_floor_holder", 1158),
    "CONF_MUTE": ("conference_api.c", "conference_api_sub_mute", 339),
    "CONF_UNMUTE": ("conference_api.c", "conference_api_sub_unmute", 492),
    "CONF_HUP": ("conference_api.c", "conference_api_sub_hup", 871),
}

# Events fired with the channel variables (switch_channel_event_set_data); the
# others carry the basic channel data only.
VARIABLE_EVENTS = frozenset(
    {
        "CALL_UPDATE",
        "CHANNEL_ANSWER",
        "CHANNEL_BRIDGE",
        "CHANNEL_CREATE",
        "CHANNEL_DESTROY",
        "CHANNEL_EXECUTE",
        "CHANNEL_EXECUTE_COMPLETE",
        "CHANNEL_HANGUP",
        "CHANNEL_HANGUP_COMPLETE",
        "CHANNEL_HOLD",
        "CHANNEL_ORIGINATE",
        "CHANNEL_PARK",
        "CHANNEL_PROGRESS",
        "CHANNEL_UNBRIDGE",
        "CHANNEL_UNHOLD",
        "CHANNEL_UNPARK",
        "MEDIA_BUG_START",
        "MEDIA_BUG_STOP",
        "PLAYBACK_START",
        "PLAYBACK_STOP",
        "RECORD_START",
        "RECORD_STOP",
        "CHANNEL_DATA",
    }
)


def codec_headers(ch: Channel) -> Headers:
    read = ch.read_codec or ch.codec_spec
    write = ch.codec_spec
    headers: Headers = [
        ("Channel-Read-Codec-Name", read[0]),
        ("Channel-Read-Codec-Rate", read[1]),
        ("Channel-Read-Codec-Bit-Rate", read[2]),
    ]
    if ch.write_codec_set:
        headers += [
            ("Channel-Write-Codec-Name", write[0]),
            ("Channel-Write-Codec-Rate", write[1]),
            ("Channel-Write-Codec-Bit-Rate", write[2]),
        ]
    return headers


class Event:
    """An event about to be sent: ordered header pairs (repeats allowed) and a body."""

    __slots__ = ("body", "event_id", "headers", "name", "subclass", "uuid")

    def __init__(self, headers: Headers, body: str | None = None, *, event_id: str = "") -> None:
        self.headers = headers
        self.body = body
        first: dict[str, str] = {}
        for key, value in headers:
            if isinstance(value, str):
                first[key] = value  # last value wins, like the client's parser
        self.name = first.get("Event-Name", "")
        self.subclass = first.get("Event-Subclass", "")
        self.uuid = first.get("Unique-ID", "")
        self.event_id = event_id or self.name  # what subscriptions match (nameless events too)

    def get(self, name: str) -> str | None:
        value = None
        for key, val in self.headers:
            if key == name and isinstance(val, str):
                value = val
        return value

    def __repr__(self) -> str:
        return f"<Event {self.name} {self.subclass or ''}{self.uuid}>"


class EventFactory:
    """Builds events with the base headers of this (fake) FreeSWITCH."""

    def __init__(
        self,
        core_uuid: str,
        *,
        hostname: str = "vm",
        ipv4: str = "192.0.2.2",
        ipv6: str = "fd00::2",
        first_sequence: int = 1,
    ) -> None:
        self.core_uuid = core_uuid
        self.hostname = hostname
        self.ipv4 = ipv4
        self.ipv6 = ipv6
        self.sequence = first_sequence - 1

    def next_sequence(self) -> str:
        self.sequence += 1
        return str(self.sequence)

    def base(self, name: str, calling: str, *, subclass: str | None = None) -> Headers:
        file, function, line = CALLING[calling]
        stamp = time.time()
        local = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(stamp))
        headers: Headers = []
        if subclass is not None:
            headers.append(("Event-Subclass", subclass))
        headers += [
            ("Event-Name", name),
            ("Core-UUID", self.core_uuid),
            ("FreeSWITCH-Hostname", self.hostname),
            ("FreeSWITCH-Switchname", self.hostname),
            ("FreeSWITCH-IPv4", self.ipv4),
            ("FreeSWITCH-IPv6", self.ipv6),
            ("Event-Date-Local", local),
            ("Event-Date-GMT", email.utils.formatdate(stamp, usegmt=True)),
            ("Event-Date-Timestamp", str(int(stamp * 1_000_000))),
            ("Event-Calling-File", file),
            ("Event-Calling-Function", function),
            ("Event-Calling-Line-Number", str(line)),
            ("Event-Sequence", self.next_sequence()),
        ]
        return headers

    def channel_data(
        self,
        ch: Channel,
        *,
        variables: bool,
        hangup_cause: bool = True,
        prefix: str = "Caller",
        profiles: bool = True,
    ) -> Headers:
        headers: Headers = [
            ("Channel-State", ch.running_state),
            ("Channel-Call-State", ch.callstate),
            ("Channel-State-Number", str(STATE_NUMBERS[ch.state])),
            ("Channel-Name", ch.name),
            ("Unique-ID", ch.uuid),
            ("Call-Direction", ch.direction),
            ("Presence-Call-Direction", ch.direction),
            ("Channel-HIT-Dialplan", "true" if ch.hit_dialplan else "false"),
        ]
        if ch.presence_id:
            headers.append(("Channel-Presence-ID", ch.presence_id))
        headers += [("Channel-Call-UUID", ch.call_uuid), ("Answer-State", ch.answer_state)]
        if ch.hangup_cause and hangup_cause:
            headers.append(("Hangup-Cause", ch.hangup_cause))
        if ch.codec:
            headers += codec_headers(ch)
        if not profiles:
            return headers
        if ch.profile_set:
            headers += ch.profile.headers(prefix)
        if ch.other_profile is not None:
            headers.append(("Other-Type", ch.other_type))
            headers += ch.other_profile.headers("Other-Leg", with_index=False)
        if variables:
            headers += [("variable_" + key, value) for key, value in ch.variables.items()]
        return headers

    def channel(
        self,
        name: str,
        ch: Channel,
        calling: str | None = None,
        *,
        pre: Iterable[tuple[str, str]] = (),
        post: Iterable[tuple[str, str]] = (),
        variables: bool | None = None,
        subclass: str | None = None,
    ) -> Event:
        headers = self.base(name, calling or name, subclass=subclass)
        pre = list(pre)
        headers += pre
        with_vars = name in VARIABLE_EVENTS if variables is None else variables
        hangup_in_core = not any(key == "Hangup-Cause" for key, _ in pre)
        if name == "CHANNEL_HANGUP_COMPLETE":
            hangup_in_core = True  # FreeSWITCH repeats it (pre + channel data)
        headers += self.channel_data(ch, variables=with_vars, hangup_cause=hangup_in_core)
        headers += list(post)
        return Event(headers)

    def system(
        self,
        name: str,
        calling: str,
        headers: Iterable[tuple[str, str]] = (),
        *,
        subclass: str | None = None,
        body: str | None = None,
    ) -> Event:
        return Event(self.base(name, calling, subclass=subclass) + list(headers), body)
