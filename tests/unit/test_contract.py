"""The versioned JSON contract: every message round-trips, and anything else is refused with
a ``ContractError`` whose message says what is wrong (it ends up as the dead-letter reason
an operator reads)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from switch_control import contract as c
from switch_control.contract.codec import MAX_MESSAGE_BYTES
from switch_control.errors import ContractError

REPO = Path(__file__).resolve().parents[2]

CALL = "call-9f1c"
LEG = "leg-caller-01"
AGENT_LEG = "call-9f1c-a0"

# One instance of every message type, each field set to a non-default value where it has a
# default, with Chinese text and real-looking phone numbers.
SAMPLES: list[c.Message] = [
    # ---- commands
    c.AnswerCall(id="cmd-answer", leg_id=LEG),
    # ACD agent commands (ACD-7, ACD-8)
    c.LoginAgent(
        id="cmd-login",
        agent_id="工号007",
        extension="1001",
        queue_ids=("q-售前", "q-投诉"),
        ready=True,
        reason="",
        by="user-3",
    ),
    c.LogoutAgent(id="cmd-logout", agent_id="工号007", by="工号007"),
    c.SetAgentState(
        id="cmd-state",
        agent_id="工号007",
        state=c.AgentStateRequest.NOT_READY,
        reason="break",
        by="班长-1",
    ),
    c.PlayPrompt(
        id="cmd-play",
        leg_id=LEG,
        media=("sound:欢迎致电", "digits:13800138000", "file:/var/提示音/欢迎.wav"),
        playback_id="pb-1",
        wait=True,
    ),
    c.CollectDigits(
        id="cmd-collect",
        leg_id=LEG,
        prompt=("sound:请输入工号",),
        max_digits=6,
        terminator="*",
        first_digit_timeout=2.5,
        inter_digit_timeout=1.25,
        overall_timeout=30.0,
    ),
    c.Record(
        id="cmd-record",
        leg_id=LEG,
        bridge_id="br-1",
        name="录音-2024-0001",
        format="gsm",
        max_duration=3600,
        beep=True,
    ),
    c.StopRecording(id="cmd-stoprec", name="录音-2024-0001"),
    c.Bridge(id="cmd-bridge", call_id=CALL, leg_ids=(LEG, AGENT_LEG), bridge_id=CALL),
    c.Originate(
        id="cmd-originate",
        call_id=CALL,
        leg_id=AGENT_LEG,
        destination="+86 10 8888 6666",
        kind=c.EndpointKind.EXTERNAL,
        bridge_id=CALL,
        caller_id_number="+8613800138000",
        caller_id_name="张三",
        timeout=45,
        variables={"CC_CALL_ID": CALL, "客户": "李四"},
    ),
    c.Transfer(
        id="cmd-transfer",
        call_id=CALL,
        leg_id=LEG,
        destination="13912345678",
        kind=c.EndpointKind.EXTERNAL,
        mode=c.TransferMode.ATTENDED,
        new_leg_id="leg-consult",
    ),
    c.CompleteTransfer(id="cmd-complete", call_id=CALL, leg_id=AGENT_LEG),
    c.CancelTransfer(id="cmd-cancel", call_id=CALL, leg_id=AGENT_LEG),
    c.Hold(id="cmd-hold", leg_id=LEG),
    c.Unhold(id="cmd-unhold", leg_id=LEG),
    c.Conference(
        id="cmd-conf",
        call_id=CALL,
        leg_id=AGENT_LEG,
        destination="8002",
        kind=c.EndpointKind.RAW,
        new_leg_id="leg-conf",
    ),
    c.Pickup(
        id="cmd-pickup",
        call_id=CALL,
        ringing_leg_id=AGENT_LEG,
        destination="8003",
        new_leg_id="leg-pickup",
    ),
    c.Listen(
        id="cmd-listen",
        call_id=CALL,
        agent_leg_id=AGENT_LEG,
        supervisor="13900001111",
        kind=c.EndpointKind.EXTERNAL,
        new_leg_id="s1",
    ),
    c.Whisper(
        id="cmd-whisper", call_id=CALL, agent_leg_id=AGENT_LEG, supervisor="8100", new_leg_id="s2"
    ),
    c.Barge(
        id="cmd-barge", call_id=CALL, agent_leg_id=AGENT_LEG, supervisor="8100", new_leg_id="s3"
    ),
    c.Intercept(
        id="cmd-intercept",
        call_id=CALL,
        agent_leg_id=AGENT_LEG,
        supervisor="8100",
        new_leg_id="s4",
    ),
    c.Hangup(id="cmd-hangup", leg_id=LEG, cause=c.HangupCause.USER_BUSY),
    # ---- events
    c.CallOffered(
        id="ev-offered",
        at=1_700_000_000.125,
        call_id=CALL,
        leg_id=LEG,
        direction=c.Direction.OUTBOUND,
        role=c.LegRole.EXTERNAL,
        caller_number="+8613800138000",
        caller_name="王小明",
        callee_number="4008123123",
        channel_name="PJSIP/trunk-0000001a",
        switch="asterisk",
    ),
    c.CallRinging(id="ev-ringing", at=1_700_000_001.5, call_id=CALL, leg_id=LEG),
    c.CallAnswered(id="ev-answered", at=1_700_000_002.0, call_id=CALL, leg_id=LEG),
    c.DtmfReceived(
        id="ev-dtmf", at=1_700_000_003.0, call_id=CALL, leg_id=LEG, digit="#", duration_ms=120
    ),
    c.DigitsCollected(
        id="ev-digits",
        at=1_700_000_004.0,
        call_id=CALL,
        leg_id=LEG,
        command_id="cmd-collect",
        digits="123456",
        timed_out=True,
    ),
    c.PlaybackFinished(
        id="ev-pbf", at=1_700_000_005.0, call_id=CALL, leg_id=LEG, playback_id="pb-1"
    ),
    c.CallBridged(id="ev-br", at=1_700_000_006.0, call_id=CALL, leg_id=LEG, bridge_id=CALL),
    c.CallUnbridged(id="ev-unbr", at=1_700_000_007.0, call_id=CALL, leg_id=LEG, bridge_id=CALL),
    c.CallHeld(id="ev-held", at=1_700_000_008.0, call_id=CALL, leg_id=LEG),
    c.CallResumed(id="ev-resumed", at=1_700_000_009.0, call_id=CALL, leg_id=LEG),
    c.CallEnded(
        id="ev-ended",
        at=1_700_000_010.75,
        call_id=CALL,
        leg_id=LEG,
        cause=c.HangupCause.NO_ANSWER,
        cause_code=19,
    ),
    c.RecordingStarted(
        id="ev-recstart",
        at=1_700_000_011.0,
        call_id=CALL,
        name="录音-2024-0001",
        leg_id=LEG,
        bridge_id="br-1",
    ),
    c.RecordingFinished(
        id="ev-recfin",
        at=1_700_000_012.0,
        call_id=CALL,
        name="录音-2024-0001",
        format="gsm",
        duration=61.5,
        leg_id=LEG,
        bridge_id="br-1",
    ),
    c.AgentStateChanged(
        id="ev-agent",
        at=1_700_000_013.0,
        agent_id="工号007",
        state="not_ready",
        reason="午休",
        previous="ready",
        by="组长-李",
        queue_ids=("q-售前", "q-投诉"),
    ),
    c.CallQueued(
        id="ev-queued",
        at=1_700_000_013.1,
        call_id=CALL,
        queue_id="q-售前",
        position=3,
        leg_id=LEG,
        priority=9,
    ),
    c.AgentOffered(
        id="ev-agent-offered",
        at=1_700_000_013.2,
        call_id=CALL,
        agent_id="工号007",
        queue_id="q-售前",
        leg_id=AGENT_LEG,
    ),
    c.CallAbandoned(
        id="ev-abandoned",
        at=1_700_000_013.3,
        call_id=CALL,
        queue_id="q-售前",
        waited=47.25,
        position=2,
    ),
    c.EndpointStatusChanged(
        id="ev-endpoint",
        at=1_700_000_013.5,
        endpoint="1001",
        online=True,
        contact="sip:1001@127.0.0.1:5062",
    ),
    c.CommandFailed(
        id="ev-failed",
        at=1_700_000_014.0,
        command_id="cmd-hangup",
        command_type="Hangup",
        error="NoSuchCall",
        reason="通道不存在: leg-caller-01",
    ),
    c.SwitchConnected(id="ev-swup", at=1_700_000_015.0, switch="asterisk", version="22.1.0"),
    c.SwitchDisconnected(
        id="ev-swdown", at=1_700_000_016.0, switch="freeswitch", reason="连接被拒绝"
    ),
]


def _wire(type_: str, **fields: object) -> bytes:
    return orjson.dumps({"type": type_, "v": 1, "id": "m-1", **fields})


def _refused(data: bytes | str) -> str:
    with pytest.raises(ContractError) as info:
        c.decode(data)
    return str(info.value)


# --------------------------------------------------------------------------- round trips


def test_samples_cover_every_registered_type() -> None:
    covered = {type(m) for m in SAMPLES}
    assert covered == set(c.REGISTRY.values())
    assert len(SAMPLES) == len(c.REGISTRY) == len(c.COMMANDS) + len(c.ACD_COMMANDS) + len(c.EVENTS)


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: m.TYPE)
def test_round_trip(message: c.Message) -> None:
    data = c.encode(message)
    wire = orjson.loads(data)
    assert wire["type"] == message.TYPE
    assert wire["v"] == message.VERSION
    assert wire["id"] == message.id

    back = c.decode(data)
    assert type(back) is type(message)
    assert back == message
    # a decoded message re-encodes to the same bytes (stable wire form)
    assert c.encode(back) == data
    # and can be insisted on as its kind
    kind = c.Command if isinstance(message, c.Command) else c.Event
    assert c.decode_as(data, kind) == message


def test_chinese_text_and_numbers_survive_as_utf8() -> None:
    msg = next(m for m in SAMPLES if isinstance(m, c.Originate))
    data = c.encode(msg)
    assert "张三".encode() in data  # real UTF-8 on the wire, not \\u escapes
    back = c.decode(data.decode())  # str input is accepted too
    assert isinstance(back, c.Originate)
    assert back.caller_id_name == "张三"
    assert back.caller_id_number == "+8613800138000"
    assert back.destination == "+86 10 8888 6666"
    assert back.variables == {"CC_CALL_ID": CALL, "客户": "李四"}
    assert back.kind is c.EndpointKind.EXTERNAL


def test_decoded_fields_get_their_python_types() -> None:
    data = _wire("PlayPrompt", leg_id="l", media=["sound:a", "sound:b"], wait=True)
    msg = c.decode(data)
    assert isinstance(msg, c.PlayPrompt)
    assert msg.media == ("sound:a", "sound:b")  # tuple, so the message stays hashable
    hash(msg)
    ended = c.decode(_wire("CallEnded", call_id="c", leg_id="l", cause="USER_BUSY", at=5))
    assert isinstance(ended, c.CallEnded)
    assert ended.cause is c.HangupCause.USER_BUSY
    assert isinstance(ended.at, float) and ended.at == 5.0


def test_defaults_fill_absent_optional_fields() -> None:
    msg = c.decode(b'{"type": "Hangup", "v": 1, "id": "h1", "leg_id": "x"}')
    assert msg == c.Hangup(id="h1", leg_id="x", cause=c.HangupCause.NORMAL_CLEARING)
    # id itself has a default: a sender may leave it out and still get a unique id
    a = c.decode(b'{"type": "Hangup", "v": 1, "leg_id": "x"}')
    b = c.decode(b'{"type": "Hangup", "v": 1, "leg_id": "x"}')
    assert a.id and b.id and a.id != b.id


def test_only_agent_state_changed_moved_past_v1() -> None:
    """A schema change bumps the type's version and lists how older ones are read."""
    assert {t.TYPE: t.VERSION for t in c.REGISTRY.values() if t.VERSION != 1} == {
        "AgentStateChanged": 2
    }


