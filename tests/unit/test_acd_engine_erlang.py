"""Erlang B/C (service level, ASA, staffing) and the caller's estimated wait (ACD-5)."""

from __future__ import annotations

import math

import pytest

from acd.engine import erlang
from acd.engine.waiting import average_handle_time, estimated_wait


def erlang_c_by_formula(n: int, a: float) -> float:
    """The textbook closed form, independent of the module's recursion."""
    top = a**n / math.factorial(n) * n / (n - a)
    return top / (sum(a**k / math.factorial(k) for k in range(n)) + top)


def test_known_small_values() -> None:
    assert erlang.erlang_b(1, 1.0) == pytest.approx(0.5)
    assert erlang.erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert erlang.erlang_c(1, 0.5) == pytest.approx(0.5)  # M/M/1: P(wait) = rho


@pytest.mark.parametrize(("n", "a"), [(5, 3.5), (10, 8.0), (25, 22.0), (40, 30.5)])
def test_erlang_c_matches_the_closed_form(n: int, a: float) -> None:
    assert erlang.erlang_c(n, a) == pytest.approx(erlang_c_by_formula(n, a), rel=1e-9)


def test_service_level_and_asa_for_a_classic_case() -> None:
    # 10 agents, 8 erlangs, AHT 180 s: P(wait) from the closed form, SL at 20 s.
    rate, aht = 8.0 / 180, 180.0
    pw = erlang_c_by_formula(10, 8.0)
    assert erlang.service_level(10, rate, aht, 20) == pytest.approx(
        1 - pw * math.exp(-2 * 20 / 180)
    )
    assert erlang.average_speed_of_answer(10, rate, aht) == pytest.approx(pw * 180 / 2)
    assert erlang.occupancy(10, rate, aht) == pytest.approx(0.8)


def test_more_agents_always_give_a_better_service_level() -> None:
    levels = [erlang.service_level(n, 0.05, 180.0, 20.0) for n in range(10, 20)]
    assert levels == sorted(levels)
    assert levels[-1] > 0.99


def test_overloaded_queue_has_no_service_and_infinite_asa() -> None:
    assert erlang.erlang_c(5, 5.0) == 1.0
    assert erlang.service_level(5, 6 / 180, 180.0, 20) == 0.0
    assert erlang.average_speed_of_answer(5, 6 / 180, 180.0) == math.inf
    assert erlang.occupancy(5, 6 / 180, 180.0) == 1.0


def test_staffing_for_80_percent_in_20_seconds() -> None:
    n = erlang.servers_for_service_level(100 / 3600, 180.0, 0.8, 20.0)
    assert erlang.service_level(n, 100 / 3600, 180.0, 20.0) >= 0.8
    assert erlang.service_level(n - 1, 100 / 3600, 180.0, 20.0) < 0.8


def test_large_sites_do_not_overflow_floats() -> None:
    pw = erlang.erlang_c(2000, 1950.0)
    assert 0 < pw < 1


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: erlang.erlang_c(0, 1.0), "servers"),
        (lambda: erlang.erlang_c(2.5, 1.0), "servers"),  # type: ignore[arg-type]
        (lambda: erlang.erlang_c(2, -1.0), "traffic"),
        (lambda: erlang.service_level(2, 0.1, 0.0, 20), "handle time"),
        (lambda: erlang.service_level(2, -0.1, 5.0, 20), "arrival rate"),
        (lambda: erlang.service_level(2, 0.1, 5.0, -1), "target"),
        (lambda: erlang.servers_for_service_level(0.1, 5.0, 1.5, 20), "between 0 and 1"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(call, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=message):
        call()


# -- ACD-5 estimated wait -----------------------------------------------------------------


def test_estimated_wait_grows_with_the_place_in_line() -> None:
    # 4 agents all busy, AHT 200 s: one is freed every 50 s.
    assert estimated_wait(1, staffed=4, free=0, aht=200.0) == pytest.approx(50.0)
    assert estimated_wait(3, staffed=4, free=0, aht=200.0) == pytest.approx(150.0)


def test_no_wait_when_enough_agents_are_free_and_no_estimate_when_nobody_is_staffed() -> None:
    assert estimated_wait(2, staffed=4, free=2, aht=200.0) == 0.0
    assert estimated_wait(3, staffed=4, free=2, aht=200.0) == pytest.approx(50.0)
    assert estimated_wait(1, staffed=0, free=0, aht=200.0) is None


def test_average_handle_time_uses_the_recent_window_or_the_default() -> None:
    assert average_handle_time([], default=180.0) == 180.0
    assert average_handle_time([100.0, 200.0, 600.0], default=180.0, window=2) == 400.0


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"position": 0, "staffed": 1, "free": 0, "aht": 1.0}, "starts at 1"),
        ({"position": 1, "staffed": 1, "free": 2, "aht": 1.0}, "free <= staffed"),
        ({"position": 1, "staffed": 1, "free": 0, "aht": 0.0}, "handle time"),
    ],
)
def test_estimated_wait_bad_input(kw: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        estimated_wait(**kw)  # type: ignore[arg-type]
