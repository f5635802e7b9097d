"""SW-4: while the controller's ARI app is not registered, the ERROR line comes once the
outage outlasts a switch's start-up, then again with backoff — never once per retry — and
only when the switch is reachable (a dead switch is the warning and status it always was)."""

from __future__ import annotations

import itertools

from switch_control.protocols.ari.events import (
    ALARM_GRACE_S,
    AppRegistration,
    alarm_repeat_after,
)


def test_repeat_interval_doubles_to_a_cap():
    assert [alarm_repeat_after(n) for n in range(1, 8)] == [30, 60, 120, 240, 480, 900, 900]


def lines_logged(reg: AppRegistration, attempts_at: list[float], reachable: bool = True) -> list:
    return [t for t in attempts_at if reg.failed("upgrade not answered", reachable, now=t)]


def test_error_lines_over_an_hour_of_retries_every_15s():
    reg = AppRegistration("callcenter")
    tries = [15.0 * i for i in range(240)]  # an hour of attempts
    logged = lines_logged(reg, tries)
    assert logged[0] == 15.0 and logged[0] >= ALARM_GRACE_S
    assert logged == [15, 45, 105, 225, 465, 945, 1845, 2745]  # 8 lines for 240 attempts
    gaps = [b - a for a, b in itertools.pairwise(logged)]
    assert gaps == sorted(gaps) and max(gaps) <= 900
    snap = reg.snapshot()
    assert snap["registered"] is False and snap["attempts"] == 240
    assert snap["switch_reachable"] is True and snap["since"] is not None


def test_a_dead_switch_is_not_this_alarm():
    reg = AppRegistration("callcenter")
    assert lines_logged(reg, [float(t) for t in range(0, 600, 10)], reachable=False) == []
    assert reg.snapshot()["switch_reachable"] is False
    assert reg.snapshot()["since"] is not None  # still "not registered since"


def test_registering_clears_the_alarm_and_a_new_outage_gets_a_new_grace():
    reg = AppRegistration("callcenter")
    assert lines_logged(reg, [0.0, 5.0, 11.0]) == [11.0]
    assert reg.succeeded() is not None  # it had alarmed: told how long it lasted
    snap = reg.snapshot()
    assert snap["registered"] is True and snap["since"] is None and snap["attempts"] == 0
    assert lines_logged(reg, [100.0, 105.0, 111.0]) == [111.0]


async def test_application_replaced_unregisters_the_app_and_says_why(caplog):
    """Another connection took the app name: the client stops claiming it is registered."""
    import orjson

    from switch_control.protocols.ari import AriClient, AriConfig, MemoryTransport

    ari = AriClient(
        AriConfig("http://127.0.0.1:9/ari", "u", "p", app="callcenter"),
        transport=MemoryTransport().factory,
    )
    ari.events.registration.succeeded()  # as after a websocket upgrade
    event = {"type": "ApplicationReplaced", "application": "callcenter"}
    await ari._dispatch_raw(orjson.dumps(event | {"timestamp": "2026-12-02T15:00:00.000+0000"}))
    reg = ari.app_registration()
    assert reg["registered"] is False and "ApplicationReplaced" in reg["reason"]
    assert any(r.levelname == "ERROR" and "second controller" in r.message for r in caplog.records)
    await ari.close()
