"""One step of calls: SIPp callers at a rate, CPU metered, drained, counted, judged."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable

from bench import procstat, sipp_calls
from scripts.asterisk_sandbox import free_udp_port

from . import probes
from .model import Step
from .stack import DID, LIVE_CALLS, Stack, log, media_port, wait_until


def judge(
    step: Step, rc: int | None, *, with_agent: bool, max_p99_ms: float, agent_error: str = ""
) -> None:
    """Set ``step.clean`` and add the notes that say why not. Clean: SIPp exited 0 with
    every call successful, the rate sustained (>= 95 %), no note so far (leftover channels,
    live calls, projector backlog), p99 answer latency within ``max_p99_ms`` and, with an
    agent phone, one CDR per call, no open call, every agent call ok and bridged."""
    n = step.calls
    step.clean = (
        rc == 0
        and step.failed == 0
        and step.ok == n
        and step.achieved >= 0.95 * step.rate
        and not step.notes
        and step.p99 <= max_p99_ms
        and (
            not with_agent
            or (
                step.cdr == n
                and step.open_calls == 0
                and step.agent_ok == n
                and step.agent_bridged == n
                and not step.agent_failed
            )
        )
    )
    if not step.p99 <= max_p99_ms:
        step.notes.append(f"answer p99 {step.p99:.0f} ms > {max_p99_ms:g} ms")
    if step.achieved < 0.95 * step.rate and n > 1:
        step.notes.append(f"rate not sustained ({step.achieved:.0f} cps)")
    if with_agent and step.cdr != n:
        step.notes.append(f"{step.cdr} CDRs for {n} calls")
    if with_agent and (step.agent_ok != n or step.agent_failed):
        why = f" ({agent_error})" if step.agent_failed and agent_error else ""
        step.notes.append(f"agent phone: {step.agent_ok} ok, {step.agent_failed} failed{why}")
    if with_agent and step.agent_bridged != n:
        step.notes.append(f"{step.agent_bridged} agent legs bridged for {n} calls")


def run_step(
    stack: Stack,
    mode: str,
    rate: float,
    hold: float,
    xml: str,
    procs: tuple[str, ...],
    *,
    duration: float,
    max_p99_ms: float,
    catchup_s: float,
    with_stack: bool = False,
    thin: bool = False,
    calls: int | None = None,
    limit: int | None = None,
    sampler: Callable[[], None] | None = None,
    extra_wait: float = 0.0,
    media: bool = False,
) -> Step:
    n = calls or max(1, int(rate * duration))
    step = Step(mode, rate, hold, n)
    limit = limit or int(rate * (hold + 10)) + 50
    before_db = probes.db_counts(stack) if with_stack else (0, 0, 0)
    with_agent = with_stack or thin
    phone_before = sipp_calls.counts(stack.phone.workdir) if (with_agent and stack.phone) else None
    since_ms = int(time.time() * 1000)
    meter = procstat.CpuMeter(stack.pids(*procs))
    meter.start()
    callers = sipp_calls.start_callers(
        xml,
        target=stack.target,
        port=free_udp_port(),
        service=DID if (with_stack or (thin and stack.thin_did)) else "100",
        rate=rate,
        calls=n,
        limit=limit,
        timeout_s=n / rate + hold + 40 + extra_wait,
        extra=("-mp", str(media_port())) if media else (),
    )
    stack.sipps.append(callers)
    deadline = time.monotonic() + n / rate + hold + 60 + extra_wait
    sipp_cpu, rc = 0.0, None
    while time.monotonic() < deadline:
        if sampler is not None:
            sampler()
        pid, status, ru = os.wait4(callers.proc.pid, os.WNOHANG)
        if pid:
            rc = os.waitstatus_to_exitcode(status)
            callers.proc.returncode = rc
            sipp_cpu = ru.ru_utime + ru.ru_stime
            break
        time.sleep(0.1 if sampler is None else 0.25)
    if rc is None:
        step.notes.append("callers did not finish in time (killed)")
        callers.kill()
    t_drain = time.monotonic()
    # drain: the switch empty, the controller's live calls gone, the projector caught up
    try:
        wait_until(lambda: probes.channels(stack) == 0, 30, "Asterisk channels gone")
    except RuntimeError:
        step.notes.append(f"{probes.channels(stack)} channels still up 30 s after the callers")
    if with_stack:
        r = stack.redis
        assert r is not None
        try:
            wait_until(lambda: r.scard(LIVE_CALLS) == 0, 30, "live calls")
        except RuntimeError:
            step.notes.append(f"{r.scard(LIVE_CALLS)} live calls left in Redis")
        try:
            wait_until(lambda: probes.projector_lag(stack) == 0, catchup_s, "projector catch-up")
        except RuntimeError:
            step.notes.append(
                f"projector still {probes.projector_lag(stack)} events behind after "
                f"{catchup_s:.0f} s"
            )
    if thin:
        try:
            wait_until(lambda: probes.thin_cdrs(stack, since_ms)[0] >= n, 10, "thin app CDRs")
        except RuntimeError:
            pass  # counted below
    step.drain_s = time.monotonic() - t_drain
    step.cpu = meter.stop()
    step.cpu["sipp callers"] = sipp_cpu
    time.sleep(1.2)  # SIPp writes its stat file every second
    c = sipp_calls.counts(callers.workdir)
    step.created, step.ok, step.failed, step.retrans = (
        c.created,
        c.successful,
        c.failed,
        c.retransmissions,
    )
    t = sipp_calls.timing(callers.workdir)
    step.achieved = t.achieved_cps
    step.p50 = sipp_calls.percentile(t.latencies_ms, 50)
    step.p99 = sipp_calls.percentile(t.latencies_ms, 99)
    if rc not in (0, None) and not step.failed:
        step.notes.append(f"sipp exit {rc}")
    if thin:
        step.cdr, step.agent_bridged = probes.thin_cdrs(stack, since_ms)
        step.open_calls = 0
    if with_agent and stack.phone is not None and phone_before is not None:
        delta = sipp_calls.counts(stack.phone.workdir).minus(phone_before)
        step.agent_failed, step.agent_ok = delta.failed, delta.successful
    if with_stack:
        after = probes.db_counts(stack)
        step.cdr = after[0] - before_db[0]
        step.open_calls = after[1]
        step.agent_answered = after[2] - before_db[2]
        step.agent_bridged, step.answered_first, step.two_prompts = probes.agent_leg_events(
            stack, since_ms
        )
    if not (rc == 0 and step.failed == 0):
        errs = sorted(callers.workdir.glob("*_errors.log"))
        if errs:
            shutil.copy(errs[0], stack.tmp / f"sipp-{mode}-{rate:g}-errors.log")
            step.notes.append(sipp_calls.first_error(errs[0]))
    callers.cleanup()
    stack.sipps.remove(callers)
    agent_error = ""
    if with_agent and stack.phone is not None and step.agent_failed:
        errs = sorted(stack.phone.workdir.glob("*_errors.log"))
        agent_error = sipp_calls.first_error(errs[0]) if errs else ""
    judge(step, rc, with_agent=with_agent, max_p99_ms=max_p99_ms, agent_error=agent_error)
    cpu = ", ".join(f"{k} {step.ms_per_call(k):.2f}" for k in step.cpu)
    log(
        f"{mode} {rate:g} cps hold {hold:g}s: {step.ok}/{n} ok, {step.failed} failed, "
        f"achieved {step.achieved:.0f} cps, answer p50 {step.p50:.1f} ms p99 "
        f"{step.p99:.1f} ms, drain {step.drain_s:.1f}s, CPU ms/call: {cpu}"
        + (
            f", CDR {step.cdr}, agent ok {step.agent_ok} bridged {step.agent_bridged}, "
            f"DB agent legs answered {step.agent_answered}, agent answered-before-"
            f"offered {step.answered_first}"
            if with_stack
            else ""
        )
        + (" CLEAN" if step.clean else f" NOT CLEAN {step.notes}")
    )
    return step
