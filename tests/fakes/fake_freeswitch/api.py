"""``api``/``bgapi`` commands of the fake switch, with FreeSWITCH's reply texts."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import orjson

from .channels import Channel
from .conference import Conferencing
from .events import Event
from .originate import ApiContext, Registration
from .wire import Headers, plain_value, url_encode

VERSION = "1.11.3-dev+git~20260821T141014Z~cc93a683ca~64bit"
VERSION_LINE = f"FreeSWITCH Version {VERSION} (git cc93a68 2026-08-21 14:10:14Z 64bit)\n"
NO_SUCH_CHANNEL = "-ERR No such channel!\n"

ApiHandler = Callable[["Api", str, ApiContext], Awaitable[str]]
COMMANDS: dict[str, ApiHandler] = {}

_CHANNEL_COLUMNS = (
    "uuid,direction,created,created_epoch,name,state,cid_name,cid_num,ip_addr,dest,application,"
    "application_data,dialplan,context,read_codec,read_rate,read_bit_rate,write_codec,write_rate,"
    "write_bit_rate,secure,hostname,presence_id,presence_data,accountcode,callstate,callee_name,"
    "callee_num,callee_direction,call_uuid,sent_callee_name,sent_callee_num,initial_cid_name,"
    "initial_cid_num,initial_ip_addr,initial_dest,initial_dialplan,initial_context"
).split(",")
_CALL_COLUMNS = (
    "uuid,direction,created,created_epoch,name,state,cid_name,cid_num,ip_addr,dest,presence_id,"
    "presence_data,accountcode,callstate,callee_name,callee_num,callee_direction,call_uuid,"
    "hostname,sent_callee_name,sent_callee_num,b_uuid,b_direction,b_created,b_created_epoch,"
    "b_name,b_state,b_cid_name,b_cid_num,b_ip_addr,b_dest,b_presence_id,b_presence_data,"
    "b_accountcode,b_callstate,b_callee_name,b_callee_num,b_callee_direction,"
    "b_sent_callee_name,b_sent_callee_num,call_created_epoch"
).split(",")


def command(name: str) -> Callable[[ApiHandler], ApiHandler]:
    def register(func: ApiHandler) -> ApiHandler:
        COMMANDS[name] = func
        return func

    return register


class Api(Conferencing):
    """api execution: reply body first, then the API event, then what follows."""

    started: float
    registrations: dict[str, Registration]
    global_vars: dict[str, str]

    def api_event(self, command_name: str, arg: str) -> Event:
        """The API event ``switch_api_execute`` fires for an api command."""
        headers = [("API-Command", command_name)]
        if arg:
            headers.append(("API-Command-Argument", arg))
        return self.events.system("API", "API", headers)

    async def run_api(
        self, line: str, job_uuid: str | None = None, *, event: Event | None = None
    ) -> str:
        """Run an api command; ``event`` replaces the API event (a hook passes its own)."""
        name, _, arg = line.strip().partition(" ")
        arg = arg.strip()
        ctx = ApiContext()
        handler = COMMANDS.get(name)
        if handler is None:
            body = f"-ERR {name} Command not found!\n"
        else:
            body = await handler(self, arg, ctx)
        self.emit(event or self.api_event(name, arg))
        for action in ctx.before_job:
            action()
        if job_uuid is not None:
            headers: Headers = [("Job-UUID", job_uuid), ("Job-Command", name)]
            if arg:
                headers.append(("Job-Command-Arg", arg))
            headers.append(("Content-Length", str(len(body.encode()))))
            self.emit(self.events.system("BACKGROUND_JOB", "BACKGROUND_JOB", headers, body=body))
        for action in ctx.after_job:
            action()
        return body

    def uptime_text(self) -> str:
        total_us = int((time.monotonic() - self.started) * 1_000_000)
        secs, micro = divmod(total_us, 1_000_000)
        mins, secs = divmod(secs, 60)
        hours, mins = divmod(mins, 60)
        days, hours = divmod(hours, 24)
        years, days = divmod(days, 365)
        return (
            f"{years} years, {days} days, {hours} hours, {mins} minutes, {secs} seconds, "
            f"{micro // 1000} milliseconds, {micro % 1000} microseconds"
        )

    def live_channels(self) -> list[Channel]:
        return [ch for ch in self.channels.values() if not ch.gone]

    def listed_channels(self) -> list[Channel]:
        """What ``show channels|calls`` list: the core database, which lags (``list_lag``)."""
        return [ch for ch in self.channels.values() if self.listed(ch)]

    def channel_row(self, ch: Channel) -> dict[str, str]:
        created = ch.profile.times.get("created", 0) // 1_000_000
        callstate, state = ch.listed_states or (ch.callstate, ch.running_state)
        read = ch.read_codec or ch.codec_spec
        codec = ch.codec
        return {
            "uuid": ch.uuid,
            "direction": ch.direction,
            "created": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(created)),
            "created_epoch": str(created),
            "name": ch.name,
            "state": state,
            "cid_name": ch.profile.caller_id_name,
            "cid_num": ch.profile.caller_id_number,
            "ip_addr": ch.profile.network_addr,
            "dest": ch.profile.destination_number,
            "application": ch.get_var("current_application") or "",
            "application_data": ch.get_var("current_application_data") or "",
            "dialplan": ch.profile.dialplan,
            "context": ch.profile.context,
            "read_codec": read[0] if codec else "",
            "read_rate": read[1] if codec else "",
            "read_bit_rate": read[2] if codec else "",
            "write_codec": ch.codec_spec[0] if codec else "",
            "write_rate": ch.codec_spec[1] if codec else "",
            "write_bit_rate": ch.codec_spec[2] if codec else "",
            "secure": "",
            "hostname": self.events.hostname,
            "presence_id": ch.presence_id,
            "presence_data": "",
            "accountcode": "",
            "callstate": callstate,
            "callee_name": ch.profile.callee_id_name,
            "callee_num": ch.profile.callee_id_number,
            "callee_direction": "",
            "call_uuid": ch.call_uuid if ch.direction == "outbound" else "",
            "sent_callee_name": "",
            "sent_callee_num": "",
            "initial_cid_name": ch.profile.caller_id_name,
            "initial_cid_num": ch.profile.caller_id_number,
            "initial_ip_addr": ch.profile.network_addr,
            "initial_dest": ch.profile.destination_number,
            "initial_dialplan": ch.profile.dialplan,
            "initial_context": ch.profile.context,
        }

    def show(self, what: str, as_json: bool) -> str:
        rows = []
        for ch in self.listed_channels():
            row = self.channel_row(ch)
            if what == "calls":
                row = {col: row.get(col, "") for col in _CALL_COLUMNS}
            rows.append(row)
        columns = _CALL_COLUMNS if what == "calls" else _CHANNEL_COLUMNS
        if as_json:
            if not rows:
                return '{"row_count": 0}\n'
            return orjson.dumps({"row_count": len(rows), "rows": rows}).decode()
        lines = [",".join(columns)] + [",".join(row.get(c, "") for c in columns) for row in rows]
        return "\n".join(lines) + f"\n\n{len(rows)} total.\n"

    def dump(self, ch: Channel, fmt: str) -> str:
        headers = self.events.base("CHANNEL_DATA", "UUID_DUMP")
        headers += self.events.channel_data(ch, variables=True)
        if fmt == "json":
            items = [orjson.dumps(k) + b":" + orjson.dumps(v) for k, v in headers]
            return (b"{" + b",".join(items) + b"}").decode()
        return "".join(f"{k}: {url_encode(plain_value(v))}\n" for k, v in headers) + "\n"


def _channel(api: Api, arg: str) -> Channel | None:
    return api.find(arg.split()[0]) if arg.split() else None


@command("status")
async def _status(api: Api, arg: str, ctx: ApiContext) -> str:
    live = len(api.live_channels())
    return (
        f"UP {api.uptime_text()}\n"
        "FreeSWITCH (Version 1.11.3-dev git cc93a68 2026-08-21 14:10:14Z 64bit) is ready\n"
        f"{api.session_counter} session(s) since startup\n"
        f"{live} session(s) - peak {live}, last 5min {live} \n"
        f"{live} session(s) per Sec out of max 30, peak {live}, last 5min {live} \n"
        "100 session(s) max\nmin idle cpu 0.00/99.00\nCurrent Stack Size/Max 240K/8192K\n"
    )


@command("version")
async def _version(api: Api, arg: str, ctx: ApiContext) -> str:
    return VERSION_LINE


@command("hostname")
async def _hostname(api: Api, arg: str, ctx: ApiContext) -> str:
    return api.events.hostname


@command("global_getvar")
async def _global_getvar(api: Api, arg: str, ctx: ApiContext) -> str:
    return api.global_vars.get(arg, "")


@command("eval")
async def _eval(api: Api, arg: str, ctx: ApiContext) -> str:
    text = arg
    for key, value in api.global_vars.items():
        text = text.replace("${" + key + "}", value)
    return text


@command("show")
async def _show(api: Api, arg: str, ctx: ApiContext) -> str:
    words = arg.split()
    as_json = words[-2:] == ["as", "json"]
    what = words[0] if words else ""
    if what == "channels" and words[1:2] == ["count"]:
        return f"\n{len(api.listed_channels())} total.\n"
    if what in ("channels", "calls"):
        return api.show(what, as_json)
    if what == "registrations":
        if not api.registrations:
            return '{"row_count": 0}\n' if as_json else "\n0 total.\n"
        rows = [
            {
                "reg_user": reg.user,
                "realm": "127.0.0.1",
                "token": reg.call_id,
                "url": f"sofia/lab/sip:{reg.user}@{reg.host}:{reg.port}",
                "expires": str(int(time.time()) + 300),
                "network_ip": reg.host,
                "network_port": str(reg.port),
                "network_proto": "udp",
                "hostname": api.events.hostname,
                "metadata": "",
            }
            for reg in api.registrations.values()
        ]
        return orjson.dumps({"row_count": len(rows), "rows": rows}).decode()
    return "-USAGE: show <channels|calls|registrations> [count] [as json]\n"


@command("sofia")
async def _sofia(api: Api, arg: str, ctx: ApiContext) -> str:
    rule = "=" * 97 + "\n"
    if arg.startswith("status profile") and arg.endswith("reg"):
        lines = "".join(
            f"\nCall-ID: \t{r.call_id}\nUser:    \t{r.user}@127.0.0.1\n"
            f'Contact: \t"" <sip:{r.user}@{r.host}:{r.port}>\nStatus:  \tRegistered(UDP)\n'
            for r in api.registrations.values()
        )
        total = len(api.registrations)
        return f"\nRegistrations:\n{rule}{lines}Total items returned: {total}\n{rule}"
    return (
        f"{'Name':>25}\t   Type\t{'Data':>42}\tState\n{rule}"
        f"{'127.0.0.1':>25}\t  alias\t{'lab':>42}\tALIASED\n"
        f"{'lab':>25}\tprofile\t{'sip:mod_sofia@127.0.0.1:5080':>42}"
        f"\tRUNNING ({len(api.live_channels())})\n"
        f"{rule}1 profile 1 alias\n"
    )
