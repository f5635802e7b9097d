"""SIPp callers and agent phones for the call-path benchmark, and what their traces say.

Scenarios come from ``scripts/sipp.py``; this adds the benchmark's variants and reads
SIPp's own outputs:

* ``-trace_stat`` (``stat.csv``): cumulative created / successful / failed calls;
* ``-trace_msg`` (``*_messages.log``): every SIP message with a microsecond timestamp,
  from which the answer latency (first INVITE sent -> 200 OK to that INVITE received) of
  each call is taken. SIPp's own ``rtd`` timer ticks in whole milliseconds (often 4 ms
  steps here), too coarse for a loopback answer that takes 1-3 ms.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from scripts import sipp

TRACE_ARGS = ("-trace_stat", "-stf", "stat.csv", "-fd", "1")


def caller_waits_for_bye(from_user: str, limit_s: float, audio: bool | str = False) -> str:
    """A caller that stays on the line until the far end hangs up; no BYE within
    ``limit_s`` after the answer is a failed call (not a caller hang-up)."""
    xml = sipp.caller_scenario(from_user, wait_bye_s=limit_s, audio=audio)
    strict = xml.replace(' ontimeout="hangup"', "")
    assert strict != xml, "scripts/sipp.py caller scenario changed: no ontimeout to remove"
    return strict


def caller_hangs_up(from_user: str, hold_s: float, audio: bool | str = False) -> str:
    """A caller that hangs up ``hold_s`` after it was answered (a BYE from the far end
    before that also ends the call successfully)."""
    return sipp.caller_scenario(from_user, talk_s=hold_s, audio=audio)


def agent_hangs_up_after(talk_ms: int) -> str:
    """An agent phone (UAS) that answers at once and hangs up ``talk_ms`` after the ACK.

    Like ``scripts/sipp.py``'s ``phone_scenario`` (same dialog handling: the INVITE's
    Contact kept with ``rrs``, From/To swapped in our BYE), minus the RTP and with the
    hang-up in milliseconds."""
    resp = """[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]"""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<scenario name="agent-hangs-up">
  <recv request="INVITE" crlf="true" rrs="true">
    <action>
      <ereg regexp=".*" search_in="hdr" header="From:" assign_to="remote"/>
      <ereg regexp=".*" search_in="hdr" header="To:" assign_to="local"/>
    </action>
  </recv>
  <send><![CDATA[
SIP/2.0 180 Ringing
{resp}
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Content-Length: 0

]]></send>
  <send retrans="500"><![CDATA[
SIP/2.0 200 OK
{resp}
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Content-Type: application/sdp
Content-Length: [len]

{sipp.sdp()}
]]></send>
  <recv request="ACK" crlf="true"/>
  <pause milliseconds="{talk_ms}"/>
  <send retrans="500"><![CDATA[
BYE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: [$local];tag=[pid]SIPpTag01[call_number]
To: [$remote]
Call-ID: [call_id]
CSeq: 1 BYE
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Max-Forwards: 70
Content-Length: 0

]]></send>
  <recv response="200"/>
</scenario>
"""


def start_callers(
    xml: str,
    *,
    target: str,
    port: int,
    service: str,
    rate: float,
    calls: int,
    limit: int,
    timeout_s: float,
    trace_msg: bool = True,
    extra: tuple[str, ...] = (),
) -> sipp.Sipp:
    extra = TRACE_ARGS + (("-trace_msg",) if trace_msg else ()) + extra
    return sipp.run_sipp(
        xml,
        target=target,
        port=port,
        service=service,
        calls=calls,
        rate=rate,
        max_concurrent=limit,
        timeout_s=timeout_s,
        extra=extra,
    )


def start_phone(xml: str, *, target: str, port: int, calls: int, timeout_s: float) -> sipp.Sipp:
    """An agent phone (UAS) answering up to ``calls`` calls, for at most ``timeout_s``."""
    return sipp.run_sipp(
        xml, target=target, port=port, uas=True, calls=calls, timeout_s=timeout_s, extra=TRACE_ARGS
    )