def test_agent_state_changed_v1_still_decodes_without_the_new_fields() -> None:
    v1 = orjson.dumps(
        {
            "type": "AgentStateChanged",
            "v": 1,
            "id": "ev-old",
            "at": 5,
            "agent_id": "007",
            "state": "ready",
            "previous": "wrap_up",
        }
    )
    msg = c.decode(v1)
    assert msg == c.AgentStateChanged(
        id="ev-old", at=5.0, agent_id="007", state="ready", previous="wrap_up"
    )
    assert isinstance(msg, c.AgentStateChanged) and msg.by == "" and msg.queue_ids == ()
    assert orjson.loads(c.encode(msg))["v"] == 2  # re-encoded as the current version
    for version in (3, 0):
        reason = _refused(orjson.dumps(orjson.loads(v1) | {"v": version}))
        assert reason == (
            f"AgentStateChanged: unsupported schema version {version} (this build speaks v2)"
        )


@pytest.mark.parametrize(
    ("type_", "fields", "expected"),
    [
        ("LoginAgent", {"extension": "1001"}, "LoginAgent: missing field 'agent_id'"),
        (
            "LoginAgent",
            {"agent_id": "7", "queue_ids": "q1"},
            "LoginAgent.queue_ids: expected a list, got str",
        ),
        (
            "SetAgentState",
            {"agent_id": "7", "state": "lunch"},
            "SetAgentState.state: ",
        ),
        ("SetAgentState", {"agent_id": "7"}, "SetAgentState: missing field 'state'"),
        ("LogoutAgent", {"agent_id": 7}, "LogoutAgent.agent_id: expected a string, got int"),
    ],
)
def test_acd_commands_refuse_bad_values(
    type_: str, fields: dict[str, object], expected: str
) -> None:
    """ACD-7: a malformed agent command is refused with a reason, never half-read."""
    assert _refused(_wire(type_, **fields)).startswith(expected)


