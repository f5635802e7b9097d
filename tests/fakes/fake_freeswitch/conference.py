"""mod_conference, the part the captures exercise: join, list, mute, hup, leave."""

from __future__ import annotations

import asyncio
import json
import time
import uuid as uuidlib
from dataclasses import dataclass, field
from typing import Any

from .channels import Channel
from .originate import Originating
from .wire import Headers

L16 = ("L16", "8000", "128000")
FLAGS = "running|answered|enforce_min|dynamic|exit_sound|enter_sound|json_status"
# conference profiles' max-members: the lab's ``default`` sets none, the project's
# ``threeway`` (freeswitch_conf/autoload_configs/conference.conf.xml) 10
MAX_MEMBERS = {"threeway": 10}


@dataclass
class Member:
    id: int
    channel: Channel
    speak: bool = True
    hold: bool = False
    joined: float = field(default_factory=time.monotonic)
    kicked: asyncio.Future[None] | None = None


@dataclass
class Conference:
    name: str
    uuid: str
    members: list[Member] = field(default_factory=list)
    floor: Member | None = None
    created: float = field(default_factory=time.monotonic)
    max_members: int = 0  # 0: the profile sets none (json_list then leaves it out)


def cjson(value: Any, depth: int = 0) -> str:
    """cJSON_Print formatting (tabs, ``"key":\\tvalue``), as ``conference json_list`` uses."""
    if isinstance(value, dict):
        if not value:
            return "{\n" + "\t" * depth + "}"
        inner = ",\n".join(
            "\t" * (depth + 1) + json.dumps(key) + ":\t" + cjson(item, depth + 1)
            for key, item in value.items()
        )
        return "{\n" + inner + "\n" + "\t" * depth + "}"
    if isinstance(value, list):
        return "[" + ", ".join(cjson(item, depth + 1) for item in value) + "]"
    return json.dumps(value)