@dataclass
class SippCounts:
    created: int = 0
    successful: int = 0
    failed: int = 0
    retransmissions: int = 0

    def minus(self, other: SippCounts) -> SippCounts:
        return SippCounts(
            self.created - other.created,
            self.successful - other.successful,
            self.failed - other.failed,
            self.retransmissions - other.retransmissions,
        )


def counts(workdir: Path) -> SippCounts:
    """Cumulative counters of the last line SIPp wrote to ``stat.csv``."""
    path = workdir / "stat.csv"
    if not path.exists():
        return SippCounts()
    lines = [x for x in path.read_text(errors="replace").splitlines() if x.strip()]
    if len(lines) < 2:
        return SippCounts()
    rows = list(csv.reader(io.StringIO(lines[0] + "\n" + lines[-1]), delimiter=";"))
    row = dict(zip(rows[0], rows[1], strict=False))

    def get(name: str) -> int:
        try:
            return int(row.get(name, "0") or 0)
        except ValueError:
            return 0

    return SippCounts(
        created=get("OutgoingCall(C)") + get("IncomingCall(C)"),
        successful=get("SuccessfulCall(C)"),
        failed=get("FailedCall(C)"),
        retransmissions=get("Retransmissions(C)"),
    )


SEPARATOR = "\n----------------------------------------------- "


@dataclass
class Timing:
    latencies_ms: list[float]
    first_invite: float
    last_invite: float
    invites: int

    @property
    def achieved_cps(self) -> float:
        span = self.last_invite - self.first_invite
        return (self.invites - 1) / span if self.invites > 1 and span > 0 else 0.0


def _stamp(text: str) -> float:
    return datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S.%f").timestamp()


def timing(workdir: Path) -> Timing:
    """Per call: first INVITE sent -> 200 OK (CSeq INVITE) received, in ms."""
    logs = sorted(workdir.glob("*_messages.log"))
    sent: dict[str, float] = {}
    answered: dict[str, float] = {}
    for log in logs:
        text = "\n" + log.read_text(errors="replace")
        for block in text.split(SEPARATOR)[1:]:
            head, _, rest = block.partition("\n")
            direction, _, msg = rest.partition("\n\n")
            first = msg.lstrip("\n").partition("\n")[0]
            is_invite = first.startswith("INVITE ")
            is_ok = first.startswith("SIP/2.0 200")
            if not (is_invite or is_ok):
                continue
            call_id = cseq = ""
            for line in msg.splitlines():
                low = line[:8].lower()
                if low.startswith("call-id:"):
                    call_id = line[8:].strip()
                elif low.startswith("cseq:"):
                    cseq = line[5:].strip()
                if call_id and cseq:
                    break
            at = _stamp(head)
            if is_invite and "sent" in direction:
                sent.setdefault(call_id, at)
            elif is_ok and "received" in direction and cseq.endswith("INVITE"):
                answered.setdefault(call_id, at)
    lat = [(answered[k] - t) * 1000.0 for k, t in sent.items() if k in answered]
    times = sorted(sent.values())
    return Timing(lat, times[0] if times else 0.0, times[-1] if times else 0.0, len(times))


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, round(q / 100.0 * (len(s) - 1))))
    return s[k]


def first_error(path: Path) -> str:
    """The most frequent failure in a SIPp ``*_errors.log`` (call ids and stamps dropped;
    for an unexpected message, its status line)."""
    text = path.read_text(errors="replace")
    kinds: dict[str, int] = {}
    for m in re.finditer(r"\d{10}\.\d{6}: ([^\n]*)", text):
        line = m.group(1)
        if line.startswith("Dead call") and "(successful)" in line:
            continue
        head, sep, got = line.partition("received '")
        head = re.sub(r"(?: for)? ?Call-I[dD][: ]+'?[^ ,']+'?,? ?", "", head)
        kind = (head.strip().rstrip(",") + (f" received {got.strip()}" if sep else ""))[:150]
        kinds[kind] = kinds.get(kind, 0) + 1
    if not kinds:
        return "SIPp reported failures"
    kind, n = max(kinds.items(), key=lambda kv: kv[1])
    return f"SIPp: {kind} (x{n})"
