"""api commands the call-center driver uses beyond the captures (see ``platform_calls``).

Reply texts follow mod_commands / mod_conference 1.11: ``uuid_transfer`` and ``uuid_break``
answer ``+OK``, an unknown uuid ``-ERR No such channel!``; ``global_setvar`` ``+OK``;
``conference <name> hold|unhold <id>`` ``+OK hold <id>`` (like the captured ``+OK mute 1``),
``recording start <path>`` ``Record file <path>``, ``recording stop <path>`` ``Stopped
recording file <path>`` (or ``-ERR non-existant recording``), ``play <file>``
``(play) Playing file <file>``.
"""

from __future__ import annotations

from .api import COMMANDS, NO_SUCH_CHANNEL, Api, command
from .originate import ApiContext
from .platform_calls import PlatformCalls

_captured_transfer = COMMANDS["uuid_transfer"]
_captured_conference = COMMANDS["conference"]


def _platform(api: Api) -> PlatformCalls:
    assert isinstance(api, PlatformCalls)
    return api


@command("uuid_transfer")
async def _uuid_transfer(api: Api, arg: str, ctx: ApiContext) -> str:
    words = arg.split()
    if len(words) < 3 or words[2] != "inline" or words[1].startswith("-"):
        return await _captured_transfer(api, arg, ctx)
    ch = api.find(words[0])
    if ch is None or not ch.alive:
        return NO_SUCH_CHANNEL
    fake = _platform(api)
    context = words[3] if len(words) > 3 else ""
    ctx.after_job.append(lambda: api.spawn(fake.transfer_inline(ch, words[1], context)))
    return "+OK\n"


@command("uuid_break")
async def _uuid_break(api: Api, arg: str, ctx: ApiContext) -> str:
    words = arg.split()
    ch = api.find(words[0]) if words else None
    if ch is None or not ch.alive:
        return NO_SUCH_CHANNEL
    _platform(api).break_media(ch, flush=words[1:2] == ["all"])
    return "+OK\n"


@command("global_setvar")
async def _global_setvar(api: Api, arg: str, ctx: ApiContext) -> str:
    name, _, value = arg.partition("=")
    name, value = name.strip(), value.strip()
    if not name:
        return "-USAGE: <var>=<value>\n"
    if value:
        api.global_vars[name] = value
    else:
        api.global_vars.pop(name, None)
    return "+OK"


@command("conference")
async def _conference(api: Api, arg: str, ctx: ApiContext) -> str:
    words = arg.split()
    sub = words[1] if len(words) > 1 else ""
    conf = api.conferences.get(words[0]) if words else None
    if conf is None or sub not in ("hold", "unhold", "recording", "play"):
        return await _captured_conference(api, arg, ctx)
    fake = _platform(api)
    if sub == "play":
        return f"(play) Playing file {words[2]}\n" if len(words) > 2 else "-ERR no file\n"
    if sub == "recording":
        action, path = [*words[2:4], "", ""][:2]
        if action == "start" and path:
            ctx.after_job.append(lambda: fake.conference_record_start(conf, path))
            return f"Record file {path}\n"
        if action == "stop" and path:
            if path != "all" and path not in fake.conference_recordings(conf):
                return f"-ERR non-existant recording '{path}'\n"
            ctx.after_job.append(lambda: fake.conference_record_stop(conf, path))
            return f"Stopped recording file {path}\n"
        return "-USAGE: recording [start|stop] <path>\n"
    target = words[2] if len(words) > 2 else ""
    members = sorted(conf.members, key=lambda m: -m.id)
    if target != "all":
        found = api.find_member(conf, target)
        if found is None:
            return f"-ERR Non-Existant ID {target}\n"
        members = [found]
    lines = []
    for member in members:
        member.hold = sub == "hold"
        calling = "CONF_HOLD" if sub == "hold" else "CONF_UNHOLD"
        api.member_event(conf, member, f"{sub}-member", calling)
        lines.append(f"+OK {sub} {member.id}\n")
    return "".join(lines)
