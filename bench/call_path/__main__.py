"""``python -m bench.call_path``: the call-path bench (see the package docstring)."""

import sys

from bench.call_path.cli import main

sys.exit(main())
