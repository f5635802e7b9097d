"""The call state machine (folding events) and the default call policy (pure decisions)."""

from __future__ import annotations

from collections.abc import Iterable

from switch_control import contract as c
from switch_control.engine.calls import CallPhase, CallState, apply
from switch_control.engine.policy import PolicyConfig, agent_leg_id, decide

CALL = "call-1"
CALLER = "call-1"  # an inbound call is named after its first leg
A0 = agent_leg_id(CALL, 0)
A1 = agent_leg_id(CALL, 1)
CFG = PolicyConfig(
    welcome=("sound:欢迎致电",),
    agents=("PJSIP/8001", "PJSIP/8002"),
    ring_timeout=15,
    no_agent_prompt=("sound:座席忙",),
)


def offered_caller(at: float = 100.0) -> c.CallOffered:
    return c.CallOffered(
        call_id=CALL,
        leg_id=CALLER,
        direction=c.Direction.INBOUND,
        role=c.LegRole.CALLER,
        caller_number="13800138000",
        caller_name="张三",
        callee_number="4008123123",
        at=at,
    )


def offered_agent(leg: str, dest: str, at: float) -> c.CallOffered:
    return c.CallOffered(
        call_id=CALL,
        leg_id=leg,
        direction=c.Direction.OUTBOUND,
        role=c.LegRole.AGENT,
        caller_number="13800138000",
        callee_number=dest,
        at=at,
    )


def fold(events: Iterable[c.Event], state: CallState | None = None) -> CallState | None:
    for ev in events:
        state = apply(state, ev)
    return state


def talking_call() -> CallState:
    state = fold(
        [
            offered_caller(100.0),
            c.CallAnswered(call_id=CALL, leg_id=CALLER, at=101.0),
            c.CallBridged(call_id=CALL, leg_id=CALLER, bridge_id=CALL, at=101.5),
            offered_agent(A0, "PJSIP/8001", 102.0),
            c.CallRinging(call_id=CALL, leg_id=A0, at=102.1),
            c.CallAnswered(call_id=CALL, leg_id=A0, at=105.0),
            c.CallBridged(call_id=CALL, leg_id=A0, bridge_id=CALL, at=105.1),
        ]
    )
    assert state is not None
    return state


def step(state: CallState | None, event: c.Event) -> tuple[CallState | None, list[c.Command]]:
    after = apply(state, event)
    return after, list(decide(state, after, event, CFG))


# =========================================================================== CallState


def test_inbound_call_folds_to_talking() -> None:
    s = apply(None, offered_caller(100.0))
    assert s is not None
    assert s.call_id == CALL
    assert s.phase is CallPhase.OFFERED
    assert (s.caller, s.callee, s.direction) == ("13800138000", "4008123123", "inbound")
    assert s.started_at == 100.0
    assert s.customer_leg is not None and s.customer_leg.leg_id == CALLER
    assert [x.leg_id for x in s.live_legs] == [CALLER]

    s = apply(s, c.CallAnswered(call_id=CALL, leg_id=CALLER, at=101.0))
    assert s is not None
    assert s.answered_at == 101.0
    assert s.leg(CALLER).up  # type: ignore[union-attr]
    assert s.phase is not CallPhase.TALKING  # nobody to talk to yet

    s = apply(s, c.CallBridged(call_id=CALL, leg_id=CALLER, bridge_id=CALL, at=101.5))
    s = apply(s, offered_agent(A0, "PJSIP/8001", 102.0))
    assert s is not None
    assert s.caller == "13800138000"  # an agent leg does not overwrite the customer's number
    assert s.leg(A0) is not None and s.leg(A0).role == "agent"  # type: ignore[union-attr]
    assert s.phase is not CallPhase.TALKING

    s = apply(s, c.CallAnswered(call_id=CALL, leg_id=A0, at=105.0))
    assert s is not None
    assert s.answered_at == 101.0  # the call's answer time is the first answer
    assert s.phase is not CallPhase.TALKING  # answered but not yet in the bridge

    s = apply(s, c.CallBridged(call_id=CALL, leg_id=A0, bridge_id=CALL, at=105.1))
    assert s is not None
    assert s.phase is CallPhase.TALKING
    assert {x.leg_id: (x.up, x.bridge_id) for x in s.legs} == {
        CALLER: (True, CALL),
        A0: (True, CALL),
    }
    assert s == talking_call()


def test_ringing_event_moves_offered_to_ringing() -> None:
    s = fold([offered_caller(), c.CallRinging(call_id=CALL, leg_id=CALLER)])
    assert s is not None and s.phase is CallPhase.RINGING


