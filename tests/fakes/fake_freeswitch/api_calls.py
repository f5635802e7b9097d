"""Call-control api commands: uuid_*, originate, conference, hupall."""

from __future__ import annotations

from .api import NO_SUCH_CHANNEL, Api, command
from .originate import ApiContext


@command("uuid_exists")
async def _uuid_exists(api: Api, arg: str, ctx: ApiContext) -> str:
    return "true" if api.find(arg) is not None else "false"


@command("uuid_getvar")
async def _uuid_getvar(api: Api, arg: str, ctx: ApiContext) -> str:
    words = arg.split()
    ch = api.find(words[0]) if words else None
    if ch is None:
        return NO_SUCH_CHANNEL
    value = ch.get_var(words[1]) if len(words) > 1 else None
    return "_undef_" if value is None else value


@command("uuid_setvar")
async def _uuid_setvar(api: Api, arg: str, ctx: ApiContext) -> str:
    words = arg.split(None, 2)
    ch = api.find(words[0]) if words else None
    if ch is None:
        return NO_SUCH_CHANNEL
    if len(words) < 2:
        return "-USAGE: <uuid> <var> [value]\n"
    if len(words) == 2:
        ch.variables.pop(words[1], None)
    else:
        api.set_var(ch, words[1], words[2])
    return "+OK\n"


@command("uuid_dump")
async def _uuid_dump(api: Api, arg: str, ctx: ApiContext) -> str:
    words = arg.split()
    ch = api.find(words[0]) if words else None
    if ch is None:
        return NO_SUCH_CHANNEL
    return api.dump(ch, words[1] if len(words) > 1 else "")


@command("uuid_answer")
async def _uuid_answer(api: Api, arg: str, ctx: ApiContext) -> str:
    ch = api.find(arg) if arg else None
    if ch is None or not ch.alive:
        return "-ERROR\n"
    if ch.media_fails:  # e.g. the RTP port cannot be bound: FreeSWITCH drops the call
        api.mark_hangup(ch, "INCOMPATIBLE_DESTINATION")
        ctx.after_job.append(lambda: api.continue_hangup(ch))
        return "-ERROR\n"
    api.answer(ch)
    return "+OK\n"


@command("uuid_kill")
async def _uuid_kill(api: Api, arg: str, ctx: ApiContext) -> str:
    words = arg.split()
    ch = api.find(words[0]) if words else None
    if ch is None or not ch.alive:
        return NO_SUCH_CHANNEL
    cause = words[1] if len(words) > 1 else "NORMAL_CLEARING"
    api.mark_hangup(ch, cause)  # CHANNEL_HANGUP now, the rest after the API event
    ctx.after_job.append(lambda: api.continue_hangup(ch))
    return "+OK\n"


@command("uuid_bridge")
async def _uuid_bridge(api: Api, arg: str, ctx: ApiContext) -> str:
    words = arg.split()
    a = api.find(words[0]) if words else None
    b = api.find(words[1]) if len(words) > 1 else None
    if a is None or b is None or not a.alive or not b.alive:
        return "-ERR Invalid uuid\n"
    ctx.after_job.append(lambda: api.spawn(api.uuid_bridge(a, b)))
    return f"+OK {b.uuid}\n"


@command("uuid_transfer")
async def _uuid_transfer(api: Api, arg: str, ctx: ApiContext) -> str:
    words = arg.split()
    ch = api.find(words[0]) if words else None
    if ch is None or not ch.alive:
        return NO_SUCH_CHANNEL
    rest = words[1:]
    both = bool(rest) and rest[0] == "-both"
    if rest and rest[0] in ("-both", "-bleg"):
        rest = rest[1:]
        if words[1] == "-bleg" and ch.other is not None:
            ch = ch.other
    if not rest:
        return "-USAGE: <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]\n"
    target = ch
    ctx.after_job.append(lambda: api.spawn(api.uuid_transfer(target, rest[0], both)))
    return "+OK\n"


@command("uuid_hold")
async def _uuid_hold(api: Api, arg: str, ctx: ApiContext) -> str:
    words = arg.split()
    mode = ""
    if words and words[0] in ("off", "toggle"):
        mode, words = words[0], words[1:]
    ch = api.find(words[0]) if words else None
    if ch is None or not ch.alive:
        return "-ERR Operation Failed\n"
    if mode == "toggle":
        mode = "off" if ch.held else ""
    if mode == "off":
        if ch.held:
            await api.unhold(ch)
    elif not ch.held:
        api.hold(ch)
    return "+OK Success\n"