class Conferencing(Originating):
    """Conferences by name (``conf-NAME`` in the lab dialplan)."""

    conferences: dict[str, Conference]
    next_member_id: int
    # presence event_count per conference name: survives the conference (FreeSWITCH global)
    conference_presence_counts: dict[str, int]

    def _conf_headers(self, conf: Conference) -> Headers:
        return [
            ("Conference-Name", conf.name),
            ("Conference-Domain", "127.0.0.1"),
            ("Conference-Size", str(len(conf.members))),
            ("Conference-Ghosts", "0"),
            ("Conference-Profile-Name", "default"),
            ("Conference-Unique-ID", conf.uuid),
        ]

    def _member_headers(self, conf: Conference, member: Member) -> Headers:
        ch = member.channel
        headers = self.events.channel_data(ch, variables=False)
        return [
            *headers,
            ("Video", "false"),
            ("Hear", "true"),
            ("See", "true"),
            ("Speak", "true" if member.speak else "false"),
            ("Talking", "false"),
            ("Mute-Detect", "false"),
            ("Hold", "true" if member.hold else "false"),
            ("Member-ID", str(member.id)),
            ("Member-Type", "member"),
            ("Member-Ghost", "false"),
            ("Energy-Level", "100"),
            ("Current-Energy", "0"),
        ]

    def conf_event(self, conf: Conference, calling: str, headers: Headers) -> None:
        self.emit(
            self.events.system(
                "CUSTOM",
                calling,
                self._conf_headers(conf) + headers,
                subclass="conference::maintenance",
            )
        )

    def member_event(self, conf: Conference, member: Member, action: str, calling: str) -> None:
        floor = [("Floor", "true" if conf.floor is member else "false")]
        self.conf_event(
            conf, calling, floor + self._member_headers(conf, member) + [("Action", action)]
        )

    def conf_presence(self, conf: Conference) -> None:
        count = len(conf.members)
        headers: Headers = [
            ("proto", "conf"),
            ("login", conf.name),
            ("from", f"{conf.name}@127.0.0.1"),
            ("event_type", "presence"),
            ("alt_event_type", "dialog"),
            ("event_count", str(self.conference_presence_counts.get(conf.name, 0))),
            ("unique-id", conf.name),
        ]
        self.conference_presence_counts[conf.name] = (
            self.conference_presence_counts.get(conf.name, 0) + 1
        )
        if count == 0:
            headers += [
                ("force-status", "Inactive"),
                ("channel-state", "CS_HANGUP"),
                ("answer-state", "terminated"),
                ("call-direction", "inbound"),
            ]
        else:
            status = f"Active ({count} caller{'s' if count > 1 else ''})"
            headers += [
                ("force-status", status),
                ("channel-state", "CS_ROUTING"),
                ("answer-state", "early" if count == 1 else "confirmed"),
                ("presence-call-direction", "outbound" if count == 1 else "inbound"),
            ]
        self.emit(self.events.system("PRESENCE_IN", "CONF_PRESENCE", headers))

    async def dialplan_conference(self, ch: Channel, name: str) -> None:
        apps = [("answer", ""), ("conference", f"{name}@default")]
        await self.run_apps(ch, [(app, data, str(uuidlib.uuid4())) for app, data in apps])
        if ch.alive:  # the dialplan ran out of applications: FreeSWITCH hangs up
            self.mark_hangup(ch, "NORMAL_CLEARING")
            self.finish_unbridged(ch)

    async def app_conference(self, ch: Channel, data: str) -> str | None:
        name, _, profile = data.partition("@")
        conf = self.conferences.get(name)
        if conf is None:
            conf = Conference(name, str(uuidlib.uuid4()), max_members=MAX_MEMBERS.get(profile, 0))
            self.conferences[name] = conf
            self.conf_event(conf, "CONF_NEW", [("Action", "conference-create")])
        ch.read_codec = L16
        self.codec_events(ch, real_read=False)
        member = Member(self.next_member_id, ch)
        self.next_member_id += 1
        conf.members.append(member)
        ch.conference = name
        # channel variables mod_conference sets on a member (conference_member_add)
        self.set_var(ch, "conference_name", name)
        self.set_var(ch, "conference_uuid", conf.uuid)
        self.set_var(ch, "conference_member_id", str(member.id))
        self.member_event(conf, member, "add-member", "CONF_ADD")
        self.conf_presence(conf)
        if len(conf.members) == 2 and conf.floor is None:
            conf.floor = member
            floor = [("Action", "floor-change"), ("Old-ID", "none"), *self._conf_headers(conf)]
            floor += [("Floor", "true"), *self._member_headers(conf, member)]
            self.conf_event(conf, "CONF_FLOOR", [*floor, ("New-ID", str(member.id))])
        member.kicked = asyncio.get_running_loop().create_future()
        hangup = asyncio.ensure_future(self.wait_hangup(ch))
        await asyncio.wait([member.kicked, hangup], return_when=asyncio.FIRST_COMPLETED)
        hangup.cancel()
        self.leave_conference(conf, member)
        return None

    def leave_conference(self, conf: Conference, member: Member) -> None:
        ch = member.channel
        if conf.floor is member:
            conf.floor = None
            headers = [("Action", "floor-change"), ("Old-ID", "none"), ("New-ID", "none")]
            self.conf_event(conf, "CONF_FLOOR", headers)
        conf.members.remove(member)
        self.conf_presence(conf)
        self.member_event(conf, member, "del-member", "CONF_DEL")
        ch.read_codec = None
        ch.conference = ""
        self.codec_events(ch, real_read=False)
        if not conf.members:
            self.conf_presence(conf)
            self.conf_event(conf, "CONF_DESTROY", [("Action", "conference-destroy")])
            del self.conferences[conf.name]

    def kick(self, member: Member) -> None:
        if member.kicked is not None and not member.kicked.done():
            member.kicked.set_result(None)

    def find_member(self, conf: Conference, member_id: str) -> Member | None:
        return next((m for m in conf.members if str(m.id) == member_id), None)

    def conference_list_lines(self, conf: Conference) -> str:
        lines = []
        for member in sorted(conf.members, key=lambda m: -m.id):
            ch = member.channel
            flags = (
                "hear"
                + ("|speak" if member.speak else "")
                + ("|floor" if conf.floor is member else "")
            )
            lines.append(
                f"{member.id};{ch.name};{ch.uuid};{ch.profile.caller_id_name or 'Outbound Call'};"
                f"{ch.profile.caller_id_number};{flags};0;0;100\n"
            )
        return "".join(lines)

    def conference_json(self) -> str:
        now = time.monotonic()
        result = []
        for conf in self.conferences.values():
            members = []
            for member in sorted(conf.members, key=lambda m: -m.id):
                ch = member.channel
                flags = {
                    "can_hear": True,
                    "can_see": True,
                    "can_speak": member.speak,
                    "hold": member.hold,
                    "mute_detect": False,
                    "talking": False,
                    "has_video": False,
                    "video_bridge": False,
                    "has_floor": conf.floor is member,
                    "is_moderator": False,
                    "end_conference": False,
                    "mandatory_member_end_conference": False,
                    "pass_digits": False,
                }
                members.append(
                    {
                        "type": "caller",
                        "id": member.id,
                        "flags": flags,
                        "uuid": ch.uuid,
                        "caller_id_name": ch.profile.caller_id_name or "Outbound Call",
                        "caller_id_number": ch.profile.caller_id_number,
                        "join_time": int(now - member.joined),
                        "last_talking": 0,
                        "energy": 100,
                        "volume_in": 0,
                        "volume_out": 0,
                        "output-volume": 0,
                        "input-volume": 0,
                    }
                )
            info: dict[str, Any] = {
                "conference_name": conf.name,
                "member_count": len(conf.members),
                "ghost_count": 0,
                "rate": 8000,
                "run_time": int(now - conf.created),
                "conference_uuid": conf.uuid,
                "canvas_count": 0,
                "max_bw_in": 0,
                "force_bw_in": 0,
                "video_floor_packets": 0,
            }
            for flag in (
                "locked", "destruct", "wait_mod", "audio_always", "running", "answered",
                "enforce_min", "bridge_to", "dynamic", "exit_sound", "enter_sound", "recording",
                "video_bridge", "video_floor_only", "video_rfc4579",
            ):  # fmt: skip
                info[flag] = flag in FLAGS.split("|")
            if conf.max_members:
                info["max_members"] = conf.max_members
            info["variables"] = {}
            info["members"] = members
            result.append(info)
        return cjson(result)
