"""Contract media URIs and originate variables -> FreeSWITCH application arguments."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ...errors import CommandRejected

# Asterisk indications names (the contract's ``tone:`` vocabulary) in teletone syntax
NAMED_TONES = {
    "ring": "%(2000,4000,440,480)",
    "ringback": "%(2000,4000,440,480)",
    "busy": "%(500,500,480,620)",
    "congestion": "%(250,250,480,620)",
    "dial": "%(1000,0,350,440)",
    "beep": "%(250,0,1000)",
}
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.:/+=@-]+$")
_SAFE_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_UNSAFE_VALUE = re.compile(r"[,'\"{}\[\]\s\\^]")


@dataclass(frozen=True, slots=True)
class MediaConfig:
    sounds_dir: str = ""  # empty: relative names, FreeSWITCH resolves them (sound_prefix)
    recordings_dir: str = "/var/lib/freeswitch/recordings"
    say_language: str = "en"


def check_id(value: str, what: str) -> str:
    """Leg, bridge and recording ids go into command lines: keep them to a safe alphabet."""
    if not value or not _SAFE_NAME.match(value) or ".." in value:
        raise CommandRejected(f"invalid {what} {value!r}")
    return value


def _with_extension(name: str) -> str:
    return name if "." in name.rsplit("/", 1)[-1] else name + ".wav"


def tone_stream(spec: str) -> str:
    """Asterisk indications (``440+480/2000,0/4000``, ``!`` = play once) or a tone name ->
    ``tone_stream://`` teletone (``%(on,off,freq1,freq2)``); plays until stopped unless
    every part is marked once."""
    if spec.startswith(("%(", "v=", "L=")):
        return f"tone_stream://{spec}"
    if spec in NAMED_TONES:
        return f"tone_stream://{NAMED_TONES[spec]};loops=-1"
    parts: list[tuple[list[str], int, bool]] = []
    for raw in spec.split(","):
        once = raw.startswith("!")
        freqs, _, duration = raw.lstrip("!").partition("/")
        tones = [f for f in re.split(r"[+*]", freqs) if f and f != "0"]
        if not all(f.isdigit() for f in tones) or (duration and not duration.isdigit()):
            raise CommandRejected(f"bad tone {spec!r}")
        parts.append((tones, int(duration or 0), once))
    segments: list[str] = []
    for i, (tones, length, _) in enumerate(parts):
        if not tones:
            if i == 0:  # leading silence
                segments.append(f"%({length},0,0)")
            continue
        follow = parts[i + 1] if i + 1 < len(parts) else None
        off = follow[1] if follow is not None and not follow[0] else 0
        segments.append(f"%({length or 60000},{off},{','.join(tones)})")
    if not segments:
        raise CommandRejected(f"bad tone {spec!r}")
    loops = 1 if all(once for *_, once in parts) else -1
    return "tone_stream://" + "".join(segments) + f";loops={loops}"


def media_app(item: str, config: MediaConfig) -> tuple[str, str]:
    """One contract media URI -> (application, argument) to execute on the leg."""
    scheme, sep, rest = item.partition(":")
    if not sep or not rest or "\n" in rest:
        raise CommandRejected(f"bad media URI {item!r} (expected scheme:value)")
    if scheme == "sound":
        check_id(rest, "sound name")
        name = _with_extension(rest)
        return "playback", f"{config.sounds_dir.rstrip('/')}/{name}" if config.sounds_dir else name
    if scheme == "file":
        return "playback", rest
    if scheme == "recording":
        check_id(rest, "recording name")
        return "playback", f"{config.recordings_dir.rstrip('/')}/{_with_extension(rest)}"
    if scheme == "tone":
        return "playback", tone_stream(rest)
    if scheme == "digits":
        if not re.fullmatch(r"[0-9*#]+", rest):
            raise CommandRejected(f"bad digits {rest!r}")
        return "say", f"{config.say_language} number iterated {rest}"
    if scheme == "number":
        if not re.fullmatch(r"-?[0-9]+", rest):
            raise CommandRejected(f"bad number {rest!r}")
        return "say", f"{config.say_language} number pronounced {rest}"
    raise CommandRejected(f"unsupported media scheme {scheme!r} in {item!r}")


def brace_vars(variables: dict[str, str]) -> str:
    """``{a=b,c=d}`` for an originate. Values with spaces are single-quoted (the api's
    argument splitter keeps them together and strips the quotes); values that could not
    get through both splitters (commas, quotes, braces) are refused, and so are values
    with ``${``: FreeSWITCH drops such an originate variable (``check_vars`` in
    ``switch_ivr_originate.c``; a CRIT log line, the call goes on without it)."""
    items = []
    for name, value in variables.items():
        if not _SAFE_VAR.match(name):
            raise CommandRejected(f"invalid channel variable name {name!r}")
        if "${" in value:
            raise CommandRejected(
                f"channel variable {name}: FreeSWITCH drops originate variables with ${{...}}"
            )
        if _UNSAFE_VALUE.search(value.replace(" ", "")) or "\n" in value:
            raise CommandRejected(f"channel variable {name} has a value FreeSWITCH cannot take")
        items.append(f"{name}='{value}'" if " " in value else f"{name}={value}")
    return "{" + ",".join(items) + "}"
