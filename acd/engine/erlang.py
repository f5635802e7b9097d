"""Erlang B/C for an M/M/N queue: probability of waiting, service level, ASA.

Used by the simulator's check and by reports (staffing). Rates are per second, times in
seconds; ``traffic`` (erlangs) = arrival rate x average handle time. Computed with the
Erlang B recursion, which stays exact for thousands of agents (no factorials).
"""

from __future__ import annotations

import math


def _check(servers: int, traffic: float) -> None:
    if isinstance(servers, bool) or not isinstance(servers, int) or servers < 1:
        raise ValueError(f"servers must be a whole number >= 1, not {servers!r}")
    if not math.isfinite(traffic) or traffic < 0:
        raise ValueError(f"traffic must be a finite number of erlangs >= 0, not {traffic!r}")


def _traffic(arrival_rate: float, aht: float) -> float:
    if not math.isfinite(aht) or aht <= 0:
        raise ValueError(f"average handle time must be > 0 seconds, not {aht!r}")
    if not math.isfinite(arrival_rate) or arrival_rate < 0:
        raise ValueError(f"arrival rate must be >= 0 calls per second, not {arrival_rate!r}")
    return arrival_rate * aht


def erlang_b(servers: int, traffic: float) -> float:
    """Blocking probability of N servers offered ``traffic`` erlangs (no queue)."""
    _check(servers, traffic)
    b = 1.0
    for n in range(1, servers + 1):
        b = traffic * b / (n + traffic * b)
    return b


def erlang_c(servers: int, traffic: float) -> float:
    """Probability that a call waits at all (1.0 when traffic >= servers: unstable)."""
    _check(servers, traffic)
    if traffic >= servers:
        return 1.0
    b = erlang_b(servers, traffic)
    return servers * b / (servers - traffic * (1.0 - b))


def service_level(servers: int, arrival_rate: float, aht: float, target: float) -> float:
    """Share of calls answered within ``target`` seconds (0..1)."""
    if target < 0:
        raise ValueError(f"service level target must be >= 0 seconds, not {target!r}")
    traffic = _traffic(arrival_rate, aht)
    if traffic >= servers:
        _check(servers, traffic)
        return 0.0
    pw = erlang_c(servers, traffic)
    return 1.0 - pw * math.exp(-(servers - traffic) * target / aht)


def average_speed_of_answer(servers: int, arrival_rate: float, aht: float) -> float:
    """Mean wait over all calls, seconds (``inf`` when traffic >= servers)."""
    traffic = _traffic(arrival_rate, aht)
    _check(servers, traffic)
    if traffic >= servers:
        return math.inf
    return erlang_c(servers, traffic) * aht / (servers - traffic)


def occupancy(servers: int, arrival_rate: float, aht: float) -> float:
    """Share of the agents' time spent handling calls (capped at 1)."""
    traffic = _traffic(arrival_rate, aht)
    _check(servers, traffic)
    return min(1.0, traffic / servers)


def servers_for_service_level(
    arrival_rate: float,
    aht: float,
    target_level: float,
    target: float,
    max_servers: int = 100_000,
) -> int:
    """The fewest agents that reach ``target_level`` (e.g. 0.8) within ``target``
    seconds (e.g. 20): the staffing answer a report gives."""
    if not 0 < target_level < 1:
        raise ValueError(f"target service level must be between 0 and 1, not {target_level!r}")
    traffic = _traffic(arrival_rate, aht)
    n = max(1, math.floor(traffic) + 1)
    while n <= max_servers:
        if service_level(n, arrival_rate, aht, target) >= target_level:
            return n
        n += 1
    raise ValueError(f"more than {max_servers} agents needed for {traffic:.1f} erlangs")