def test_acd_commands_are_commands_with_agent_ordering() -> None:
    assert set(c.ACD_COMMANDS) <= set(c.REGISTRY.values())
    assert not set(c.ACD_COMMANDS) & set(c.SWITCH_COMMANDS)
    cmd = c.decode(_wire("SetAgentState", agent_id="7", state="ready"))
    assert isinstance(cmd, c.SetAgentState)
    assert cmd.state is c.AgentStateRequest.READY


@pytest.mark.parametrize(
    ("type_", "fields", "expected"),
    [
        (
            "CallQueued",
            {"call_id": "c", "queue_id": "q"},
            "CallQueued: missing field 'position'",
        ),
        (
            "CallQueued",
            {"call_id": "c", "queue_id": "q", "position": "3"},
            "CallQueued.position: expected an integer, got '3'",
        ),
        (
            "AgentOffered",
            {"call_id": "c", "agent_id": 7, "queue_id": "q", "leg_id": "l"},
            "AgentOffered.agent_id: expected a string, got int",
        ),
        (
            "CallAbandoned",
            {"call_id": "c", "queue_id": "q", "waited": "long"},
            "CallAbandoned.waited: expected a number, got 'long'",
        ),
        (
            "AgentStateChanged",
            {"agent_id": "7", "state": "ready", "queue_ids": "q1"},
            "AgentStateChanged.queue_ids: expected a list, got str",
        ),
        (
            "CallQueued",
            {"call_id": "c", "queue_id": "q", "position": 1, "agent_id": "7"},
            "CallQueued: unknown field(s) agent_id",
        ),
    ],
)
def test_acd_events_refuse_bad_values(type_: str, fields: dict[str, object], expected: str) -> None:
    version = c.REGISTRY[type_].VERSION
    data = orjson.dumps({"type": type_, "v": version, "id": "m-1", **fields})
    assert _refused(data).startswith(expected)


