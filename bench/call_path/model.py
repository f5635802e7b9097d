"""What one run of the call-path bench measured, and its JSON form.

The bench fills these while it runs and saves them (``--results``, by default
``bench/RESULTS.call-path.json``); ``report.render`` turns them into the call-path section
of ``bench/RESULTS.md``, so the section can be rebuilt from the saved numbers alone
(``--report-only``). Only measured numbers and the run's conditions are stored: nothing
read from the source tree.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any

SCHEMA = 1


class ResultsError(ValueError):
    """Saved results this code cannot read (named field, file or version)."""


@dataclass
class Step:
    """One step: ``calls`` calls at ``rate`` per second; CPU seconds per process."""

    mode: str
    rate: float
    hold: float
    calls: int
    achieved: float = 0.0
    created: int = 0
    ok: int = 0
    failed: int = 0
    retrans: int = 0
    p50: float = math.nan
    p99: float = math.nan
    cpu: dict[str, float] = field(default_factory=dict)
    cdr: int | None = None
    open_calls: int | None = None
    agent_answered: int | None = None
    agent_bridged: int | None = None
    answered_first: int | None = None  # agent CallAnswered published before CallOffered
    agent_ok: int | None = None
    two_prompts: int | None = None  # callers that heard the no-agent prompt too
    agent_failed: int | None = None
    drain_s: float = 0.0
    clean: bool = False
    notes: list[str] = field(default_factory=list)

    def ms_per_call(self, proc: str) -> float:
        return 1000.0 * self.cpu.get(proc, 0.0) / self.calls if self.calls else math.nan

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        for k in ("p50", "p99"):  # JSON has no NaN
            if isinstance(out[k], float) and math.isnan(out[k]):
                out[k] = None
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Step:
        d = _known(cls, d, "step")
        for k in ("p50", "p99"):
            if d.get(k) is None:
                d[k] = math.nan
        return cls(**d)


@dataclass
class Series:
    mode: str
    title: str
    procs: tuple[str, ...]
    steps: list[Step] = field(default_factory=list)
    skipped: str = ""

    @property
    def best(self) -> Step | None:
        clean = [s for s in self.steps if s.clean]
        return max(clean, key=lambda s: s.rate) if clean else None

    @property
    def capped(self) -> bool:
        """The last step tried was clean: the mode's limit is above the rates tried."""
        return bool(self.steps) and self.steps[-1].clean

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "title": self.title,
            "procs": list(self.procs),
            "steps": [s.to_json() for s in self.steps],
            "skipped": self.skipped,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Series:
        d = _known(cls, d, "series")
        return cls(
            mode=d["mode"],
            title=d["title"],
            procs=tuple(d["procs"]),
            steps=[Step.from_json(s) for s in d.get("steps", [])],
            skipped=d.get("skipped", ""),
        )


@dataclass
class ProfileSummary:
    """A py-spy profile of one process, reduced to sample counts: per part (in the order
    of the part table), the top leaf frames and inclusive functions, and ``marks``
    (samples whose stack holds given frames, named by the findings that quote them)."""

    samples: int
    parts: list[tuple[str, int]] = field(default_factory=list)
    leaf: list[tuple[str, int]] = field(default_factory=list)
    inclusive: list[tuple[str, int]] = field(default_factory=list)
    marks: dict[str, int] = field(default_factory=dict)

    def share(self, part: str) -> float:
        n = dict(self.parts).get(part, 0)
        return n / self.samples if self.samples else 0.0

    def mark(self, key: str) -> float:
        return self.marks.get(key, 0) / self.samples if self.samples else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "parts": [list(p) for p in self.parts],
            "leaf": [list(p) for p in self.leaf],
            "inclusive": [list(p) for p in self.inclusive],
            "marks": dict(self.marks),
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ProfileSummary:
        d = _known(cls, d, "profile")

        def pairs(key: str) -> list[tuple[str, int]]:
            return [(str(a), int(b)) for a, b in d.get(key, [])]

        return cls(
            samples=int(d["samples"]),
            parts=pairs("parts"),
            leaf=pairs("leaf"),
            inclusive=pairs("inclusive"),
            marks={str(k): int(v) for k, v in d.get("marks", {}).items()},
        )


