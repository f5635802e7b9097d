"""The ACD simulator (``acd.sim``, driving the real ``acd.engine``) against Erlang C.

For M/M/N scenarios (Poisson arrivals, exponential handle times, no abandons) Erlang C
is exact, so the simulated service level must match it; each scenario runs with several
seeds and the table gives the mean, the spread and the largest difference. The other
named scenarios (abandons, VIPs, other distributions) follow with Erlang C as a
reference only.

Prints the tables and rewrites the ``acd-sim-erlang`` section of ``bench/RESULTS.md``.
Usage: ``python bench/acd_sim_vs_erlang.py [--seeds 5] [--quick] [--no-write]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from acd.sim import simulate
from acd.sim.report import erlang_reference, format_table
from acd.sim.scenarios import SCENARIOS, mm
from bench.results import run_header, write_section


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="fewer calls (a smoke run)")
    parser.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    args = parser.parse_args()
    calls = 5_000 if args.quick else 200_000
    mmn = [
        mm("mm-3", 3, 2.0, calls),
        mm("mm-5", 5, 3.5, calls),
        mm("mm-10", 10, 8.0, calls),
        mm("mm-25", 25, 22.0, calls),
        mm("mm-50", 50, 45.0, calls),
    ]
    started = time.perf_counter()
    rows = [
        "| scenario | agents | erlangs | calls x seeds | Erlang C SL (20 s) | simulated SL "
        "mean (min–max) | difference mean / worst | Erlang C ASA (s) | simulated ASA (s) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    worst_all = worst_mean = 0.0
    for s in mmn:
        ref = erlang_reference(s)
        assert ref is not None
        results = [simulate(s, seed=seed) for seed in range(1, args.seeds + 1)]
        levels = [r.service_level for r in results]
        mean = sum(levels) / len(levels)
        worst = max(abs(x - ref.service_level) for x in levels)
        worst_all = max(worst_all, worst)
        worst_mean = max(worst_mean, abs(mean - ref.service_level))
        asa = sum(r.asa for r in results) / len(results)
        rows.append(
            f"| {s.name} | {s.agents} | {s.offered_erlangs:.1f} | {s.calls:,} x {args.seeds} "
            f"| {100 * ref.service_level:.2f} % | {100 * mean:.2f} % "
            f"({100 * min(levels):.2f}–{100 * max(levels):.2f}) "
            f"| {100 * (mean - ref.service_level):+.2f} / {100 * worst:.2f} points "
            f"| {ref.asa:.1f} | {asa:.1f} |"
        )
        print(rows[-1], flush=True)
    others = [s for name, s in SCENARIOS.items() if not name.startswith("mm-")]
    other_table = format_table([(s, simulate(s, seed=1)) for s in others])
    elapsed = time.perf_counter() - started
    body = "\n".join(
        [
            "## ACD simulator against Erlang C",
            "",
            f"Run {run_header()}, `.venv/bin/python bench/acd_sim_vs_erlang.py"
            f"{' --quick' if args.quick else ''}` ({elapsed:.0f} s).",
            "",
            "`acd/sim` is a discrete-event simulation on a fake clock that drives the real "
            "engine: every arrival and every agent becoming free runs `acd.engine.dispatch` "
            "(line order VIP → priority → wait, then `pick_agent` with the queue's strategy). "
            "For M/M/N (Poisson arrivals, exponential handle times, nobody abandons) Erlang C "
            "is exact, so the simulated service level must agree: each row is the mean over "
            f"{args.seeds} seeds, with the largest single-seed difference. Service level = "
            "answered within 20 s / offered; statistics cover the calls after a 5 % warm-up, "
            "and each measured call is followed to its end.",
            "",
            *rows,
            "",
            f"Largest difference of a mean from Erlang C: **{100 * worst_mean:.2f} points** "
            f"(target ≤ 2); of any single run: {100 * worst_all:.2f} points. A single run "
            "wanders because the line is autocorrelated: the closer the occupancy is to 100 %, "
            "the longer one congested stretch lasts and the more calls a run needs (at 88-90 % "
            "occupancy 200,000 calls still leave a standard deviation of ~1.3 points; at "
            "60-80 % ~0.3-0.5). `tests/unit/test_acd_sim.py` checks three M/M/N sizes at "
            "60-73 % occupancy with 70,000 calls and one seed each, within 2 points (a ~3-sigma "
            "bound measured over 40 seeds, not a lucky seed).",
            "",
            "The other named scenarios of `python -m acd.sim` (seed 1). Erlang C beside them is "
            "only a reference: abandons shorten the line (better ASA for those who stay), other "
            "handle-time distributions and ringing change it; '—' where the traffic exceeds "
            "the agents and only abandons keep the line finite.",
            "",
            other_table,
        ]
    )
    print()
    print(other_table)
    if not args.no_write:
        write_section("acd-sim-erlang", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