# --------------------------------------------------------------------------- refusals


def test_not_json() -> None:
    assert "not valid JSON" in _refused(b"{this is not json")
    assert "not valid JSON" in _refused(b"")
    assert "not valid JSON" in _refused(b"\xff\xfe\x00garbage")


@pytest.mark.parametrize(
    ("data", "kind"),
    [(b"[1, 2]", "list"), (b'"AnswerCall"', "str"), (b"42", "int"), (b"null", "NoneType")],
)
def test_not_an_object(data: bytes, kind: str) -> None:
    assert _refused(data) == f"expected a JSON object, got {kind}"


@pytest.mark.parametrize("data", [b'{"v": 1, "leg_id": "x"}', b'{"type": 5, "v": 1}'])
def test_missing_type(data: bytes) -> None:
    assert _refused(data) == "missing 'type'"


def test_unknown_type() -> None:
    assert _refused(_wire("MakeCoffee", leg_id="x")) == "unknown message type 'MakeCoffee'"
    # type names are exact (case matters)
    assert "unknown message type 'answercall'" in _refused(_wire("answercall", leg_id="x"))


@pytest.mark.parametrize("version", [2, 0, "1", None])
def test_wrong_version(version: object) -> None:
    data = orjson.dumps({"type": "AnswerCall", "v": version, "leg_id": "x"})
    reason = _refused(data)
    assert "AnswerCall" in reason
    assert f"unsupported schema version {version!r}" in reason
    assert "v1" in reason