@dataclass
class Profile:
    """The extra step of (c) with py-spy on the controller and the projector."""

    step: Step | None = None
    flag: str = "--nonblocking"
    note: str = ""  # why there is no profile
    controller: ProfileSummary | None = None
    projector: ProfileSummary | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step.to_json() if self.step else None,
            "flag": self.flag,
            "note": self.note,
            "controller": self.controller.to_json() if self.controller else None,
            "projector": self.projector.to_json() if self.projector else None,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Profile:
        d = _known(cls, d, "profile")
        return cls(
            step=Step.from_json(d["step"]) if d.get("step") else None,
            flag=d.get("flag", "--nonblocking"),
            note=d.get("note", ""),
            controller=ProfileSummary.from_json(d["controller"]) if d.get("controller") else None,
            projector=ProfileSummary.from_json(d["projector"]) if d.get("projector") else None,
        )


@dataclass
class Rss:
    """Memory with many concurrent calls: VmRSS in KiB per process, idle and peak."""

    step: Step
    concurrent: int
    rate: float
    hold: float
    idle: dict[str, int] = field(default_factory=dict)
    peak: dict[str, int] = field(default_factory=dict)
    live_calls_peak: int = 0
    channels_at_peak: int = 0

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["step"] = self.step.to_json()
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Rss:
        d = _known(cls, d, "rss")
        d["step"] = Step.from_json(d["step"])
        return cls(**d)


@dataclass
class RunInfo:
    """The run's conditions, as the report states them."""

    started: datetime
    elapsed_s: float = 0.0
    machine: str = ""  # "2 CPU(s), <model>, Linux <release>"
    cpus: int = 2
    python: str = ""
    asterisk: str = ""
    code: str = ""  # "commit abc1234 (+ uncommitted changes in ...)"
    command: str = ".venv/bin/python bench/bench_call_path.py"
    duration_s: float = 10.0
    max_p99_ms: float = 500.0
    thin_like: str = ""
    paired: bool = False
    agent_talk_ms: int = 100
    note: str = ""  # where the numbers come from, when not from a run of this code

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["started"] = self.started.isoformat()
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> RunInfo:
        d = _known(cls, d, "run")
        try:
            d["started"] = datetime.fromisoformat(d["started"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ResultsError(f"run.started: not an ISO date-time ({exc})") from None
        return cls(**d)


@dataclass
class Results:
    run: RunInfo
    series: dict[str, Series] = field(default_factory=dict)  # in the order they ran
    profile: Profile = field(default_factory=Profile)
    rss: Rss | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "run": self.run.to_json(),
            "series": [s.to_json() for s in self.series.values()],
            "profile": self.profile.to_json(),
            "rss": self.rss.to_json() if self.rss else None,
        }

    @classmethod
    def from_json(cls, d: Any) -> Results:
        if not isinstance(d, dict):
            raise ResultsError("saved results: a JSON object expected")
        if d.get("schema") != SCHEMA:
            raise ResultsError(
                f"saved results: schema {d.get('schema')!r}, this code reads {SCHEMA}"
            )
        try:
            series = [Series.from_json(s) for s in d.get("series", [])]
            return cls(
                run=RunInfo.from_json(d["run"]),
                series={s.mode: s for s in series},
                profile=Profile.from_json(d.get("profile") or {}),
                rss=Rss.from_json(d["rss"]) if d.get("rss") else None,
            )
        except (KeyError, TypeError) as exc:
            raise ResultsError(f"saved results: missing or malformed field {exc}") from None

    def dump(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=1, ensure_ascii=False) + "\n")

    @classmethod
    def load(cls, path: Path) -> Results:
        try:
            data = json.loads(path.read_text())
        except OSError as exc:
            raise ResultsError(f"{path}: {exc.strerror}") from None
        except json.JSONDecodeError as exc:
            raise ResultsError(f"{path}: not JSON ({exc})") from None
        try:
            return cls.from_json(data)
        except ResultsError as exc:
            raise ResultsError(f"{path}: {exc}") from None


def _known(cls: type, d: Any, what: str) -> dict[str, Any]:
    """``d`` as keyword arguments of the dataclass ``cls``; unknown keys are an error (a
    typo in a saved file must not silently drop a number)."""
    if not isinstance(d, dict):
        raise ResultsError(f"{what}: a JSON object expected, got {type(d).__name__}")
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(d) - names)
    if unknown:
        raise ResultsError(f"{what}: unknown field(s) {', '.join(unknown)}")
    return dict(d)
