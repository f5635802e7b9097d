"""The call-path bench's report is a pure function of its saved numbers (issue 12, part 10).

``bench/RESULTS.md``'s call-path section is what ``render`` makes of
``bench/RESULTS.call-path.json``; the text depends on nothing else (no clock, no /proc, no
source tree) and cites no file:line; bad saved numbers are refused with a clear error.
"""

from __future__ import annotations

import builtins
import json
import math
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bench.call_path import cli
from bench.call_path.model import (
    Profile,
    ProfileSummary,
    Results,
    ResultsError,
    Rss,
    RunInfo,
    Series,
    Step,
)
from bench.call_path.report import render

REPO = Path(__file__).resolve().parents[2]
SAVED = REPO / "bench" / "RESULTS.call-path.json"
RESULTS_MD = REPO / "bench" / "RESULTS.md"
FILE_LINE = re.compile(r"[\w./-]+\.(?:py|conf|xml):\d+")
CTL = ("asterisk", "controller", "projector", "redis", "agent sipp")
THIN = ("asterisk", "thin app", "redis", "agent sipp")


def section(md: str, name: str = "call-path") -> str:
    start, end = f"<!-- {name}:start -->\n", f"\n<!-- {name}:end -->"
    assert start in md and end in md
    return md.split(start, 1)[1].split(end, 1)[0]


def step(mode: str, rate: float, *, clean: bool = True, **ms: float) -> Step:
    """A step of 10 s at ``rate`` whose processes took ``ms`` ms of CPU per call."""
    calls = int(rate * 10)
    cpu = {k.replace("_", " "): v * calls / 1000 for k, v in ms.items()}
    agent = mode[0] in "ct"
    return Step(
        mode,
        rate,
        0.0,
        calls,
        achieved=rate,
        ok=calls,
        p50=2.0,
        p99=9.0,
        cpu=cpu,
        cdr=calls if agent else None,
        open_calls=0 if agent else None,
        agent_ok=calls if agent else None,
        agent_bridged=calls if agent else None,
        agent_answered=calls if mode[0] == "c" else None,
        answered_first=0 if mode[0] == "c" else None,
        two_prompts=0 if mode[0] == "c" else None,
        agent_failed=0 if agent else None,
        clean=clean,
        notes=[] if clean else ["answer p99 900 ms > 500 ms"],
    )


def results(**run: Any) -> Results:
    """A small run: (t) and (c) hold 0 s; (c) stops at 120 cps, (t) is clean to 150."""
    cpu_t = {"asterisk": 8.0, "thin_app": 2.0, "redis": 0.05, "agent_sipp": 0.3}
    cpu_c = {"asterisk": 8.5, "controller": 2.2, "projector": 0.5, "redis": 0.1}
    t0 = Series("t0", "(t) thin reference app, same path, hold 0 s", THIN)
    c0 = Series("c0", "(c) controller, full path, hold 0 s", CTL)
    for rate in (90.0, 120.0, 150.0):
        t0.steps.append(step("t0", rate, **cpu_t, sipp_callers=0.4))
        c0.steps.append(step("c0", rate, clean=rate < 150, **cpu_c, sipp_callers=0.4))
    info = {
        "started": datetime(2026, 12, 1, 9, 30, tzinfo=UTC),
        "elapsed_s": 600.0,
        "machine": "4 CPU(s), Test CPU, Linux 6.1",
        "cpus": 4,
        "python": "3.11.9",
        "asterisk": "22.1.0",
        "code": "commit abc1234",
        "paired": True,
    } | run
    return Results(RunInfo(**info), {"t0": t0, "c0": c0})


# ---------------------------------------------------------------------------- RESULTS.md
def test_the_results_md_section_is_the_report_of_the_saved_numbers() -> None:
    # they cannot drift apart: a run writes both, and this says when one was edited alone
    assert section(RESULTS_MD.read_text()) + "\n" == render(Results.load(SAVED))


def test_the_report_cites_no_file_line_of_the_source() -> None:
    text = render(Results.load(SAVED))
    cited = [ln for ln in text.splitlines() if FILE_LINE.search(ln)]
    # only py-spy's own frames (measured in that run) carry a line number: table rows
    assert cited, "the saved run has py-spy tables"
    assert all(ln.startswith("| ") and "% | `" in ln for ln in cited), cited
    findings = text.split("### Findings and hotspots", 1)[1].split("### Memory", 1)[0]
    assert not FILE_LINE.search(findings)


def test_the_saved_run_reads_as_the_last_measured_one() -> None:
    res = Results.load(SAVED)
    text = render(res)
    assert f"Run {res.run.started:%Y-%m-%d %H:%M} UTC" in text
    for target in ("(c) hold 0 s >= 150 cps", "(c) hold 2 s >= 90 cps"):
        assert f"- Target {target}: **" in text
    assert "- Target controller RSS <= 150 MB at 300 calls: **" in text


