"""The findings of the call-path section: what this run's numbers say about the code,
named by module and function (never file:line). Pure, like ``report``."""

from __future__ import annotations

from .model import Results


def findings_lines(res: Results) -> list[str]:
    """Findings from this run's numbers. The code is named by module and function."""
    L = ["### Findings and hotspots", ""]
    series_steps = [st for k in ("c0", "c2") if k in res.series for st in res.series[k].steps]
    steps = list(series_steps)
    if res.profile.step is not None:
        steps.append(res.profile.step)
    if res.rss is not None:
        steps.append(res.rss.step)
    n = 0

    def item(text: str) -> None:
        nonlocal n
        n += 1
        L.append(f"{n}. {text}")

    legs = sum(st.calls for st in steps)
    early = sum(st.answered_first or 0 for st in steps)
    unanswered = sum(st.calls - (st.agent_answered or 0) for st in steps)
    two = sum(st.two_prompts or 0 for st in steps)
    if early:
        item(
            f"**Agent `CallAnswered` published before its `CallOffered`**: {early} of {legs} "
            "agent legs in the (c) steps. The Asterisk driver's originate request "
            "(`POST /channels`) returns after Asterisk has already dialled, and the leg's "
            "`CallOffered` is emitted only then, while the leg's own events "
            "(`ChannelStateChange` Up -> `CallAnswered`) are translated as they arrive. The "
            "call-state fold (`switch_control/engine/calls.py`) drops events of legs it does "
            "not know yet, so the controller never sees that agent up: when the agent then "
            "hangs up, the policy treats it as never answered and plays the no-agent prompt to "
            f"the caller before releasing it ({two} callers heard a second prompt). The "
            "projector loses the same `answered_at` (its `CallAnswered` rule in "
            f"`reports/projector.py`: no leg row yet): {unanswered} agent `CallLeg` rows "
            "without `answered_at`. Not fixed here (benchmark only)."
        )
    prof, pj, st = res.profile.controller, res.profile.projector, res.profile.step
    if prof is not None and prof.samples and st is not None:
        ctl = st.ms_per_call("controller")

        def pc(mark: str) -> str:
            sh = prof.mark(mark)
            return f"{100 * sh:.0f} % ({sh * ctl:.1f} ms/call)"

        item(
            f"**AMI**: {pc('ami')} of the controller's CPU. The "
            "driver opens AMI only while it reconciles and for the half-hourly AstDB sweep: "
            "a standing manager session, whatever event classes it asks for, makes Asterisk "
            "format every AMI event of every call (measured: 12.0 -> 10.8 ms of Asterisk CPU "
            "per call without it); phones' presence is polled over ARI."
        )
        item(
            f"**ARI REST requests**: {pc('rest')} "
            "(9 requests per call: answer, play, bridge, the caller's subscription, "
            "addChannel, originate, addChannel, hangup, bridge delete), of which the socket "
            f"write (`_Conn.send`, `switch_control/protocols/ari/http.py`) {pc('rest_send')}; "
            "on loopback the kernel's TCP delivery to "
            "Asterisk is charged to the sender. They go through the controller's own "
            "keep-alive HTTP/1.1 client (`HttpPool`): aiohttp's `ClientSession` spent ~85 us "
            "of CPU per request, this one ~25 (`bench/bench_ari_http.py`); aiohttp stays for "
            "the websocket. The pool keeps up to `ARI_MAX_CONNECTIONS` (256) connections: "
            "`addChannel` and `answer` hold theirs until the channel did it, and with 16 "
            "every call queued behind them from ~40 cps on (answer p50 > 1 s)."
        )
        item(
            f"**ARI events**: {pc('events')} for the websocket reader and "
            f"dispatch, of which `parse_event` {pc('parse_event')} "
            "(timestamps with `datetime.fromisoformat` in `parse_time`, "
            "`switch_control/protocols/ari/models.py`; "
            "`strptime` cost 6 % alone). Asterisk sends only the event types the driver "
            "uses (its `WANTED_EVENTS` filter)."
        )
        item(
            f"**Publisher**: {pc('publisher')} in `Controller._publisher` "
            "(`switch_control/daemon.py`): per batch one EVAL appending every event as its "
            "own stream entry (`xadd_many`), one MSET of the live calls' states and one "
            "DEL of the ended ones (it waits up to `PUBLISH_LINGER_MS`, 25 ms, for a burst "
            "to gather)."
        )
    if pj is not None and pj.samples and st is not None:
        pms = st.ms_per_call("projector")

        def pp(mark: str) -> str:
            sh = pj.mark(mark)
            return f"{100 * sh:.0f} % ({sh * pms:.1f} ms/call)"

        others = sum(st.ms_per_call(k) for k in ("asterisk", "controller"))
        item(
            f"**Projector**: {pms:.1f} ms per call"
            + (" (more than Asterisk and the controller together)" if pms > others else "")
            + ": each batch (the consumer lingers `PROJECTOR_LINGER_MS`, 1 s, for one) is "
            "read, folded in memory "
            "and written with a fixed number of statements "
            "(`_Batch` in `reports/projector.py`): Django ORM + SQLite "
            f"{pp('orm')}, of which SQLite commits {pp('commit')}"
            f"; the CDR rules themselves {pp('rules')}; decoding the events "
            f"{pp('decode')}; the `sync_to_async` hand-off {pp('handoff')}. (The per-event "
            "ORM version took 15.9 ms per call.)"
        )
    ast = [st.ms_per_call("asterisk") for st in series_steps if st.clean]
    if ast:
        span = f"{min(ast):.1f}" + (f"-{max(ast):.1f}" if max(ast) > min(ast) else "")
        item(
            f"**Asterisk** takes {span} ms per call in the clean (c) steps (two channels, a "
            "bridge and a prompt; (b) answers one channel and hangs up). Besides the call "
            "itself it writes AstDB once per leg in the hangup handler (`[cc-hangup]` in "
            "`asterisk_conf/extensions.conf`)"
            " and builds the ARI events the controller reads. The app no longer asks for "
            "`subscribeAll`, with which Asterisk turned every stasis message of every channel "
            "and bridge into JSON before the event filter dropped most of them: the driver "
            "now knows bridge membership from its own addChannel/removeChannel replies, "
            "subscribes each dialplan caller explicitly (its `ChannelDestroyed`) and polls "
            "phones' presence (8 ARI events per call instead of 12; Asterisk's excess over "
            "the thin app went from ~1.6 to ~0.8-1.3 ms per call at 90-100 cps). "
            "`--thin-like` adds the controller's features to the thin app one at a time. "
            "Measured that way earlier (75 cps, 3 steps each, thin app with all five "
            "features 12.4 ms, without any 9.7): leaving out the AMI session -1.6, the "
            "originate variables and agent hangup handler -1.1, the caller's `[from-trunk]` "
            "dialplan -0.5 (at hold 2 s: -1.3), the event filter and `subscribeAll` within "
            "noise. AMI is now opened only when needed and caller ID no longer set twice. "
            "Reusing bridges instead of creating and deleting one per call (tried on the "
            "thin app, 3 alternating steps each at 100 cps) was within noise. An earlier "
            "attempt with "
            "explicit subscriptions per caller and per bridge was no cheaper for "
            "Asterisk (11.8 against 11.1 ms). Earlier single-step experiments: Asterisk CDRs "
            "off (`cdr.conf` enable = no) 11.2 against 10.6; no `channelvars` in `ari.conf` "
            "12.0; declining stasis message types (`stasis.conf`) "
            "that AMI subscribes to makes Asterisk refuse to start. `perf record` of "
            "Asterisk during such a step (Debian's binaries: dynamic symbols only) shows "
            "no hot spot: allocation, ao2 reference counting and locking spread over "
            "everything, the kernel (thread wake-ups, syscalls) ~30 %, JSON building "
            "(jansson) ~5 %, decoding the GSM prompt ~2 %, AstDB (SQLite) < 1 %."
        )
    return L