def test_missing_version() -> None:
    reason = _refused(b'{"type": "AnswerCall", "leg_id": "x"}')
    assert reason.startswith("AnswerCall: unsupported schema version None")


@pytest.mark.parametrize("version", [True, 1.0], ids=["true", "float-1.0"])
def test_version_must_be_the_integer_1(version: object) -> None:
    """BUG: the codec compares ``version != cls.VERSION`` and Python's ``True == 1`` and
    ``1.0 == 1``, so ``"v": true`` and ``"v": 1.0`` are accepted as schema version 1."""
    data = orjson.dumps({"type": "AnswerCall", "v": version, "leg_id": "x"})
    with pytest.raises(ContractError, match="unsupported schema version"):
        c.decode(data)


def test_unknown_fields_are_named() -> None:
    reason = _refused(_wire("AnswerCall", leg_id="x", zebra=1, apple="y"))
    assert reason == "AnswerCall: unknown field(s) apple, zebra"
    # a field of another message type is still unknown here
    assert "unknown field(s) cause" in _refused(_wire("AnswerCall", leg_id="x", cause="X"))


def test_missing_required_field() -> None:
    assert _refused(_wire("AnswerCall")) == "AnswerCall: missing field 'leg_id'"
    reason = _refused(_wire("Originate", leg_id="l"))
    assert reason == "Originate: missing field 'destination'"


def test_empty_id_refused() -> None:
    assert _refused(_wire("AnswerCall", leg_id="x", id="")) == "AnswerCall: empty id"


@pytest.mark.parametrize(
    ("type_", "fields", "expected"),
    [
        # str where an int belongs, and the other way round
        (
            "CollectDigits",
            {"leg_id": "l", "max_digits": "4"},
            "CollectDigits.max_digits: expected an integer, got '4'",
        ),
        ("AnswerCall", {"leg_id": 12345}, "AnswerCall.leg_id: expected a string, got int"),
        ("AnswerCall", {"leg_id": None}, "AnswerCall.leg_id: expected a string, got NoneType"),
        # bool is not an int, an int is not a bool
        (
            "CollectDigits",
            {"leg_id": "l", "max_digits": True},
            "CollectDigits.max_digits: expected an integer, got True",
        ),
        (
            "PlayPrompt",
            {"leg_id": "l", "media": [], "wait": 1},
            "PlayPrompt.wait: expected true/false, got 1",
        ),
        # a float is not an int either
        (
            "Originate",
            {"leg_id": "l", "destination": "d", "timeout": 30.5},
            "Originate.timeout: expected an integer, got 30.5",
        ),
        # list vs str, both ways, and the items of a list
        (
            "PlayPrompt",
            {"leg_id": "l", "media": "sound:hello"},
            "PlayPrompt.media: expected a list, got str",
        ),
        ("AnswerCall", {"leg_id": ["a", "b"]}, "AnswerCall.leg_id: expected a string, got list"),
        (
            "PlayPrompt",
            {"leg_id": "l", "media": ["sound:a", 7]},
            "PlayPrompt.media[1]: expected a string, got int",
        ),
        # a dict of strings
        (
            "Originate",
            {"leg_id": "l", "destination": "d", "variables": ["x"]},
            "Originate.variables: expected an object, got list",
        ),
        (
            "Originate",
            {"leg_id": "l", "destination": "d", "variables": {"CC_CALL_ID": 1}},
            "Originate.variables.CC_CALL_ID: expected a string, got int",
        ),
        # enum values outside the allowed set
        (
            "Hangup",
            {"leg_id": "l", "cause": "TOO_TIRED"},
            "Hangup.cause: 'TOO_TIRED' is not one of NORMAL_CLEARING, USER_BUSY",
        ),
        (
            "Hangup",
            {"leg_id": "l", "cause": "normal_clearing"},
            "Hangup.cause: 'normal_clearing' is not one of",
        ),
        (
            "CallOffered",
            {"call_id": "c", "leg_id": "l", "direction": "sideways"},
            "CallOffered.direction: 'sideways' is not one of inbound, outbound, internal",
        ),
        # a number where a number belongs, but not a string or a bool
        (
            "CallEnded",
            {"call_id": "c", "leg_id": "l", "at": "yesterday"},
            "CallEnded.at: expected a number, got 'yesterday'",
        ),
        (
            "CallEnded",
            {"call_id": "c", "leg_id": "l", "at": False},
            "CallEnded.at: expected a number, got False",
        ),
    ],
)
def test_wrong_field_types(type_: str, fields: dict[str, object], expected: str) -> None:
    reason = _refused(_wire(type_, **fields))
    assert reason.startswith(expected), reason