def test_a_share_against_a_capped_thin_app_is_not_called_met_or_missed() -> None:
    # (t) clean at its last step: its limit is unknown, so the share is an upper bound
    res = results()
    for st in res.series["c0"].steps:
        st.clean = True  # (c) clean to the last step too: no gap was seen
        st.notes = []
    text = render(res)
    assert "150 vs 150 cps clean = 1.00" in text
    assert "**met up to the highest rate tried (both clean there)**." in text
    res.series["c0"].steps[-1].clean = False  # (c) 120 of (t) >= 150: at most 0.80 -> missed
    assert "**NOT met**." in render(res)
    res = results()
    res.series["c0"].steps.append(step("c0", 140.0, clean=True, asterisk=8.5, controller=2.2))
    res.series["c0"].steps.sort(key=lambda x: x.rate)
    text = render(res)
    assert "= 0.93 (the thin app's last step was clean" in text
    assert "**not determined (the share is at most this)**." in text


# ---------------------------------------------------------------------------- pure function
def test_render_reads_nothing_but_its_argument(monkeypatch: pytest.MonkeyPatch) -> None:
    res = results()
    expected = render(res)

    def no_io(*_a: object, **_k: object) -> None:
        raise AssertionError("render touched a file")

    monkeypatch.setattr(builtins, "open", no_io)
    monkeypatch.setattr(Path, "read_text", no_io)
    assert render(res) == expected
    # the machine is the saved one, not this one
    assert "Run 2026-12-01 09:30 UTC, 4 CPU(s), Test CPU, Linux 6.1, Asterisk 22.1.0" in expected


def test_a_json_round_trip_renders_the_same_text(tmp_path: Path) -> None:
    res = results()
    res.series["c0"].steps[0].p99 = math.nan  # SIPp saw no answer at all
    path = tmp_path / "r.json"
    res.dump(path)
    json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    again = Results.load(path)
    assert render(again) == render(res)
    assert "| 90 | 90 | 900 | 900 | 0 | 2.0 / - |" in render(again)


# ---------------------------------------------------------------------------- the text
def test_targets_capacity_and_verdicts_follow_the_numbers() -> None:
    text = render(results())
    # (c) clean to 120 cps, (t) to 150 (its last step: capped)
    assert "| (c) controller, full path, hold 0 s | 120 | 2.0 / 9.0 |" in text
    assert "| (t) thin reference app, same path, hold 0 s | >= 150 |" in text
    assert (
        "- Target (c) hold 0 s >= 150 cps: **NOT met** (120 cps clean; the thin reference app "
        "was clean up to 150 cps in this run (its last step))." in text
    )
    assert "120 vs 150 cps clean = 0.80 (the thin app's last step was clean" in text
    assert "**NOT met**." in text
    # capacity at the same rate: thin 8 + 2 + 0.05 against 8.5 + 2.2 + 0.5 + 0.1 ms
    assert "(120 cps, the highest both ran clean)" in text
    assert "10.1 ms of CPU per call under the thin app and 11.3 ms under the controller" in text
    assert "= 0.89." in text
    assert "(2 rates, paired steps): median 0.89" in text
    # the machine's cores, not a constant: 4 cores / 11.3 ms
    assert "so 4 cores top out near 354 cps" in text
    # the step that was not clean says why, in its row
    assert "| **no**: answer p99 900 ms > 500 ms |" in text


def test_what_did_not_run_is_said_so() -> None:
    res = results(paired=False)
    res.profile = Profile(note="py-spy not installed: no per-part profile")
    text = render(res)
    assert (
        "### Controller CPU by part (py-spy)\n\npy-spy not installed: no per-part profile" in text
    )
    assert text.rstrip().endswith("### Memory with concurrent calls\n\nnot run")
    assert "(t) ran at every rate before (c) (`--sequential`)." in text
    assert "Highest clean rate ratios" not in text  # no (a) or (b) in this run


def test_profile_and_findings_use_the_measured_shares() -> None:
    res = results()
    prof_step = step("profile", 50.0, controller=3.0, projector=0.8)
    ctl = ProfileSummary(
        samples=400,
        parts=[("ARI I/O", 120), ("event loop / other", 280)],
        leaf=[("Runner.run (asyncio/runners.py:118)", 200)],
        inclusive=[("run_daemon (switch_control/runtime.py)", 300)],
        marks={"ami": 0, "rest": 60, "rest_send": 40, "events": 40, "parse_event": 20},
    )
    res.profile = Profile(step=prof_step, controller=ctl)
    res.series["c0"].steps[0].answered_first = 3
    res.series["c0"].steps[0].two_prompts = 2  # legs: 900 + 1200 + 1500 (c0) + 500 (profile)
    text = render(res)
    assert "| ARI I/O | 30.0 % | 0.90 |" in text  # 120/400 of 3.0 ms
    assert "| 50.0 % | `Runner.run (asyncio/runners.py:118)` |" in text
    assert "**ARI REST requests**: 15 % (0.4 ms/call)" in text
    assert "`_Conn.send`, `switch_control/protocols/ari/http.py`) 10 % (0.3 ms/call)" in text
    assert "**Publisher**: 0 % (0.0 ms/call)" in text  # no mark saved: nothing measured
    assert "no projector profile" in text
    assert "**Agent `CallAnswered` published before its `CallOffered`**: 3 of 4100" in text
    assert "(2 callers heard a second prompt)" in text


