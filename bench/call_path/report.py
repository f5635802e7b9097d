"""The call-path section of ``bench/RESULTS.md`` from saved results: a pure function.

``render(results)`` reads nothing but its argument (no clock, no /proc, no source tree),
so the same saved numbers always give the same text and the text can be tested. The
findings name the code by module and function, never by file:line: a line number
grepped at report time silently points at other code once the file changes.
"""

from __future__ import annotations

import math
import statistics

from .findings import findings_lines
from .model import Results, Series, Step

TARGETS = {"c0": 150.0, "c2": 90.0, "rss_mb": 150.0}  # SW-1 throughput, memory
CAPACITY_FROM_CPS = 75.0  # the capacity ratio's median is over rates from this one
THIN_PATH = ("asterisk", "thin app", "redis")  # the whole path's CPU, not the load generators
CTL_PATH = ("asterisk", "controller", "projector", "redis")
SERIES_ORDER = ("a", "b", "t0", "t2", "c0", "c2")
TOP = 12  # rows of the top-frames tables


def path_cpu(step: Step, procs: tuple[str, ...]) -> float:
    """CPU per call (ms) of ``procs`` in ``step``."""
    return sum(step.ms_per_call(p) for p in procs)


def _f(v: float | None, fmt: str = ".1f") -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, fmt)


def render(res: Results) -> str:
    """The section's Markdown (between its markers), from ``res`` alone."""
    run = res.run
    L: list[str] = []
    when = run.started.strftime("%Y-%m-%d %H:%M UTC")
    L.append("## Call path: Asterisk vs bare ARI app vs the controller")
    L.append("")
    L.append(
        f"Run {when}, {run.machine}, Asterisk {run.asterisk} (sandbox), Python "
        f"{run.python}, `{run.command}` ({run.elapsed_s / 60:.1f} min). "
        f"Steps of {run.duration_s:g} s of calls at each rate; a mode stops at its first "
        "rate that is not clean. Everything on 127.0.0.1; the load generators (SIPp) "
        f"share the same {run.cpus} cores. "
        + (
            f"Code measured: {run.code} (as the controller and projector loaded it). "
            if run.code
            else ""
        )
        + "On this shared VM the p99 latencies move a lot between "
        "runs (a step near a mode's limit can pass in one run and miss in the next); "
        "compare rows of the same run." + (f" {run.note}" if run.note else "")
    )
    L.append("")
    L.append(
        "Clean = SIPp counts every call successful (callers that wait for the far end's BYE "
        "fail without it), the rate was sustained (>= 95 % between first and last INVITE), "
        "no channel left; for (c) also one CDR (`Call` with `ended_at`) per call in the DB "
        "after the projector caught up, every call answered by the agent phone without a "
        "failure, and every agent leg bridged (`CallBridged` of the agent leg on "
        "`callctl:events`). A step whose p99 answer latency is above "
        f"{run.max_p99_ms:g} ms is not clean either (calls are queueing). Answer latency = "
        "first INVITE sent -> 200 OK received (SIPp "
        "message trace, us resolution). CPU = utime+stime from /proc over the step "
        "including the drain (projector catch-up), divided by the calls of the step; "
        "`SIPp callers` is the load generator, for scale."
    )
    L.append("")
    L.append(
        f"(c) hold 0 s: the agent phone hangs up {run.agent_talk_ms} ms after answering (a "
        "phone that hangs up at once always beats the controller's `addChannel`, so the "
        "join would never be exercised) and the controller releases the caller; hold 2 s: "
        "the caller hangs up 2 s after its answer and the controller hangs up the agent. "
        "Every call first hears `sound:beep` (~0.45 s): the caller enters the bridge when "
        "the prompt ends. `DB agent legs answered` = `CallLeg` rows of agents with "
        "`answered_at`; `answered before offered` = agent legs whose `CallAnswered` was "
        "published before their `CallOffered`; `2nd prompt` = callers that heard a second "
        "prompt (the no-agent one; see the findings below)."
    )
    L.append("")
    thin_like = run.thin_like.split(",") if run.thin_like else []
    L.append(
        "(t) is the same call path as (c) done by `bench/thin_path_app.py`, a single-purpose "
        "asyncio script (aiohttp, uvloop, orjson, an ARI event filter, CDRs batched into a "
        "Redis stream) with none of the real machinery: no state store, bus, normalization, "
        "ledger, projector, AMI or hangup handler. It is the issue's "
        '"physical limit" measured in this run, so (c) can be judged against it on the same '
        "machine at the same moment. Clean for (t) also needs one CDR per call on its stream, "
        "the agent phone's every call ok and every agent leg bridged."
        + (
            " (t) and (c) run paired: at each rate one step of each, back to back, the "
            "first alternating from rate to rate, both stacks up all along (the machine's "
            "noise drifts within minutes; a (t) run minutes before (c) flattered one side)."
            if run.paired
            else " (t) ran at every rate before (c) (`--sequential`)."
        )
        + (
            " The thin app makes its REST calls with aiohttp's `ClientSession`, as the issue "
            "describes it"
            if "http" not in thin_like
            else " The thin app makes its REST calls with the controller's client (`--thin-like "
            "http`)"
        )
        + "; the controller with its own keep-alive client "
        "(`switch_control/protocols/ari/http.py`, see the ARI REST client section)."
        + (f" Run with `--thin-like {run.thin_like}`." if run.thin_like else "")
    )
    for key in SERIES_ORDER:
        s = res.series.get(key)
        if not s:
            continue
        L.append("")
        L.append(f"### {s.title}")
        L.append("")
        L += series_table(s)
    L.append("")
    L += summary_lines(res)
    return "\n".join(L) + "\n"


