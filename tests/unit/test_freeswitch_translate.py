"""FreeSWITCH driver translations: media URIs, tones, originate variables, hangup causes."""

from __future__ import annotations

import pytest

from switch_control import contract as c
from switch_control.drivers.freeswitch.media import MediaConfig, brace_vars, media_app, tone_stream
from switch_control.drivers.freeswitch.translate import fs_cause, hangup_cause
from switch_control.errors import CommandRejected
from switch_control.protocols.esl import EslEvent


def test_media_uris() -> None:
    config = MediaConfig(sounds_dir="/snd", recordings_dir="/rec", say_language="zh")
    assert media_app("sound:ivr/welcome", config) == ("playback", "/snd/ivr/welcome.wav")
    assert media_app("sound:x.mp3", MediaConfig()) == ("playback", "x.mp3")
    assert media_app("file:/tmp/a.wav", config) == ("playback", "/tmp/a.wav")
    assert media_app("recording:r1", config) == ("playback", "/rec/r1.wav")
    assert media_app("digits:12#", config) == ("say", "zh number iterated 12#")
    assert media_app("number:42", config) == ("say", "zh number pronounced 42")
    for bad in ("digits:12a", "number:x", "sound:../etc/passwd", "nothing", "tone:abc"):
        with pytest.raises(CommandRejected):
            media_app(bad, config)


def test_tones() -> None:
    assert tone_stream("ring") == "tone_stream://%(2000,4000,440,480);loops=-1"
    assert tone_stream("440+480/2000,0/4000") == "tone_stream://%(2000,4000,440,480);loops=-1"
    assert tone_stream("!1000/250") == "tone_stream://%(250,0,1000);loops=1"
    assert tone_stream("%(100,0,350)") == "tone_stream://%(100,0,350)"


def test_channel_variables() -> None:
    assert brace_vars({"a": "1", "b": "x y"}) == "{a=1,b='x y'}"
    for bad in ({"a": "1,2"}, {"a": "it's"}, {"a b": "1"}, {"a": "{x}"}):
        with pytest.raises(CommandRejected):
            brace_vars(bad)


def test_originate_variables_with_expansions_are_refused_not_lost() -> None:
    """FreeSWITCH silently drops an originate variable whose value has ``${`` (issue 12
    part 1): the driver says so instead of dialling without it."""
    with pytest.raises(CommandRejected, match=r"h: FreeSWITCH drops"):
        brace_vars({"h": "global_setvar v=${end_epoch}"})


@pytest.mark.parametrize(
    ("headers", "cause", "code"),
    [
        ({"Hangup-Cause": "USER_BUSY", "variable_hangup_cause_q850": "17"}, "USER_BUSY", 17),
        ({"Hangup-Cause": "PICKED_OFF"}, "PICKED_OFF", 26),
        (
            {"Hangup-Cause": "ORIGINATOR_CANCEL", "variable_hangup_cause_q850": "16"},
            "ORIGINATOR_CANCEL",
            16,
        ),
        ({"Hangup-Cause": "DESTINATION_OUT_OF_ORDER"}, "NO_ROUTE_DESTINATION", 3),
        (
            {"Hangup-Cause": "SOMETHING_NEW", "variable_hangup_cause_q850": "21"},
            "CALL_REJECTED",
            21,
        ),
        ({"Hangup-Cause": "SOMETHING_NEW"}, "UNKNOWN", 0),
        ({"Hangup-Cause": "SWITCH_LOST"}, "UNKNOWN", 0),  # a name of ours, not FreeSWITCH's
    ],
)
def test_hangup_causes(headers: dict[str, str], cause: str, code: int) -> None:
    assert hangup_cause(EslEvent(headers)) == (c.HangupCause(cause), code)


def test_causes_we_hang_up_with() -> None:
    assert fs_cause(c.HangupCause.PICKED_OFF) == "PICKED_OFF"
    assert fs_cause(c.HangupCause.UNKNOWN) == "NORMAL_UNSPECIFIED"
    assert fs_cause(c.HangupCause.SWITCH_LOST) == "NORMAL_CLEARING"