@command("uuid_record")
async def _uuid_record(api: Api, arg: str, ctx: ApiContext) -> str:
    words = arg.split()
    ch = api.find(words[0]) if words else None
    if len(words) < 3:
        return "-USAGE: <uuid> [start|stop|mask|unmask] <path> [<limit>] [<recording_vars>]\n"
    if ch is None or not ch.alive:
        return "-ERR Cannot locate session!\n"
    action, path = words[1], words[2]
    if action == "start":
        api.record_start(ch, path)
        return "+OK Success\n"
    if action == "stop":
        return (
            "+OK Success\n" if api.record_stop(ch, path) else "-ERR Cannot stop record session!\n"
        )
    return "-ERR Unknown action\n"


@command("uuid_broadcast")
async def _uuid_broadcast(api: Api, arg: str, ctx: ApiContext) -> str:
    words = arg.split()
    ch = api.find(words[0]) if words else None
    if ch is None or not ch.alive or len(words) < 2:
        return "-ERR Operation Failed\n"
    path = words[1]
    leg = words[2] if len(words) > 2 else "aleg"
    targets = [ch] if leg != "bleg" else []
    if leg in ("bleg", "both") and ch.other is not None and ch.bridged_to:
        targets.append(ch.other)
    for target in targets:
        ctx.after_job.append(lambda t=target: api.spawn(api.broadcast(t, path)))
    return "+OK Message sent\n"


@command("uuid_recv_dtmf")
async def _uuid_recv_dtmf(api: Api, arg: str, ctx: ApiContext) -> str:
    words = arg.split()
    ch = api.find(words[0]) if words else None
    if ch is None or not ch.alive or len(words) < 2:
        return NO_SUCH_CHANNEL
    digits = words[1]
    ctx.after_job.append(lambda: [api.dtmf(ch, d, "APP") for d in digits if d not in "wW"])
    return f"+OK {ch.uuid} received DTMF {digits}.\n"


@command("uuid_park")
async def _uuid_park(api: Api, arg: str, ctx: ApiContext) -> str:
    ch = api.find(arg) if arg else None
    if ch is None or not ch.alive:
        return NO_SUCH_CHANNEL
    ctx.after_job.append(lambda: api.spawn(api.park(ch)))
    return "+OK\n"


@command("hupall")
async def _hupall(api: Api, arg: str, ctx: ApiContext) -> str:
    cause = arg.split()[0] if arg.split() else "MANAGER_REQUEST"
    for ch in api.live_channels():
        if ch.alive:
            api.remote_hangup(ch, cause)
    return f"+OK hangup all channels with cause {cause}\n"


@command("originate")
async def _originate(api: Api, arg: str, ctx: ApiContext) -> str:
    return await api.originate(arg, ctx)


@command("sofia_contact")
async def _sofia_contact(api: Api, arg: str, ctx: ApiContext) -> str:
    user, _, domain = arg.split("/", 1)[-1].partition("@")
    reg = api.registrations.get(user)
    if reg is None or domain not in ("", "127.0.0.1"):  # the lab's one domain
        return "error/user_not_registered"
    return f"sofia/lab/sip:{user}@{reg.host}:{reg.port}"


@command("conference")
async def _conference(api: Api, arg: str, ctx: ApiContext) -> str:
    words = arg.split()
    if words == ["list"]:
        if not api.conferences:
            return "+OK No active conferences.\n"
        return "".join(
            f"+OK Conference {conf.name} ({len(conf.members)} member"
            f"{'s' if len(conf.members) != 1 else ''} rate: 8000 flags: "
            "running|answered|enforce_min|dynamic|exit_sound|enter_sound|json_status)\n"
            + api.conference_list_lines(conf)
            for conf in api.conferences.values()
        )
    if words == ["json_list"]:
        return api.conference_json()
    if not words:
        return "-ERR no conference name\n"
    conf = api.conferences.get(words[0])
    if conf is None:
        return f"-ERR Conference {words[0]} not found\n"
    sub = words[1] if len(words) > 1 else ""
    if sub == "list":
        return api.conference_list_lines(conf)
    target = words[2] if len(words) > 2 else ""
    if sub in ("mute", "unmute", "hup", "kick"):
        members = sorted(conf.members, key=lambda m: -m.id)
        if target != "all":
            found = api.find_member(conf, target)
            if found is None:
                return f"-ERR Non-Existant ID {target}\n"
            members = [found]
        lines = []
        for member in members:
            if sub in ("mute", "unmute"):
                member.speak = sub == "unmute"
                calling = "CONF_MUTE" if sub == "mute" else "CONF_UNMUTE"
                api.member_event(conf, member, f"{sub}-member", calling)
            else:
                api.member_event(conf, member, f"{sub}-member", "CONF_HUP")
            lines.append(f"+OK {sub} {member.id}\n")
        if sub in ("hup", "kick"):
            ordered = sorted(members, key=lambda m: (conf.floor is not m, -m.id))
            ctx.after_job.append(lambda: [api.kick(m) for m in ordered])
        return "".join(lines)
    return f"-ERR Unknown command {sub}\n"