def series_table(s: Series) -> list[str]:
    stack = s.mode.startswith("c")
    thin = s.mode.startswith("t")
    cols = ["rate (cps)", "achieved", "calls", "ok", "failed", "answer p50 / p99 (ms)"]
    cols += [f"{p} ms/call" for p in s.procs]
    cols += ["SIPp callers ms/call"]
    if stack:
        cols += ["CDRs", "agent phone ok / bridged", "DB agent legs answered"]
        cols += ["answered before offered", "2nd prompt", "drain (s)"]
    elif thin:
        cols += ["CDRs", "agent phone ok / bridged"]
    cols += ["clean"]
    out = ["| " + " | ".join(cols) + " |", "|" + "---:|" * len(cols)]
    for st in s.steps:
        row = [
            f"{st.rate:g}",
            f"{st.achieved:.0f}",
            str(st.calls),
            str(st.ok),
            str(st.failed),
            f"{_f(st.p50, '.1f')} / {_f(st.p99, '.1f')}",
        ]
        row += [_f(st.ms_per_call(p), ".2f") for p in s.procs]
        row += [_f(st.ms_per_call("sipp callers"), ".2f")]
        if stack:
            row += [
                str(st.cdr),
                f"{st.agent_ok} / {st.agent_bridged}",
                str(st.agent_answered),
                str(st.answered_first),
                str(st.two_prompts),
                f"{st.drain_s:.1f}",
            ]
        elif thin:
            row += [str(st.cdr), f"{st.agent_ok} / {st.agent_bridged}"]
        row += ["yes" if st.clean else "**no**: " + "; ".join(st.notes or ["SIPp failures"])]
        out.append("| " + " | ".join(row) + " |")
    if s.skipped:
        out.append(f"\n{s.skipped}")
    return out


