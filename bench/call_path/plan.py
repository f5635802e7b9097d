"""The order of a run: (a), (b), then (t) and (c) paired rate by rate, the py-spy step and
the memory step; each series stepping up its rates until one is not clean."""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from bench import procstat, sipp_calls

from . import probes, profiles
from .model import Profile, Results, Rss, RunInfo, Series, Step
from .stack import AGENT_TALK_MS, CALLER, LIVE_CALLS, PYSPY, REPO, Stack, log
from .steps import run_step


def caller_xml(user: str, hold: float) -> str:
    """The callers' scenario: hang up ``hold`` s after the answer, or (hold 0) wait for the
    far end's BYE."""
    if hold:
        return sipp_calls.caller_hangs_up(user, hold)
    return sipp_calls.caller_waits_for_bye(user, 15)


class Bench:
    def __init__(self, args: argparse.Namespace, run: RunInfo) -> None:
        self.args = args
        self.t0 = time.monotonic()
        self.stack = Stack(args.stack_env, args.thin_like)
        self.results = Results(run)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def step(
        self, mode: str, rate: float, hold: float, xml: str, procs: tuple[str, ...], **kw: Any
    ) -> Step:
        return run_step(
            self.stack,
            mode,
            rate,
            hold,
            xml,
            procs,
            duration=self.args.duration,
            max_p99_ms=self.args.max_p99_ms,
            catchup_s=self.args.catchup,
            **kw,
        )

    def after_unclean(self) -> None:
        """What an overloaded step left must not reach (and fail) the next step: its
        channels are hung up, and the next phone registers a fresh port, as Asterisk goes
        on retransmitting BYEs of the old dialogs to the old one for up to 32 s."""
        probes.clear_channels(self.stack)
        self.stack.phone_port = 0

    # ------------------------------------------------------------------ series
    def run_series(
        self,
        series: Series,
        rates: list[float],
        hold: float,
        xml: str,
        *,
        with_stack: bool = False,
        thin: bool = False,
        reserve_s: float = 0.0,
    ) -> None:
        self.results.series[series.mode] = series
        probes.clear_channels(self.stack)
        for rate in rates:
            need = self.args.duration + hold + 15
            if self.elapsed + need + reserve_s > self.args.budget:
                series.skipped = f"rates from {rate:g} cps skipped (time budget)"
                log(series.skipped)
                return
            step = self.step(
                series.mode, rate, hold, xml, series.procs, with_stack=with_stack, thin=thin
            )
            series.steps.append(step)
            if not step.clean:
                self.after_unclean()
                return
            time.sleep(1.0)

    def run_paired(
        self,
        st: Series | None,
        sc: Series | None,
        rates: list[float],
        hold: float,
        xmls: tuple[str, str],
        *,
        reserve_s: float = 0.0,
    ) -> None:
        """(t) and (c) at each rate, one step each, adjacent in time and in alternating
        order; each series stops at its first step that is not clean, the other goes on."""
        live = [x for x in (st, sc) if x is not None]
        for x in live:
            self.results.series[x.mode] = x
        probes.clear_channels(self.stack)
        for i, rate in enumerate(rates):
            need = (self.args.duration + hold + 15) * len(live)
            if self.elapsed + need + reserve_s > self.args.budget:
                for x in live:
                    x.skipped = f"rates from {rate:g} cps skipped (time budget)"
                log(f"rates from {rate:g} cps skipped (time budget)")
                return
            for x in list(live if i % 2 == 0 else reversed(live)):
                thin = x is st
                step = self.step(
                    x.mode,
                    rate,
                    hold,
                    xmls[0] if thin else xmls[1],
                    x.procs,
                    with_stack=not thin,
                    thin=thin,
                )
                x.steps.append(step)
                if not step.clean:
                    live.remove(x)
                    self.after_unclean()
                    if live:
                        self.stack.start_phone(hangs_up_at_once=not hold)
                time.sleep(1.0)
            if not live:
                return

    # ------------------------------------------------------------------ profile, RSS
    def profile_step(self, rate: float) -> Profile:
        """One more step of (c) hold 0 with py-spy on the controller and the projector."""
        prof = Profile()
        if PYSPY is None:
            prof.note = "py-spy not installed: no per-part profile"
            return prof
        stack = self.stack
        assert stack.controller is not None and stack.projector is not None
        if self.args.profile_native:
            prof.flag = "--native"
        spies = {}
        for name, proc in (("controller", stack.controller), ("projector", stack.projector)):
            out = stack.tmp / f"pyspy-{name}.txt"
            spy = stack.spawn(
                [
                    *(PYSPY, "record", "--pid", str(proc.pid), "--rate", "250"),
                    *("--format", "raw", "-o", str(out)),
                    # --native needs to stop the process for each sample (slower, but it
                    # names C frames: uvloop's, the garbage collector's, libc's)
                    prof.flag,
                ],
                f"pyspy-{name}",
            )
            spies[name] = (spy, out)
        time.sleep(1.0)
        for name, (spy, _out) in spies.items():
            if spy.poll() is not None:
                prof.note = (
                    f"py-spy could not attach to the {name}: {stack.log_tail('pyspy-' + name, 500)}"
                )
                return prof
        xml = sipp_calls.caller_waits_for_bye(CALLER, 15)
        prof.step = self.step(
            "profile", rate, 0.0, xml, ("controller", "projector", "asterisk"), with_stack=True
        )
        for spy, _out in spies.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(spy.pid, signal.SIGINT)
        for spy, _out in spies.values():
            try:
                spy.wait(30)
            except subprocess.TimeoutExpired:
                stack.stop_proc(spy, signal.SIGKILL)
        ctl_out, pj_out = spies["controller"][1], spies["projector"][1]
        if ctl_out.exists():
            prof.controller = profiles.controller(ctl_out)
        else:
            prof.note = "py-spy wrote nothing: " + stack.log_tail("pyspy-controller", 500)
        if pj_out.exists():
            prof.projector = profiles.projector(pj_out)
        if self.args.keep_profile:
            keep = Path(self.args.keep_profile)
            keep.mkdir(parents=True, exist_ok=True)
            for _spy, out in spies.values():
                if out.exists():
                    shutil.copy(out, keep / out.name)
        return prof

    def rss_step(self, concurrent: int, rate: float, hold: float) -> Rss:
        stack = self.stack
        stack.start_phone(hangs_up_at_once=False, audio="silence")
        r = stack.redis
        assert r is not None
        pids = stack.pids("controller", "asterisk", "projector", "redis")
        idle = {k: procstat.rss_kib(p) for k, p in pids.items()}
        peak = dict(idle)
        peak_calls = {"live": 0, "channels": 0}
        t_start = time.monotonic()
        checked = False

        def sample() -> None:
            nonlocal checked
            for k, p in pids.items():
                peak[k] = max(peak[k], procstat.rss_kib(p))
            peak_calls["live"] = max(peak_calls["live"], int(r.scard(LIVE_CALLS)))
            if not checked and time.monotonic() - t_start > concurrent / rate + 3:
                checked = True
                peak_calls["channels"] = probes.channels(stack)

        step = self.step(
            "rss",
            rate,
            hold,
            sipp_calls.caller_hangs_up(CALLER, hold, audio="silence"),
            ("controller", "asterisk", "projector", "redis"),
            with_stack=True,
            calls=concurrent,
            limit=concurrent,
            sampler=sample,
            extra_wait=hold,
            media=True,
        )
        log(
            f"RSS at {peak_calls['live']} live calls ({peak_calls['channels']} channels): "
            + ", ".join(
                f"{k} {v / 1024:.0f} MB (idle {idle[k] / 1024:.0f})" for k, v in peak.items()
            )
        )
        return Rss(
            step=step,
            concurrent=concurrent,
            rate=rate,
            hold=hold,
            idle=idle,
            peak=peak,
            live_calls_peak=peak_calls["live"],
            channels_at_peak=peak_calls["channels"],
        )

    # ------------------------------------------------------------------ the whole run
    def run(self) -> Results:
        a, stack, res = self.args, self.stack, self.results
        stack.start_redis()
        stack.start_sandbox()
        res.run.asterisk = stack.asterisk_version
        stack.migrate()
        log(f"setup done in {self.elapsed:.0f}s; tmp {stack.tmp}")

        # (a) dialplan only
        sa = Series("a", "(a) Asterisk dialplan only: Answer + Hangup", ("asterisk",))
        if "a" in a.modes:
            self.run_series(sa, a.rates_a, 0.0, sipp_calls.caller_waits_for_bye("benchdp", 10))

        # (b) bare ARI app
        if "b" in a.modes:
            stack.start_bare()
            sb = Series("b", "(b) bare ARI app (one asyncio process)", ("asterisk", "bare app"))
            self.run_series(sb, a.rates_b, 0.0, sipp_calls.caller_waits_for_bye("benchari", 10))
            stack.stop_bare()

        # (t) the thin reference for (c), same path with none of the machinery, and (c) the
        # real stack: paired at each rate (adjacent steps, alternating which goes first),
        # so the machine's drifting noise weighs on both alike
        tprocs = ("asterisk", "thin app", "redis", "agent sipp")
        procs = ("asterisk", "controller", "projector", "redis", "agent sipp")
        t0 = Series("t0", "(t) thin reference app, same path, hold 0 s", tprocs)
        t2 = Series("t2", "(t) thin reference app, same path, hold 2 s", tprocs)
        c0 = Series("c0", "(c) controller, full path, hold 0 s", procs)
        c2 = Series("c2", "(c) controller, full path, hold 2 s", procs)
        thin_caller = CALLER if stack.thin_did else "benchari"
        paired = not (stack.thin_did or a.sequential)
        res.run.paired = paired
        if "t0" in a.modes or "t2" in a.modes:
            stack.start_thin()
        if paired:
            res.run.code = snapshot_code()
            stack.start_stack()
        for hold, st, sc, rates, reserve in (
            (0.0, t0, c0, a.rates_c0, 500),
            (2.0, t2, c2, a.rates_c2, 350),
        ):
            want_t, want_c = st.mode in a.modes, sc.mode in a.modes
            if not (want_t or want_c):
                continue
            xml_t, xml_c = caller_xml(thin_caller, hold), caller_xml(CALLER, hold)
            stack.start_phone(hangs_up_at_once=not hold)
            if paired:
                self.run_paired(
                    st if want_t else None,
                    sc if want_c else None,
                    rates,
                    hold,
                    (xml_t, xml_c),
                    reserve_s=reserve,
                )
            elif want_t:
                self.run_series(st, rates, hold, xml_t, thin=True, reserve_s=reserve)
        if not paired:  # (c) after (t): the thin app must be gone (same Stasis app name)
            if stack.thin is not None:
                stack.stop_thin()
            res.run.code = snapshot_code()
            stack.start_stack()
            for hold, sc, rates, reserve in (
                (0.0, c0, a.rates_c0, 150),
                (2.0, c2, a.rates_c2, 110),
            ):
                if sc.mode not in a.modes:
                    continue
                stack.start_phone(hangs_up_at_once=not hold)
                self.run_series(
                    sc, rates, hold, caller_xml(CALLER, hold), with_stack=True, reserve_s=reserve
                )
        if stack.thin is not None:
            stack.stop_thin()

        # per-part profile at a rate the controller handles (py-spy costs CPU too)
        if "profile" in a.modes:
            stack.start_phone(hangs_up_at_once=True)
            best = c0.best
            rate = min(a.profile_rate, best.rate) if best else min(a.rates_c0)
            res.profile = self.profile_step(rate)
        if "rss" in a.modes:
            res.rss = self.rss_step(a.rss_calls, a.rss_rate, a.rss_hold)
        res.run.elapsed_s = self.elapsed
        res.run.agent_talk_ms = AGENT_TALK_MS
        return res


def snapshot_code() -> str:
    """The code version the controller and projector load: commit, and the paths with
    uncommitted changes outside bench/."""

    def git(*a: str) -> str:
        r = subprocess.run(["git", *a], cwd=REPO, capture_output=True, text=True, check=False)
        return r.stdout.rstrip("\n")

    head = git("rev-parse", "--short", "HEAD")
    dirty = [
        line[3:]
        for line in git("status", "--porcelain", "--untracked-files=no").splitlines()
        if not line[3:].startswith("bench/")
    ]
    return f"commit {head}" + (f" + uncommitted changes in {', '.join(dirty)}" if dirty else "")
