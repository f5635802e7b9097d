"""Registrations (sofia::register / unregister) and channel presence events."""

from __future__ import annotations

from .api import Api
from .channels import Channel
from .originate import Registration

_PRESENCE = {
    "CS_ROUTING": ("progressing", "src/switch_core_state_machine.c", "check_presence", "521"),
    "answered": ("active", "src/switch_channel.c", "switch_channel_perform_mark_answered", "3906"),
    "CS_HANGUP": ("idle", "src/switch_core_state_machine.c", "check_presence", "521"),
}


class Sofia(Api):
    """What mod_sofia adds: REGISTER handling and presence of user/ legs."""

    presence_counts: dict[str, int]

    def presence_in(self, ch: Channel, status: str = "", state: str = "") -> None:
        status = status or ("CS_HANGUP" if ch.hangup_cause else ch.running_state)
        if status == "CS_CONSUME_MEDIA":
            status = "answered"
        info, file, function, line = _PRESENCE.get(status, _PRESENCE["CS_ROUTING"])
        count = self.presence_counts.get(ch.presence_id, 0)
        self.presence_counts[ch.presence_id] = count + 1
        post = [
            ("proto", "any"),
            ("login", "src/switch_channel.c"),
            ("from", ch.presence_id),
            ("rpid", "unknown"),
            ("status", status),
            ("event_type", "presence"),
            ("alt_event_type", "dialog"),
            ("presence-call-info-state", info),
            ("presence-call-direction", ch.direction),
            ("event_count", str(count)),
            ("Presence-Calling-File", file),
            ("Presence-Calling-Function", function),
            ("Presence-Calling-Line", line),
        ]
        self.channel_event("PRESENCE_IN", ch, variables=False, post=post)

    def register(
        self, user: str, *, port: int = 5090, user_agent: str = "", call_id: str = ""
    ) -> Registration:
        reg = Registration(
            user=user,
            port=port,
            user_agent=user_agent or f"SIPp-lab-{user}",
            call_id=call_id or f"{len(self.registrations) + 1}-{port}@127.0.0.1",
        )
        self.registrations[user] = reg
        headers = [
            ("profile-name", "lab"),
            ("from-user", user),
            ("from-host", "127.0.0.1"),
            ("presence-hosts", "n/a"),
            ("contact", f'"" <sip:{user}@{reg.host}:{port}>'),
            ("call-id", reg.call_id),
            ("rpid", "unknown"),
            ("status", "Registered(UDP)"),
            ("expires", "300"),
            ("to-user", user),
            ("to-host", "127.0.0.1"),
            ("network-ip", reg.host),
            ("network-port", str(port)),
            ("username", "unknown"),
            ("realm", "127.0.0.1"),
            ("user-agent", reg.user_agent),
        ]
        self.emit(self.events.system("CUSTOM", "REGISTER", headers, subclass="sofia::register"))
        return reg

    def unregister(self, user: str) -> bool:
        reg = self.registrations.pop(user, None)
        if reg is None:
            return False
        presence = [
            ("proto", "sip"),
            ("rpid", "unknown"),
            ("login", "sip:mod_sofia@127.0.0.1:5080"),
            ("user-agent", reg.user_agent),
            ("from", f"{user}@127.0.0.1"),
            ("status", "Unregistered"),
            ("presence-source", "register"),
            ("event_type", "presence"),
        ]
        self.emit(self.events.system("PRESENCE_IN", "PRESENCE_UNREGISTER", presence))
        headers = [
            ("profile-name", "lab"),
            ("username", "unknown"),
            ("from-user", user),
            ("from-host", "127.0.0.1"),
            ("contact", f'"" <sip:{user}@{reg.host}:{reg.port}>'),
            ("call-id", reg.call_id),
            ("rpid", "unknown"),
            ("realm", "unknown"),
            ("network-ip", reg.host),
            ("network-port", str(reg.port)),
            ("user-agent", reg.user_agent),
            ("expires", "0"),
        ]
        self.emit(self.events.system("CUSTOM", "UNREGISTER", headers, subclass="sofia::unregister"))
        return True
