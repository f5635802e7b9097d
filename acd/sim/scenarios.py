"""Named scenarios for ``python -m acd.sim`` and the Erlang C check.

Times in seconds. The ``mm-*`` ones are M/M/N (Poisson arrivals, exponential handle
times, nobody abandons): the cases Erlang C describes exactly.
"""

from __future__ import annotations

from acd.engine import Strategy

from .distributions import ErlangK, Exponential, LogNormal
from .simulator import Scenario

_AHT = 180.0


def mm(name: str, agents: int, erlangs: float, calls: int, aht: float = _AHT) -> Scenario:
    """An M/M/N scenario offering ``erlangs`` to ``agents`` agents."""
    return Scenario(
        name=name,
        agents=agents,
        arrival_rate=erlangs / aht,
        handle=Exponential(aht),
        calls=calls,
        warmup_calls=max(500, calls // 20),
        description=f"M/M/{agents}, {erlangs:g} erlangs, AHT {aht:g} s, no abandons",
    )


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        mm("mm-5", 5, 3.5, 40_000),
        mm("mm-10", 10, 8.0, 40_000),
        mm("mm-25", 25, 22.0, 40_000),
        Scenario(
            name="small-team-abandons",
            agents=6,
            arrival_rate=5.5 / _AHT,
            handle=Exponential(_AHT),
            patience=Exponential(90.0),
            calls=20_000,
            description="6 agents at 5.5 erlangs, callers give up after 90 s on average",
        ),
        Scenario(
            name="vip-mix",
            agents=12,
            arrival_rate=11.0 / _AHT,
            handle=Exponential(_AHT),
            patience=Exponential(120.0),
            vip_share=0.1,
            calls=20_000,
            description="12 agents, 11 erlangs, 10 % VIP callers served first",
        ),
        Scenario(
            name="lognormal-wrapup",
            agents=20,
            arrival_rate=16.0 / (240.0 + 30.0),
            handle=LogNormal(240.0, 200.0),
            wrap_up=30.0,
            ring_time=4.0,
            patience=Exponential(150.0),
            strategy=Strategy.FEWEST_CALLS,
            calls=20_000,
            description="20 agents, log-normal talk 240±200 s, 30 s wrap-up, 4 s ringing",
        ),
        Scenario(
            name="overload",
            agents=10,
            arrival_rate=11.0 / _AHT,
            handle=ErlangK(2, _AHT),
            patience=Exponential(60.0),
            strategy=Strategy.ROUND_ROBIN,
            calls=20_000,
            description="10 agents offered 11 erlangs: only abandons keep the line finite",
        ),
    )
}
