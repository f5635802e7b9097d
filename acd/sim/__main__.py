"""``python -m acd.sim [scenario ...] [--seed N]``: run named scenarios and print
service level, ASA, abandon rate and occupancy (with Erlang C alongside)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .report import format_table
from .scenarios import SCENARIOS
from .simulator import simulate


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m acd.sim", description=__doc__)
    parser.add_argument("scenarios", nargs="*", help=f"default: all of {', '.join(SCENARIOS)}")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    args = parser.parse_args(argv)
    if args.list:
        for name, s in SCENARIOS.items():
            print(f"{name:22} {s.description}")
        return 0
    unknown = [n for n in args.scenarios if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)} (see --list)")
    chosen = [SCENARIOS[n] for n in args.scenarios or SCENARIOS]
    results = [(s, simulate(s, seed=args.seed)) for s in chosen]
    print(format_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
