"""The call-path bench's entry point, kept where README and RESULTS.md point:
``.venv/bin/python bench/bench_call_path.py [...]`` or ``python -m bench.bench_call_path``.
The bench itself is the package ``bench/call_path/`` (its docstring says what it does)."""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.call_path.cli import main

if __name__ == "__main__":
    sys.exit(main())