def summary_lines(res: Results) -> list[str]:
    L: list[str] = ["### Summary", ""]
    best = {k: s.best for k, s in res.series.items()}
    capped = {k: s.capped for k, s in res.series.items()}
    cores = res.run.cpus

    def cps(k: str) -> float:
        b = best.get(k)
        return b.rate if b else 0.0

    L.append("| mode | highest clean cps | answer p50 / p99 (ms) at that rate | CPU ms/call |")
    L.append("|---|---:|---:|---|")
    for k, s in res.series.items():
        b = best[k]
        if b is None:
            L.append(f"| {s.title} | none | - | - |")
            continue
        cpu = ", ".join(f"{p} {b.ms_per_call(p):.2f}" for p in s.procs)
        ge = ">= " if capped[k] else ""
        L.append(f"| {s.title} | {ge}{b.rate:g} | {b.p50:.1f} / {b.p99:.1f} | {cpu} |")
    L.append("")
    c0, c2 = cps("c0"), cps("c2")
    a_, b_ = cps("a"), cps("b")
    ok0, ok2 = c0 >= TARGETS["c0"], c2 >= TARGETS["c2"]

    def ref(t: str) -> str:
        if t not in res.series:
            return ""
        target = TARGETS["c0" if t == "t0" else "c2"]
        return (
            f"; the thin reference app was clean up to {cps(t):g} cps in this run"
            + (" (its last step)" if capped.get(t) else "")
            + (
                f", so {target:g} was out of reach"
                if cps(t) and not capped.get(t) and cps(t) < target
                else ""
            )
        )

    L.append(
        f"- Target (c) hold 0 s >= {TARGETS['c0']:g} cps: **{'met' if ok0 else 'NOT met'}** "
        f"({c0:g} cps clean{ref('t0')})."
    )
    L.append(
        f"- Target (c) hold 2 s >= {TARGETS['c2']:g} cps: **{'met' if ok2 else 'NOT met'}** "
        f"({c2:g} cps clean{ref('t2')})."
    )
    if a_ and b_:

        def ratio(x: str, y: str) -> str:
            vx, vy = cps(x), cps(y)
            if capped.get(y) and not capped.get(x):
                return f"<= {vx / vy:.2f}"
            if capped.get(x) and not capped.get(y):
                return f">= {vx / vy:.2f}"
            return f"{vx / vy:.2f}" + (" (both capped)" if capped.get(x) else "")

        L.append(
            f"- Highest clean rate ratios: (c) hold 0 / (a) {ratio('c0', 'a')}, "
            f"(c) hold 0 / (b) {ratio('c0', 'b')}, (c) hold 2 / (b) {ratio('c2', 'b')}, "
            f"(b) / (a) {ratio('b', 'a')} (a mode whose last step was clean is capped by "
            "the highest rate tried, hence >= / <=)."
        )
    ast = {k: b.ms_per_call("asterisk") for k, b in best.items() if b is not None}
    if "a" in ast:
        L.append(
            "- Asterisk CPU per call: "
            + ", ".join(f"{k} {v:.2f} ms" for k, v in ast.items())
            + f" (x{ast.get('c0', math.nan) / ast['a']:.1f} for (c) hold 0 vs (a): the agent "
            "leg, bridge, prompt and ARI)."
        )
    b0, bb = best.get("c0"), best.get("b")
    if b0 and bb:
        L.append(
            f"- Controller CPU per call {b0.ms_per_call('controller'):.2f} ms + projector "
            f"{b0.ms_per_call('projector'):.2f} ms + Redis {b0.ms_per_call('redis'):.2f} ms "
            f"(hold 0 at {b0.rate:g} cps) vs the bare ARI app {bb.ms_per_call('bare app'):.2f} "
            "ms (which makes 2 REST calls per call; (c) makes 9 and handles twice the channels)."
        )
    for c_, t_ in (("c0", "t0"), ("c2", "t2")):
        bc, bt = best.get(c_), best.get(t_)
        if bt is None or c_ not in res.series:
            continue
        share = cps(c_) / cps(t_)
        capped_t = " (the thin app's last step was clean: its limit is higher)" * capped[t_]
        if share < 0.85:
            verdict = "NOT met"
        elif not capped[t_]:
            verdict = "met"
        elif capped[c_]:  # both clean at the highest rate tried: no gap seen
            verdict = "met up to the highest rate tried (both clean there)"
        else:  # the thin app's limit is higher than it was asked: the share is at most this
            verdict = "not determined (the share is at most this)"
        L.append(
            f"- {res.series[c_].title} against the thin app on "
            f"the same path: {cps(c_):g} vs {cps(t_):g} cps clean = "
            f"{share:.2f}{capped_t}; the issue's aim is within ~15 % of it (>= 0.85): "
            f"**{verdict}**."
        )
        if bc is None:
            continue
        ac, at = bc.ms_per_call("asterisk"), bt.ms_per_call("asterisk")
        ours = bc.ms_per_call("controller") + bc.ms_per_call("projector")
        ours += bc.ms_per_call("redis")
        thin = bt.ms_per_call("thin app") + bt.ms_per_call("redis")
        L.append(
            f"  CPU per call at those rates: Asterisk {ac:.1f} ms under the controller vs "
            f"{at:.1f} ms under the thin app; controller + projector + Redis {ours:.1f} ms vs "
            f"thin app + Redis {thin:.1f} ms."
        )
        # a steadier yardstick than the clean rates (one step either way moves their ratio
        # by ~0.1): the whole path's CPU per call of both at the same rate
        common = {st.rate: st for st in res.series[c_].steps if st.clean}
        same = [
            (st, common[st.rate]) for st in res.series[t_].steps if st.clean and st.rate in common
        ]
        if same:
            st_t, st_c = max(same, key=lambda tc: tc[0].rate)
            tot_t, tot_c = path_cpu(st_t, THIN_PATH), path_cpu(st_c, CTL_PATH)
            L.append(
                f"  Capacity at the same rate ({st_t.rate:g} cps, the highest both ran clean): "
                f"the whole path takes {tot_t:.1f} ms of CPU per call under the thin app and "
                f"{tot_c:.1f} ms under the controller (Asterisk, app, projector, Redis; "
                f"not the load generators) = {tot_t / tot_c:.2f}."
            )
            ratios = [
                path_cpu(t, THIN_PATH) / path_cpu(c, CTL_PATH)
                for t, c in same
                if t.rate >= CAPACITY_FROM_CPS
            ]
            if len(ratios) > 1:
                L.append(
                    f"  The same over every rate from {CAPACITY_FROM_CPS:g} cps that both ran "
                    f"clean ({len(ratios)} rates{', paired steps' * res.run.paired}): median "
                    f"{statistics.median(ratios):.2f}, range {min(ratios):.2f}-"
                    f"{max(ratios):.2f} (below {CAPACITY_FROM_CPS:g} cps fixed costs such as "
                    "presence polling weigh on the few calls)."
                )
    for k in ("c0", "c2"):
        b = best.get(k)
        if b is None:
            continue
        parts = {p: b.ms_per_call(p) for p in CTL_PATH}
        total = sum(parts.values())
        no_pj = total - parts["projector"]
        L.append(
            f"- CPU budget of one call, {res.series[k].title} at {b.rate:g} cps: "
            + " + ".join(f"{p} {v:.1f}" for p, v in parts.items())
            + f" = {total:.1f} ms, so {cores} cores top out near {1000 * cores / total:.0f} cps "
            "before the load generators take their share; without the projector "
            f"({no_pj:.1f} ms) near {1000 * cores / no_pj:.0f} cps."
        )
    L.append("")
    L += profile_lines(res)
    L.append("")
    L += findings_lines(res)
    L.append("")
    L += rss_lines(res)
    return L


