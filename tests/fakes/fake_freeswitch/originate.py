"""``originate``: user/, sofia/, error/ and loopback/ endpoints with scripted outcomes."""

from __future__ import annotations

import asyncio
import re
import uuid as uuidlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .bridging import Bridging
from .channels import Channel, Profile, now_us

USAGE = (
    "-USAGE: <call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] "
    "[<cid_name>] [<cid_num>] [<timeout_sec>]\n"
)
_APP = re.compile(r"^&([\w-]+)\((.*)\)$", re.S)
_TRUE = ("true", "yes", "on", "1", "t", "enabled", "active", "allow")
# the CRIT line ``switch_channel_set_variable_var_check`` logs per refused variable
INVALID_DATA = ("switch_channel.c", "switch_channel_set_variable_var_check", 1509)


class ApiContext:
    """Actions of one api command that happen after its API (and BACKGROUND_JOB) event."""

    def __init__(self) -> None:
        self.before_job: list[Callable[[], object]] = []
        self.after_job: list[Callable[[], object]] = []


class OriginateError(Exception):
    def __init__(self, cause: str) -> None:
        super().__init__(cause)
        self.cause = cause


@dataclass
class Endpoint:
    """How a far end behaves when called (test control)."""

    behavior: str = "answer"  # answer | busy | no_answer | reject | ring
    ring_seconds: float = 0.0
    answer_now: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class Registration:
    user: str
    host: str = "127.0.0.1"
    port: int = 5090
    user_agent: str = ""
    call_id: str = ""


def parse_originate(arg: str) -> tuple[dict[str, str], str, str, list[str]]:
    """``{vars}url target [dialplan] [context] ...`` -> (vars, url, target, rest)."""
    text = arg.strip()
    variables: dict[str, str] = {}
    if text.startswith("{"):
        end = closing_brace(text)
        if end > 0:
            for item in split_quoted(text[1:end], ","):
                key, _, value = item.partition("=")
                if key:
                    variables[key.strip()] = unquote(value.strip())
            text = text[end + 1 :]
    parts = text.split()
    url = parts[0] if parts else ""
    target = parts[1] if len(parts) > 1 else ""
    return variables, url, target, parts[2:]