def test_hold_and_resume() -> None:
    s = talking_call()
    s = apply(s, c.CallHeld(call_id=CALL, leg_id=CALLER, at=110.0))
    assert s is not None and s.phase is CallPhase.HELD
    # another answer/bridge event while held does not silently un-hold the call
    s2 = apply(s, c.CallAnswered(call_id=CALL, leg_id=A0, at=111.0))
    assert s2 is not None and s2.phase is CallPhase.HELD
    s = apply(s, c.CallResumed(call_id=CALL, leg_id=CALLER, at=112.0))
    assert s is not None and s.phase is CallPhase.TALKING


def test_caller_hangup_ends_the_call() -> None:
    s = talking_call()
    s = apply(s, c.CallEnded(call_id=CALL, leg_id=CALLER, at=130.0))
    assert s is not None
    assert s.phase is CallPhase.ENDED
    assert s.ended_at == 130.0
    caller = s.leg(CALLER)
    assert caller is not None and caller.ended and not caller.up and caller.bridge_id == ""
    # the agent leg is still live until the switch says otherwise
    assert [x.leg_id for x in s.live_legs] == [A0]
    # an ended call stays ended, whatever arrives late
    late = fold(
        [
            c.CallEnded(call_id=CALL, leg_id=A0, at=131.0),
            c.CallAnswered(call_id=CALL, leg_id=A0, at=132.0),
            c.CallHeld(call_id=CALL, leg_id=A0, at=133.0),
        ],
        s,
    )
    assert late == s


def test_agent_hangup_alone_does_not_end_the_call() -> None:
    s = apply(talking_call(), c.CallEnded(call_id=CALL, leg_id=A0, at=120.0))
    assert s is not None
    assert s.phase is not CallPhase.ENDED
    assert s.ended_at == 0.0
    assert [x.leg_id for x in s.live_legs] == [CALLER]


def test_last_leg_ending_ends_an_outbound_call() -> None:
    # an outbound call: no caller-role leg; it ends when its last leg ends
    s = fold(
        [
            offered_agent(A0, "PJSIP/8001", 10.0),
            c.CallAnswered(call_id=CALL, leg_id=A0, at=11.0),
            c.CallEnded(call_id=CALL, leg_id=A0, at=20.0),
        ]
    )
    assert s is not None and s.phase is CallPhase.ENDED and s.ended_at == 20.0


def test_events_for_unknown_legs_or_no_call_change_nothing() -> None:
    s = talking_call()
    assert apply(s, c.CallAnswered(call_id=CALL, leg_id="stranger")) == s
    assert apply(s, c.SwitchConnected(switch="asterisk")) is s
    assert apply(None, c.AgentStateChanged(agent_id="7", state="ready")) is None


def test_duplicate_offer_does_not_add_a_leg() -> None:
    s = fold([offered_caller(), offered_caller()])
    assert s is not None and len(s.legs) == 1


def test_state_json_round_trip() -> None:
    s = apply(talking_call(), c.CallHeld(call_id=CALL, leg_id=CALLER, at=110.0))
    assert s is not None
    data = s.to_json()
    back = CallState.from_json(data)
    assert back == s
    assert back.phase is CallPhase.HELD
    assert isinstance(back.legs, tuple)
    # and the restored state keeps folding like the original
    ev = c.CallEnded(call_id=CALL, leg_id=CALLER, at=140.0)
    assert apply(back, ev) == apply(s, ev)
    ended = apply(s, ev)
    assert ended is not None
    assert CallState.from_json(ended.to_json()) == ended


# =========================================================================== policy


def test_inbound_caller_is_answered_welcomed_bridged_and_agent_rung() -> None:
    _, cmds = step(None, offered_caller())
    assert [type(x) for x in cmds] == [c.AnswerCall, c.PlayPrompt, c.Bridge, c.Originate]
    answer, prompt, bridge, ring = cmds
    assert isinstance(answer, c.AnswerCall) and answer.leg_id == CALLER
    assert isinstance(prompt, c.PlayPrompt)
    assert prompt.leg_id == CALLER and prompt.media == ("sound:欢迎致电",)
    assert isinstance(bridge, c.Bridge)
    assert bridge.leg_ids == (CALLER,) and bridge.bridge_id == CALL and bridge.call_id == CALL
    assert isinstance(ring, c.Originate)
    assert ring.destination == "PJSIP/8001"
    assert ring.kind is c.EndpointKind.AGENT
    assert ring.bridge_id == CALL  # connect on answer
    assert ring.call_id == CALL
    assert ring.leg_id == A0 == f"a0-{CALL}"
    assert ring.caller_id_number == "13800138000"  # the agent sees who is calling
    assert ring.timeout == 15


def test_decisions_are_deterministic_for_redelivery() -> None:
    _, first = step(None, offered_caller())
    _, again = step(None, offered_caller())
    ring1, ring2 = first[-1], again[-1]
    assert isinstance(ring1, c.Originate) and isinstance(ring2, c.Originate)
    # same leg id: the switch refuses the duplicate instead of ringing the agent twice
    assert ring1.leg_id == ring2.leg_id
    assert ring1.destination == ring2.destination