def profile_lines(res: Results) -> list[str]:
    L = ["### Controller CPU by part (py-spy)", ""]
    prof, st = res.profile.controller, res.profile.step
    if prof is None or st is None or not prof.samples:
        L.append(res.profile.note or "not run")
        return L
    ctl = st.ms_per_call("controller")
    L.append(
        f"One extra step of (c) hold 0 s at {st.rate:g} cps ({st.calls} calls, "
        f"{'clean' if st.clean else 'not clean: ' + '; '.join(st.notes)}) with "
        f"`py-spy record --rate 250 {res.profile.flag}` on the controller and on the "
        f"projector: {prof.samples} controller samples; controller CPU {ctl:.2f} ms/call in "
        "this step (py-spy's reading adds a little). py-spy counts a thread that runs or "
        "waits for a core, so the shares below are applied to the CPU measured from /proc. A "
        "sample goes to the innermost frame that names "
        "a part (`bench/profile_parts.py`); `event loop / other` is mostly uvloop's own C "
        "code (socket reads/writes, callbacks), which py-spy shows as `Runner.run`."
    )
    L.append("")
    L += _parts_table(prof.parts, prof.samples, ctl)
    L.append("")
    L += _top_lines(prof.leaf, prof.inclusive, prof.samples, "controller")
    pj = res.profile.projector
    pj_ms = st.ms_per_call("projector")
    L.append("")
    L.append("### Projector CPU by part (py-spy, same step)")
    L.append("")
    if pj is None or not pj.samples:
        L.append("no projector profile")
        return L
    L.append(
        f"{pj.samples} samples; projector CPU {pj_ms:.2f} ms/call in this step (all of its "
        "threads: the asyncio consumer and the `sync_to_async` worker)."
    )
    L.append("")
    L += _parts_table(pj.parts, pj.samples, pj_ms)
    L.append("")
    L += _top_lines(pj.leaf, pj.inclusive, pj.samples, "projector")
    return L