def test_memory_target_follows_the_peak() -> None:
    res = results()
    rss_step = step("rss", 30.0, asterisk=120.0, sipp_callers=40.0)
    res.rss = Rss(
        step=rss_step,
        concurrent=300,
        rate=30.0,
        hold=20.0,
        idle={"controller": 100 * 1024},
        peak={"controller": 160 * 1024},
        live_calls_peak=300,
        channels_at_peak=600,
    )
    text = render(res)
    assert "| controller | 100 | 160 |" in text
    assert "- Target controller RSS <= 150 MB at 300 calls: **NOT met** (160 MB)." in text


# ---------------------------------------------------------------------------- bad input
def test_saved_numbers_with_an_unknown_field_are_refused(tmp_path: Path) -> None:
    data = results().to_json()
    data["series"][0]["steps"][0]["p999"] = 3.0  # a typo must not silently drop a number
    path = tmp_path / "r.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ResultsError, match=r"step: unknown field\(s\) p999"):
        Results.load(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not JSON"),
        ('{"schema": 99}', "schema 99, this code reads 1"),
        ('{"schema": 1}', "missing or malformed field 'run'"),
        ('{"schema": 1, "run": {"started": "yesterday"}}', "run.started: not an ISO date-time"),
    ],
)
def test_broken_saved_numbers_get_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "r.json"
    path.write_text(content)
    with pytest.raises(ResultsError, match=re.escape(message)):
        Results.load(path)


# ---------------------------------------------------------------------------- command line
def test_report_only_prints_the_section_without_running_or_writing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "r.json"
    results().dump(path)
    before = RESULTS_MD.read_text()
    assert cli.main(["--report-only", str(path), "--no-write"]) == 0
    assert render(results()) in capsys.readouterr().out
    assert RESULTS_MD.read_text() == before


def test_report_only_on_a_broken_file_exits_2_and_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "r.json"
    path.write_text("[]")
    with pytest.raises(SystemExit) as exc:
        cli.main(["--report-only", str(path), "--no-write"])
    assert exc.value.code == 2
    assert "a JSON object expected" in capsys.readouterr().err


def test_bad_rates_and_modes_are_refused_by_name(capsys: pytest.CaptureFixture[str]) -> None:
    for argv, message in (
        (["--rates-c0", "25,fast"], "not a comma separated list of rates"),
        (["--modes", "c0,c3"], "unknown mode(s) c3"),
        (["--stack-env", "PROJECTOR_NICE"], "NAME=VALUE expected"),
    ):
        with pytest.raises(SystemExit):
            cli.main([*argv, "--no-write"])
        assert message in capsys.readouterr().err


# ---------------------------------------------------------------------------- the verdict
def test_a_step_is_clean_only_when_every_call_and_agent_leg_made_it() -> None:
    from bench.call_path.steps import judge

    ok = step("c0", 100.0, asterisk=8.0)
    judge(ok, 0, with_agent=True, max_p99_ms=500)
    assert ok.clean and ok.notes == []

    slow = step("c0", 100.0, asterisk=8.0)
    slow.p99 = 1508.2
    judge(slow, 0, with_agent=True, max_p99_ms=500)
    assert not slow.clean and slow.notes == ["answer p99 1508 ms > 500 ms"]

    lost = step("c0", 100.0, asterisk=8.0)
    lost.agent_ok, lost.agent_failed, lost.agent_bridged = 978, 22, 995
    judge(lost, 0, with_agent=True, max_p99_ms=500, agent_error="SIPp: unexpected INVITE (x22)")
    assert not lost.clean
    assert lost.notes == [
        "agent phone: 978 ok, 22 failed (SIPp: unexpected INVITE (x22))",
        "995 agent legs bridged for 1000 calls",
    ]


def test_a_py_spy_profile_is_saved_as_the_counts_the_report_quotes(tmp_path: Path) -> None:
    from bench.call_path import profiles

    raw = tmp_path / "pyspy-controller.txt"
    raw.write_text(
        "run_daemon (switch_control/runtime.py:40);AriClient.request "
        "(switch_control/protocols/ari/client.py:200);_Conn.send "
        "(switch_control/protocols/ari/http.py:120) 30\n"
        "run_daemon (switch_control/runtime.py:40);Controller._publisher "
        "(switch_control/daemon.py:227);XADD (redis/client.py:10) 10\n"
        "Runner.run (asyncio/runners.py:118) 60\n"
    )
    s = profiles.controller(raw)
    assert s.samples == 100
    assert s.marks["rest"] == 30 and s.marks["rest_send"] == 30
    assert s.marks["publisher"] == 10 and s.marks["ami"] == 0
    parts = dict(s.parts)
    assert parts["ARI I/O (protocols/ari: own HTTP client, aiohttp websocket)"] == 30
    assert parts["bus (redis-py, bus/, publisher)"] == 10
    assert s.leaf[0] == ("Runner.run (asyncio/runners.py:118)", 60)
    # and back from JSON, as a saved run
    assert ProfileSummary.from_json(json.loads(json.dumps(s.to_json()))) == s