def test_failed_agent_leg_rings_the_next_agent() -> None:
    s = fold(
        [
            offered_caller(),
            c.CallAnswered(call_id=CALL, leg_id=CALLER),
            c.CallBridged(call_id=CALL, leg_id=CALLER, bridge_id=CALL),
            offered_agent(A0, "PJSIP/8001", 102.0),
            c.CallRinging(call_id=CALL, leg_id=A0),
        ]
    )
    s, cmds = step(s, c.CallEnded(call_id=CALL, leg_id=A0, cause=c.HangupCause.NO_ANSWER))
    assert len(cmds) == 1
    (ring,) = cmds
    assert isinstance(ring, c.Originate)
    assert ring.destination == "PJSIP/8002"
    assert ring.leg_id == A1
    assert ring.bridge_id == CALL
    assert ring.caller_id_number == "13800138000"
    assert s is not None and s.phase is not CallPhase.ENDED


def test_all_agents_failed_caller_told_and_released() -> None:
    s = fold(
        [
            offered_caller(),
            c.CallAnswered(call_id=CALL, leg_id=CALLER),
            c.CallBridged(call_id=CALL, leg_id=CALLER, bridge_id=CALL),
            offered_agent(A0, "PJSIP/8001", 102.0),
            c.CallEnded(call_id=CALL, leg_id=A0, cause=c.HangupCause.USER_BUSY),
            offered_agent(A1, "PJSIP/8002", 103.0),
        ]
    )
    s, cmds = step(s, c.CallEnded(call_id=CALL, leg_id=A1, cause=c.HangupCause.NO_ANSWER))
    assert [type(x) for x in cmds] == [c.PlayPrompt, c.Hangup]
    prompt, hangup = cmds
    assert isinstance(prompt, c.PlayPrompt)
    assert prompt.leg_id == CALLER and prompt.media == ("sound:座席忙",)
    assert prompt.wait is True  # the caller hears it before being released
    assert isinstance(hangup, c.Hangup) and hangup.leg_id == CALLER
    assert hangup.cause is c.HangupCause.NORMAL_CLEARING


def test_caller_hangup_hangs_up_every_other_live_leg() -> None:
    s = fold(
        [
            offered_caller(),
            c.CallAnswered(call_id=CALL, leg_id=CALLER),
            offered_agent(A0, "PJSIP/8001", 102.0),
            c.CallEnded(call_id=CALL, leg_id=A0, cause=c.HangupCause.NO_ANSWER),  # already gone
            offered_agent(A1, "PJSIP/8002", 103.0),
            c.CallOffered(
                call_id=CALL,
                leg_id="sup-1",
                direction=c.Direction.OUTBOUND,
                role=c.LegRole.SUPERVISOR,
                callee_number="8100",
            ),
        ]
    )
    s, cmds = step(s, c.CallEnded(call_id=CALL, leg_id=CALLER, cause=c.HangupCause.NORMAL_CLEARING))
    assert s is not None and s.phase is CallPhase.ENDED
    assert all(isinstance(x, c.Hangup) for x in cmds)
    assert sorted(x.leg_id for x in cmds) == sorted([A1, "sup-1"])  # type: ignore[attr-defined]
    # nothing more to do once it is over (a later event decides nothing)
    _, later = step(s, c.CallEnded(call_id=CALL, leg_id=A1))
    assert later == []


def test_answered_agent_hanging_up_releases_the_caller() -> None:
    _, cmds = step(talking_call(), c.CallEnded(call_id=CALL, leg_id=A0))
    assert len(cmds) == 1
    (hangup,) = cmds
    assert isinstance(hangup, c.Hangup) and hangup.leg_id == CALLER


def test_no_agents_configured_only_answer_and_prompt() -> None:
    cfg = PolicyConfig(welcome=("sound:hello",), agents=())
    after = apply(None, offered_caller())
    cmds = list(decide(None, after, offered_caller(), cfg))
    assert [type(x) for x in cmds] == [c.AnswerCall, c.PlayPrompt]
    assert all(getattr(x, "leg_id", "") == CALLER for x in cmds)


def test_outbound_or_agent_offers_decide_nothing() -> None:
    ev = offered_agent(A0, "PJSIP/8001", 1.0)
    assert list(decide(None, apply(None, ev), ev, CFG)) == []
    out = c.CallOffered(
        call_id="o1", leg_id="o1", direction=c.Direction.OUTBOUND, caller_number="4008123123"
    )
    assert list(decide(None, apply(None, out), out, CFG)) == []


def test_events_without_a_call_decide_nothing() -> None:
    ev = c.SwitchConnected(switch="fake")
    assert list(decide(None, apply(None, ev), ev, CFG)) == []
