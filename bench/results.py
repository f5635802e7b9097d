"""``bench/RESULTS.md``: each benchmark owns one section between its two markers
(``<!-- name:start -->`` ... ``<!-- name:end -->``) and rewrites only that."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=RESULTS.parent, capture_output=True, text=True, check=True
    ).stdout.strip()


def run_header() -> str:
    """``2026-11-22 15:00 UTC, Python 3.11.7, 2 CPU(s), commit abc1234``."""
    try:
        commit = _git("rev-parse", "--short", "HEAD")
        if _git("status", "--porcelain", "--untracked-files=no"):
            commit += " + uncommitted changes"
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPU(s), commit {commit}"
    )


def write_section(name: str, body: str, path: Path = RESULTS) -> None:
    """Replace section ``name`` with ``body`` (appended at the end if it is new)."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    old = path.read_text() if path.exists() else "# Benchmark results\n"
    block = f"{start}\n{body.rstrip()}\n{end}"
    if start in old and end in old:
        head, _, rest = old.partition(start)
        _, _, tail = rest.partition(end)
        new = head + block + tail
    else:
        new = old.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(new)
