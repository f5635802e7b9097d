"""Foundation e2e: a SIPp call into the real sandbox Asterisk reaches the controller, a
CallOffered lands on ``callctl:events`` and, after the call, a Call row holds the right
numbers and duration (SW-1, RPT-1)."""

from __future__ import annotations

import time

import pytest

from reports.models import Call
from scripts import sipp
from scripts.asterisk_sandbox import free_udp_port
from switch_control import contract as c
from tests.conftest import wait_until
from tests.e2e.helpers import run_projector_until_idle, stream_events

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_inbound_call_is_offered_and_recorded_as_cdr(controller_factory, sip_target, redis_db):
    controller_factory().start()
    caller = sipp.run_sipp(
        sipp.caller_scenario("13800138000", talk_s=3.0),
        target=sip_target,
        port=free_udp_port(),
        service="4001",
    )
    try:
        t0 = time.monotonic()
        offered = wait_until(
            lambda: [e for e in stream_events(redis_db) if isinstance(e, c.CallOffered)],
            10,
            what="CallOffered on callctl:events",
        )
        assert offered[0].caller_number == "13800138000"
        assert offered[0].callee_number == "4001"
        assert offered[0].direction is c.Direction.INBOUND
        assert caller.wait(30) == 0, caller.output()
        wall = time.monotonic() - t0
    finally:
        caller.cleanup()
    wait_until(
        lambda: any(isinstance(e, c.CallEnded) for e in stream_events(redis_db)),
        10,
        what="CallEnded",
    )
    run_projector_until_idle(redis_db)
    call = Call.objects.get(call_id=offered[0].call_id)
    assert call.caller_number == "13800138000"
    assert call.callee_number == "4001"
    assert call.direction == "inbound"
    assert call.caller_region  # 138 0013 8000 is a Chinese mobile number: region known
    assert call.ended_at is not None and call.answered_at is not None
    # the caller talked ~3 s after answer; whole call within what we measured outside
    assert 2.0 <= call.duration <= wall + 0.5, (call.duration, wall)
    assert call.end_cause == "NORMAL_CLEARING"
    assert call.legs.count() == 1
