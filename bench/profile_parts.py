"""Attribute py-spy samples of the controller to the parts of the call path.

Input: ``py-spy record --format raw`` (one line per distinct stack: frames root->leaf
separated by ``;``, each ``function (file:line)``, then the sample count). py-spy only
records threads that are running (not idle in epoll), so samples are CPU time.

A sample goes to the part of the innermost frame (leaf -> root) that a rule below
matches; frames no rule matches (asyncio, stdlib, contract dataclasses/codec) pass it on
to their caller. So ``c.encode`` called by the publisher counts as bus, the same codec
called by the driver as normalization, and aiohttp called by a REST command as ARI I/O.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ARI = "ARI I/O (protocols/ari: own HTTP client, aiohttp websocket)"
AMI = "AMI (panoramisk, protocols/ami)"
NORMALIZE = "event normalization (drivers/asterisk)"
STATE = "call state (engine/calls, fold in daemon)"
POLICY = "policy + executor (commands to the switch)"
BUS = "bus (redis-py, bus/, publisher)"
LOGGING = "logging"
LOOP = "event loop / other"
PARTS = (ARI, AMI, NORMALIZE, STATE, POLICY, BUS, LOGGING, LOOP)

Rule = tuple[str, str, str]  # (path fragment, function name or "" for any, part)

# checked in this order for each frame, innermost frame first
RULES: tuple[Rule, ...] = (
    ("panoramisk/", "", AMI),
    ("switch_control/protocols/ami", "", AMI),
    ("aiohttp/", "", ARI),
    ("yarl/", "", ARI),
    ("multidict/", "", ARI),
    ("aiohappyeyeballs/", "", ARI),
    ("propcache/", "", ARI),
    ("switch_control/protocols/ari/", "", ARI),
    ("switch_control/drivers/", "", NORMALIZE),
    ("switch_control/engine/calls", "", STATE),
    ("switch_control/engine/policy", "", POLICY),
    ("switch_control/executor", "", POLICY),
    ("switch_control/daemon.py", "_run_batch", POLICY),
    ("switch_control/daemon.py", "handle_command", POLICY),
    ("switch_control/daemon.py", "on_driver_event", STATE),
    ("switch_control/daemon.py", "_publisher", BUS),
    ("switch_control/daemon.py", "_load_state", STATE),
    ("switch_control/bus/", "", BUS),
    ("redis/", "", BUS),
    ("logging/", "", LOGGING),
)

# the projector process: the same idea, its own parts
P_CONN = "DB connection open/close (close_old_connections, connect)"
P_ORM = "Django ORM + sqlite3 (queries, transactions)"
P_PHONE = "phone number region (phonenumbers)"
P_LOGIC = "projector logic (reports/projector.py)"
P_THREAD = "sync_to_async hand-off (asgiref, thread pool)"
P_DECODE = "contract decode"
P_BUS = "bus (redis-py, consumer)"
PROJECTOR_PARTS = (P_CONN, P_ORM, P_PHONE, P_LOGIC, P_THREAD, P_DECODE, P_BUS, LOGGING, LOOP)
PROJECTOR_RULES: tuple[Rule, ...] = (
    ("django/db/__init__.py", "close_old_connections", P_CONN),
    ("django/db/backends/base/base.py", "connect", P_CONN),
    ("django/db/backends/base/base.py", "ensure_connection", P_CONN),
    ("django/db/backends/base/base.py", "close", P_CONN),
    ("django/db/backends/base/base.py", "close_if_unusable_or_obsolete", P_CONN),
    ("django/db/backends/sqlite3/base.py", "get_new_connection", P_CONN),
    ("django/db/", "", P_ORM),
    ("sqlite3/", "", P_ORM),
    ("phonenumbers/", "", P_PHONE),
    ("reports/", "", P_LOGIC),
    ("acd/", "", P_LOGIC),
    ("callcenter/", "", P_LOGIC),
    ("asgiref/", "", P_THREAD),
    ("concurrent/futures", "", P_THREAD),
    ("threading.py", "", P_THREAD),
    ("switch_control/contract/", "", P_DECODE),
    ("switch_control/bus/", "", P_BUS),
    ("redis/", "", P_BUS),
    ("logging/", "", LOGGING),
)

# frames under which everything runs: left out of the inclusive list
ROOTS = (
    ("management/commands/", "handle"),
    ("management/commands/", "_main"),
    ("management/commands/", "handler"),
    ("switch_control/supervise.py", "supervise"),
)

FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?):(?P<line>\d+)\)$")


@dataclass
class Profile:
    samples: int = 0
    parts: Counter[str] = field(default_factory=Counter)
    leaf: Counter[str] = field(default_factory=Counter)  # self time per file:line
    inclusive: Counter[str] = field(default_factory=Counter)  # per project function
    stacks: list[tuple[str, int]] = field(default_factory=list)

    def share(self, part: str) -> float:
        return self.parts[part] / self.samples if self.samples else 0.0

    def containing(self, *fragments: str) -> float:
        """Share of the samples whose stack has any of ``fragments`` (inclusive)."""
        n = sum(k for st, k in self.stacks if any(f in st for f in fragments))
        return n / self.samples if self.samples else 0.0


def _split(frame: str) -> tuple[str, str, str]:
    m = FRAME.match(frame.strip())
    if not m:
        return frame.strip(), "", ""
    return m["func"], m["file"], m["line"]


def part_of(frames: list[tuple[str, str, str]], rules: tuple[Rule, ...] = RULES) -> str:
    for func, file, _line in reversed(frames):
        short = func.rsplit(".", 1)[-1]
        for fragment, fname, part in rules:
            if fragment in file and (not fname or short == fname):
                return part
    return LOOP


def parse(
    path: Path,
    rules: tuple[Rule, ...] = RULES,
    mine: tuple[str, ...] = ("switch_control/",),
) -> Profile:
    """``mine``: path fragments of the functions listed with their inclusive time."""
    prof = Profile()
    for raw in path.read_text(errors="replace").splitlines():
        stack, _, count = raw.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_split(f) for f in stack.split(";") if f]
        if not frames:
            continue
        prof.samples += n
        prof.stacks.append((stack, n))
        prof.parts[part_of(frames, rules)] += n
        func, file, line = frames[-1]
        prof.leaf[f"{func} ({file}:{line})"] += n
        seen: set[str] = set()
        for func, file, _line in frames:
            short = func.rsplit(".", 1)[-1]
            if any(m in file for m in mine) and not any(r in file and short == f for r, f in ROOTS):
                key = f"{func} ({file})"
                if key not in seen:
                    seen.add(key)
                    prof.inclusive[key] += n
    return prof