def check_vars(variables: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """FreeSWITCH sets originate variables with ``switch_channel_set_variable``, which
    refuses a value containing ``${`` (``switch_channel_set_variable_var_check``) unless
    ``origination_nested_vars`` is true: -> (what the channel gets, the names refused)."""
    if variables.get("origination_nested_vars", "").lower() in _TRUE:
        return variables, []
    refused = [name for name, value in variables.items() if "${" in value]
    return {k: v for k, v in variables.items() if k not in refused}, refused


def closing_brace(text: str) -> int:
    """Index of the ``}`` closing the ``{`` at 0 (``${var}`` inside nests), or -1."""
    depth = 0
    for index, char in enumerate(text):
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth == 0:
            return index
    return -1


def split_quoted(text: str, delim: str) -> list[str]:
    """Split on ``delim`` outside single quotes (FreeSWITCH's ``switch_separate_string``)."""
    parts, current, quoted = [], "", False
    for char in text:
        if char == "'":
            quoted = not quoted
        if char == delim and not quoted:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return parts


def unquote(value: str) -> str:
    """Drop the single quotes FreeSWITCH strips from a separated token."""
    return value.replace("'", "")


class Originating(Bridging):
    """Outbound legs."""

    registrations: dict[str, Registration]
    endpoints: dict[str, Endpoint]

    def endpoint(self, key: str) -> Endpoint:
        return self.endpoints.setdefault(key, Endpoint())

    async def originate(self, arg: str, ctx: ApiContext) -> str:
        """Run an originate; the result text (``+OK <uuid>`` or ``-ERR CAUSE``), with ``\\n``."""
        variables, url, target, _rest = parse_originate(arg)
        if not url or not target:
            return USAGE
        match = _APP.match(target)
        variables, refused = check_vars(variables)
        try:
            ch = await self._dial(url, variables, ctx, app_leg=match is not None, refused=refused)
        except OriginateError as exc:
            return f"-ERR {exc.cause}\n"
        self.log_refused(ch, refused)  # once more as the originate returns the leg
        if match is not None:
            app, data = match.group(1), match.group(2)
            ctx.after_job.append(lambda: self._start_app_leg(ch, app, data))
        else:
            rest = _rest
            ctx.before_job.append(lambda: self._route_exten_leg(ch, target, rest))
            ctx.after_job.append(lambda: self._start_exten_leg(ch))
        return f"+OK {ch.uuid}\n"

    def _start_app_leg(self, ch: Channel, app: str, data: str) -> None:
        async def run() -> None:
            self.run_state(ch, "CS_EXECUTE")
            await self.run_apps(ch, [(app, data, str(uuidlib.uuid4()))])
            if ch.alive and ch.app != "park":  # the application returned: hang up
                self.mark_hangup(ch, "NORMAL_CLEARING")
                self.finish_unbridged(ch)

        self.spawn(run())

    def _route_exten_leg(self, ch: Channel, target: str, rest: list[str]) -> None:
        """``originate <url> <exten> [dialplan] [context]``: the leg is transferred there."""
        dialplan = rest[0] if rest else "XML"
        context = rest[1] if len(rest) > 1 else "default"
        source = self.transfer_source("bl_xfer", f"{target}/{context}/{dialplan}")
        self._add_transfer_history(ch, source)
        ch.new_profile(
            destination_number=target,
            dialplan=dialplan,
            context=context,
            rdnis=ch.profile.destination_number,
            transfer_source=source,
        )
        ch.hit_dialplan = False
        self.run_state(ch, "CS_ROUTING")

    def _start_exten_leg(self, ch: Channel) -> None:
        self.flip_cid(ch)
        self.spawn(self.run_dialplan(ch))

    def log_refused(self, ch: Channel, refused: Sequence[str]) -> None:
        for name in refused:
            text = f"Invalid data (${{{name}}} contains a variable)"
            self.log(2, INVALID_DATA, text, ch.uuid)

    async def _dial(
        self,
        url: str,
        variables: dict[str, str],
        ctx: ApiContext,
        *,
        app_leg: bool,
        refused: Sequence[str],
    ) -> Channel:
        kind, _, rest = url.partition("/")
        if kind == "error":
            raise OriginateError(rest.upper() or "DESTINATION_OUT_OF_ORDER")
        if kind == "loopback":
            await self._loopback_failure(rest, variables, ctx)
            raise OriginateError("NO_ROUTE_DESTINATION")
        if kind == "user":
            user = rest.split("@", 1)[0]
            self.emit(self.api_event("sofia_contact", f"*/{user}@127.0.0.1"))  # type: ignore[attr-defined]
            reg = self.registrations.get(user)
            if reg is None:
                raise OriginateError("USER_NOT_REGISTERED")
            name = f"sofia/lab/{user}@{reg.host}:{reg.port}"
            endpoint = self.endpoint(user)
            return await self._sofia_leg(
                name, user, variables, endpoint, ctx, app_leg, user=user, refused=refused
            )
        if kind == "sofia":
            parts = rest.split("/")
            dest = parts[-1].split("@", 1)[0]
            endpoint = self.endpoint(parts[-1])
            return await self._sofia_leg(
                f"sofia/{rest}", dest, variables, endpoint, ctx, app_leg, refused=refused
            )
        raise OriginateError("CHAN_NOT_IMPLEMENTED")

    async def _sofia_leg(
        self,
        name: str,
        dest: str,
        variables: dict[str, str],
        endpoint: Endpoint,
        ctx: ApiContext,
        app_leg: bool,
        *,
        user: str = "",
        refused: Sequence[str] = (),
    ) -> Channel:
        cid_number = variables.get("origination_caller_id_number", "0000000000")
        cid_name = variables.get("origination_caller_id_name", "")
        profile = Profile(
            direction="outbound",
            caller_id_name=cid_name,
            caller_id_number=cid_number,
            orig_caller_id_name=cid_name,
            orig_caller_id_number=cid_number,
            callee_id_name="Outbound Call",
            callee_id_number=dest,
            ani=cid_number,
            destination_number=dest,
            source="src/switch_ivr_originate.c",
            context="default",
        )
        chan_vars = {
            "is_outbound": "true",
            "sip_local_network_addr": "127.0.0.1",
            "sip_profile_name": "lab",
            "channel_name": name,
            **variables,
        }
        if user:
            chan_vars.update(
                {
                    "dialed_user": user,
                    "dialed_domain": "127.0.0.1",
                    "presence_id": f"{user}@127.0.0.1",
                }
            )
        ch = self.create_channel(
            uuid=variables.get("origination_uuid"),
            name=name,
            direction="outbound",
            profile=profile,
            variables=chan_vars,
            hit_dialplan=False,
            endpoint=user or dest,
        )
        self.log_refused(ch, refused)
        ch.running_state, ch.state = "CS_NONE", "CS_INIT"
        self.channel_event("CHANNEL_OUTGOING", ch)
        ch.presence_id = f"{user}@127.0.0.1" if user else ""
        self.run_state(ch, "CS_INIT")
        ch.state = "CS_ROUTING"
        self.channel_event("CHANNEL_CREATE", ch)
        self.channel_event("CHANNEL_ORIGINATE", ch)
        self.run_state(ch, "CS_ROUTING")
        ch.state = "CS_CONSUME_MEDIA"
        if user:
            self.presence_in(ch, status="CS_ROUTING", state="progressing")
        self.run_state(ch, "CS_CONSUME_MEDIA")
        if endpoint.behavior in ("busy", "reject"):
            cause = "USER_BUSY" if endpoint.behavior == "busy" else "CALL_REJECTED"
            return self._fail_leg(ch, cause, ctx)
        ch.profile.network_addr = "127.0.0.1"
        ch.profile.times["progress"] = now_us()
        self.channel_event("CHANNEL_PROGRESS", ch)
        self.set_callstate(ch, "RINGING")
        timeout = float(variables.get("originate_timeout", "60"))
        if endpoint.behavior == "no_answer":
            await self.media_pause(timeout)
            if not ch.alive:
                raise OriginateError(ch.hangup_cause or "ORIGINATOR_CANCEL")
            return self._fail_leg(ch, "NO_ANSWER", ctx)
        if endpoint.behavior == "ring":
            try:
                scaled = timeout * self.time_scale if self.time_scale else None
                await asyncio.wait_for(endpoint.answer_now.wait(), scaled)
            except TimeoutError:
                return self._fail_leg(ch, "NO_ANSWER", ctx)
            endpoint.answer_now.clear()
        else:
            await self.media_pause(endpoint.ring_seconds)
        if not ch.alive:
            raise OriginateError(ch.hangup_cause or "ORIGINATOR_CANCEL")
        self.codec_events(ch)
        self.answer_outbound(ch, user, app_leg)
        return ch

    def answer_outbound(self, ch: Channel, user: str, app_leg: bool) -> None:
        ch.answer_state = "answered"
        ch.profile.times["answered"] = now_us()
        self.set_var(ch, "endpoint_disposition", "ANSWER")
        self.channel_event("CHANNEL_ANSWER", ch)
        if user:
            self.presence_in(ch, status="CS_CONSUME_MEDIA", state="confirmed")
        self.set_callstate(ch, "ACTIVE")
        if user:
            self.channel_event("CHANNEL_OUTGOING", ch)
        if app_leg:
            self.flip_cid(ch)

    def flip_cid(self, ch: Channel) -> None:
        """The answered outbound leg shows who it is connected to (CALL_UPDATE RECV)."""
        profile = ch.profile
        profile.caller_id_name, profile.callee_id_name = (
            profile.callee_id_name,
            profile.caller_id_name,
        )
        number = profile.caller_id_number
        profile.caller_id_number, profile.callee_id_number = profile.callee_id_number, number
        ch.hit_dialplan = True
        ch.flipped = True
        self.channel_event("CALL_UPDATE", ch, "CALL_UPDATE_FLIP", pre=[("Direction", "RECV")])

    def _fail_leg(self, ch: Channel, cause: str, ctx: ApiContext) -> Channel:
        self.mark_hangup(ch, cause)
        ctx.after_job.append(lambda: self.finish_unbridged(ch))
        raise OriginateError(cause)

    async def _loopback_failure(
        self, rest: str, variables: dict[str, str], ctx: ApiContext
    ) -> None:
        """loopback/<exten>/<context> into an unknown context: both loopback legs die."""
        exten, _, context = rest.partition("/")
        legs = []
        for suffix, direction in (("a", "outbound"), ("b", "inbound")):
            profile = Profile(
                direction=direction,
                dialplan="xml",
                caller_id_number="0000000000",
                orig_caller_id_number="0000000000",
                callee_id_name="Outbound Call",
                callee_id_number=context,
                ani="0000000000",
                destination_number=exten,
                source="mod_loopback",
                context=context,
            )
            ch = self.create_channel(
                uuid=None,
                name=f"loopback/{exten}/{context}-a" if suffix == "a" else f"loopback/{exten}-b",
                direction=direction,
                profile=profile,
                variables=dict(variables),
                hit_dialplan=suffix == "b",
                kind="loopback",
                codec_spec=("L16", "8000", "128000"),
            )
            legs.append(ch)
        for ch in legs:
            ch.profile_set = False
            ch.running_state, ch.state = "CS_NONE", "CS_NEW"
            self.codec_events(ch, read_then_write=True)
            ch.name = ch.profile.channel_name = ch.name.replace(f"/{context}-", "-")
            ch.profile_set = True
        a, b = legs
        a.running_state, a.state = "CS_NONE", "CS_INIT"
        self.channel_event("CHANNEL_OUTGOING", a)
        self.run_state(a, "CS_INIT")
        a.state = "CS_ROUTING"
        self.channel_event("CHANNEL_CREATE", a)
        self.channel_event("CHANNEL_ORIGINATE", a)
        self.run_state(a, "CS_ROUTING")
        self.run_state(a, "CS_CONSUME_MEDIA")
        self.run_state(b, "CS_INIT")
        b.state = "CS_ROUTING"
        self.channel_event("CHANNEL_CREATE", b)
        b.running_state = "CS_ROUTING"
        self.set_callstate(b, "RINGING")
        self.run_state(b, "CS_ROUTING")
        self.mark_hangup(b, "NO_ROUTE_DESTINATION")
        self.hangup_states(b)
        self.mark_hangup(a, "NO_ROUTE_DESTINATION")
        self.reporting(b)
        self.hangup_states(a)
        self.reporting(a)
        ctx.after_job.append(lambda: (self.destroy(b), self.destroy(a)))
        await asyncio.sleep(0)
