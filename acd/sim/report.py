"""Tables of simulation results beside Erlang C's figures for the same traffic."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from acd.engine import erlang

from .simulator import Scenario, SimResult


@dataclass(frozen=True, slots=True)
class ErlangFigures:
    service_level: float
    asa: float
    occupancy: float


def erlang_reference(s: Scenario) -> ErlangFigures | None:
    """Erlang C for the scenario's traffic (handle = talk + wrap-up + ringing), or
    ``None`` when it offers as many erlangs as it has agents or more (no steady state
    without abandons). Exact for M/M/N scenarios; a reference only for the others
    (abandons shorten the line, other distributions change it)."""
    aht = s.handle.mean + s.wrap_up + s.ring_time
    if s.arrival_rate * aht >= s.agents:
        return None
    # Ringing counts in the wait, so Erlang C's target is shifted by it.
    target = max(0.0, s.target - s.ring_time)
    return ErlangFigures(
        service_level=erlang.service_level(s.agents, s.arrival_rate, aht, target),
        asa=erlang.average_speed_of_answer(s.agents, s.arrival_rate, aht) + s.ring_time,
        occupancy=erlang.occupancy(s.agents, s.arrival_rate, aht),
    )


def _pct(x: float | None) -> str:
    return "—" if x is None or math.isnan(x) else f"{100 * x:.1f} %"


def format_table(results: Sequence[tuple[Scenario, SimResult]]) -> str:
    """A Markdown table: one row per scenario."""
    head = (
        "| scenario | agents | erlangs | calls | SL sim | SL Erlang C | ASA sim (s) "
        "| ASA Erlang C (s) | abandoned | occupancy | VIP SL |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    rows = [head]
    for s, r in results:
        ref = erlang_reference(s)
        rows.append(
            f"| {s.name} | {s.agents} | {s.offered_erlangs:.1f} | {r.offered} "
            f"| {_pct(r.service_level)} | {_pct(ref.service_level if ref else None)} "
            f"| {r.asa:.1f} | {'—' if ref is None else f'{ref.asa:.1f}'} "
            f"| {_pct(r.abandon_rate)} | {_pct(r.occupancy)} | {_pct(r.vip_service_level)} |"
        )
    return "\n".join(rows)