def _parts_table(parts: list[tuple[str, int]], samples: int, ms: float) -> list[str]:
    L = ["| part | share of the process's CPU | ms per call |", "|---|---:|---:|"]
    for part, n in parts:
        sh = n / samples if samples else 0.0
        L.append(f"| {part} | {100 * sh:.1f} % | {sh * ms:.2f} |")
    return L


def _top_lines(
    leaf: list[tuple[str, int]], inclusive: list[tuple[str, int]], samples: int, who: str
) -> list[str]:
    # the frames' file:line are py-spy's, recorded in that run: data, not a citation
    L = [f"Top self-time lines of the {who} (leaf frames):", ""]
    L += ["| share | frame |", "|---:|---|"]
    for frame, n in leaf[:TOP]:
        L.append(f"| {100 * n / samples:.1f} % | `{frame}` |")
    L.append("")
    L.append(f"Top functions of the {who}, inclusive (time in them and what they call):")
    L.append("")
    L += ["| share | function |", "|---:|---|"]
    for fn, n in inclusive[:TOP]:
        L.append(f"| {100 * n / samples:.1f} % | `{fn}` |")
    return L


def rss_lines(res: Results) -> list[str]:
    r = res.rss
    if r is None:
        return ["### Memory with concurrent calls", "", "not run"]
    L = [f"### Memory with {r.concurrent} concurrent calls", ""]
    st = r.step
    ctl_mb = r.peak.get("controller", 0) / 1024
    L.append(
        f"{r.concurrent} calls ramped at {r.rate:g} cps, each held {r.hold:g} s, "
        "caller and agent phone both sending G.711 silence (RTP every 20 ms), so every call "
        "is two bridged channels with media: peak live calls in the controller's state "
        f"{r.live_calls_peak}, Asterisk channels {r.channels_at_peak} (sampled after the "
        f"ramp). Calls ok {st.ok}/{st.calls}, CDRs {st.cdr}"
        f"{'' if st.clean else ' (not clean: ' + '; '.join(st.notes) + ')'}."
    )
    L.append("")
    L.append("| process | VmRSS idle (MB) | peak VmRSS (MB) |")
    L.append("|---|---:|---:|")
    for k in r.peak:
        L.append(f"| {k} | {r.idle.get(k, 0) / 1024:.0f} | {r.peak[k] / 1024:.0f} |")
    L.append("")
    L.append(
        f"This step is about memory, not capacity: carrying RTP for {r.concurrent} calls "
        f"costs Asterisk {st.ms_per_call('asterisk'):.0f} ms and the SIPp callers "
        f"{st.ms_per_call('sipp callers'):.0f} ms of CPU per call over the hold, so the "
        f"{res.run.cpus} cores are busy (answer p50 / p99 {st.p50:.0f} / {st.p99:.0f} ms). "
        "Asterisk's idle figure is after the (a)/(b) bursts: it keeps what it allocated."
    )
    L.append("")
    ok = ctl_mb <= TARGETS["rss_mb"] and r.live_calls_peak >= r.concurrent * 0.95
    L.append(
        f"- Target controller RSS <= {TARGETS['rss_mb']:g} MB at {r.concurrent} calls: "
        f"**{'met' if ok else 'NOT met'}** ({ctl_mb:.0f} MB)."
    )
    return L
