"""The daemons' event loop set-up (``switch_control.runtime``): uvloop when installed, and
the start-up heap frozen out of the cyclic collector (SW-1 throughput, bench/RESULTS.md)."""

from __future__ import annotations

import asyncio
import gc
import weakref

import pytest

from switch_control import runtime


@pytest.fixture
def restore_gc():  # type: ignore[no-untyped-def]
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


class Node:
    """A weak-referenceable object that can sit in a reference cycle."""

    ref: Node | None = None


def cycle() -> tuple[Node, weakref.ref[Node]]:
    node = Node()
    node.ref = node  # only the cyclic collector can free it
    return node, weakref.ref(node)


def test_settle_gc_freezes_startup_objects_and_raises_the_young_threshold(restore_gc) -> None:
    before = gc.get_threshold()
    startup, startup_ref = cycle()  # lives through start-up, garbage later
    frozen = runtime.settle_gc(threshold0=12_345)
    # the interpreter and pytest are loaded (the count can drop by the odd object freed
    # by refcount since, so only its size is checked)
    assert frozen > 1000 and gc.get_freeze_count() > 1000
    assert gc.get_threshold() == (12_345, *before[1:])  # the older ratios are kept

    later, later_ref = cycle()  # made after start-up
    del startup, later
    gc.collect()
    # a cycle made after start-up is still collected...
    assert later_ref() is None
    # ...but what start-up left behind is out of the collector's sight (never walked,
    # so never freed either: this is why only long-lived start-up state is frozen)
    assert startup_ref() is not None
    gc.unfreeze()
    gc.collect()
    assert startup_ref() is None


def test_run_daemon_runs_main_on_uvloop_and_returns_its_result(restore_gc) -> None:
    import uvloop  # a dev dependency (and the ``fast`` extra)

    async def main() -> str:
        return type(asyncio.get_running_loop()).__module__

    assert runtime.run_daemon(main).startswith(uvloop.__name__)


def test_lower_priority_renices_the_calling_process_only() -> None:
    """The projector's call: measured in a child, as niceness cannot be raised back."""
    import os
    import subprocess
    import sys

    code = (
        "import os; from switch_control.runtime import lower_priority as lp; "
        "before = os.nice(0); print(before, lp(3), lp(0), lp(-5))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    ).stdout.split()
    before, after, same, negative = map(int, out)
    assert after == min(before + 3, 19) and same == after and negative == after
    assert os.nice(0) == before  # the test process itself is untouched