@pytest.mark.parametrize(
    "number", [b"1e999", b"-1e999", b"NaN", b"Infinity", b"-Infinity"], ids=bytes.decode
)
def test_non_finite_float_refused(number: bytes) -> None:
    data = b'{"type": "CallEnded", "v": 1, "call_id": "c", "leg_id": "l", "at": ' + number + b"}"
    reason = _refused(data)
    # orjson itself refuses these literals; either way the reason names the problem
    assert "infinity" in reason.lower() or "finite" in reason or "not valid JSON" in reason


def test_non_finite_float_written_by_a_sender_is_refused_on_read() -> None:
    # encode does not validate: a NaN/inf becomes JSON null, which decode then refuses
    # (the consumer dead-letters it with this reason)
    data = c.encode(c.CollectDigits(leg_id="l", overall_timeout=float("inf")))
    assert "CollectDigits.overall_timeout: expected a number" in _refused(data)


def test_oversized_message_refused_before_parsing() -> None:
    huge = _wire("PlayPrompt", leg_id="l", media=["sound:" + "x" * MAX_MESSAGE_BYTES])
    reason = _refused(huge)
    assert reason == f"message too large ({len(huge)} bytes > {MAX_MESSAGE_BYTES})"
    # just under the limit is fine
    filler = MAX_MESSAGE_BYTES - len(_wire("PlayPrompt", leg_id="l", media=["sound:"])) - 64
    ok = _wire("PlayPrompt", leg_id="l", media=["sound:" + "y" * filler])
    assert len(ok) <= MAX_MESSAGE_BYTES
    assert isinstance(c.decode(ok), c.PlayPrompt)


def test_decode_as_insists_on_the_kind() -> None:
    event = c.encode(c.CallAnswered(call_id="c", leg_id="l"))
    with pytest.raises(ContractError, match="CallAnswered is not a Command"):
        c.decode_as(event, c.Command)
    command = c.encode(c.AnswerCall(leg_id="l"))
    with pytest.raises(ContractError, match="AnswerCall is not a Event"):
        c.decode_as(command, c.Event)


def test_contract_error_is_a_value_error() -> None:
    # callers that only know ValueError still catch poison messages
    with pytest.raises(ValueError):
        c.decode(b"nope")


# --------------------------------------------------------------------------- no Django


def test_contract_imports_without_django() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO")}
    env["PYTHONPATH"] = str(REPO)
    code = (
        "import sys\n"
        "import switch_control.contract as c\n"
        "msg = c.decode(c.encode(c.AnswerCall(leg_id='x')))\n"
        "assert msg.leg_id == 'x'\n"
        "bad = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.'))\n"
        "print('DJANGO:' + ','.join(bad))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "DJANGO:", proc.stdout


def test_message_ids_are_distinct_uuid4_and_differ_between_processes() -> None:
    """Ids name events in the projector's idempotency table and legs on the switch: two
    messages, or two controller processes, must never draw the same one."""
    import uuid

    ids = {c.AnswerCall(leg_id=LEG).id for _ in range(20_000)}
    assert len(ids) == 20_000
    for value in list(ids)[:200]:
        parsed = uuid.UUID(value)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122 and parsed.hex == value
    code = "from switch_control.contract.base import new_id; print(new_id())"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    drawn = {
        subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        ).stdout.strip()
        for _ in range(3)
    }
    assert len(drawn) == 3
