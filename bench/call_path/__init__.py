"""Benchmark: the inbound call path, end to end, on the sandbox Asterisk (one run).

Compares on the same sandbox, same machine, same run:

(a) Asterisk alone: dialplan ``Answer()`` + ``Hangup()`` ([bench-dialplan]); callers reach
    it as endpoint ``benchdp`` (PJSIP identifies by user name first);
(b) a bare ARI app (``bench/bare_ari_app.py``: answer + hang up on StasisStart) behind
    [bench-ari] (callers as endpoint ``benchari``);
(t) the same path as (c) by a thin single-purpose ARI app (``bench/thin_path_app.py``):
    the issue's "physical limit", measured in the same run (hold 0 s and 2 s as for (c));
(c) the real stack: ``manage.py run_controller`` + ``manage.py run_projector`` (Redis
    state and streams, SQLite CDRs) with the default policy: answer, play ``sound:beep``,
    put the caller in a bridge, originate agent 1001 (one registered SIPp phone that
    answers at once) joining on answer, hang up the rest when one side hangs up.
    * hold 0 s: the agent phone hangs up 100 ms after answering (one that hangs up at once
      always beats the controller's ``addChannel``); the controller then releases the
      caller (a caller that hung up right after its own answer would leave before the
      agent is even dialled);
    * hold 2 s: the caller hangs up 2 s after it was answered; the controller then hangs
      up the agent.

Each mode runs stepped rates (SIPp ``-r``/``-m``/``-l``, ``--duration`` seconds of calls
per step, default 10) and stops after the first rate that is not clean. A step is clean
when SIPp counts every call successful (a caller waiting for the far end's BYE fails if it
does not come), the rate was sustained (>= 95 % of the target between the first and last
INVITE), the p99 answer latency stayed under ``--max-p99-ms`` (500), every channel is gone
afterwards and, for (c), every call has its CDR (``Call`` row with ``ended_at``) once the
projector caught up, the agent phone answered every call without a failure and every
agent leg was bridged (``CallBridged`` on ``callctl:events``).

Measured per step: answer latency (first INVITE sent -> 200 OK received, from SIPp's
message trace, microseconds), CPU seconds per call of each process from /proc utime+stime
over the step including the drain (Asterisk = the chroot'ed asterisk pid), and for (c) the
projector's catch-up time. Then one more step of (c) with ``py-spy record`` on the
controller and the projector splits their CPU into parts (``bench/profile_parts.py``), and
one step with 300 concurrent calls carrying RTP both ways records peak RSS.

The measured numbers are saved to ``bench/RESULTS.call-path.json``, and the call-path
section of ``bench/RESULTS.md`` (between ``<!-- call-path:start -->`` and
``<!-- call-path:end -->``) is rendered from them alone (``report.render``, a pure
function): ``--report-only`` rebuilds the section from saved numbers without running.

    .venv/bin/python bench/bench_call_path.py            # ~15-25 min, needs root (sandbox)
    .venv/bin/python bench/bench_call_path.py --quick    # 3 s steps, fewer rates
    .venv/bin/python -m bench.bench_call_path --report-only   # the section from the JSON

(``python -m bench.call_path`` is the same.) Needs root, sip-tester, redis-server, the
sandbox tarball (built on first use) and py-spy in the venv for the per-part profile
(``.venv/bin/pip install py-spy``; without it that part is skipped and said so).

Modules, one job each: ``model`` (the results and their JSON), ``report`` (the section's
text), ``stack`` (the processes), ``probes`` (what is read back after a step), ``steps``
(one step and its verdict), ``profiles`` (py-spy output reduced to counts), ``plan`` (the
order of a run), ``cli`` (the command line).
"""
