"""SIPp (Debian ``sip-tester``) as callers, agent phones and the PSTN, for tests, the demo
call and benchmarks. Scenarios are generated from parameters; every socket on 127.0.0.1.

SIPp facts this relies on: during a ``<pause>`` SIPp cannot receive, so callers wait for
BYE with ``<recv request="BYE" timeout=… ontimeout=…>``; RTP (G.711 A-law) and RFC 2833
DTMF come from the pcaps SIPp ships.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

PCAP_DIR = Path("/usr/share/sip-tester")
AUDIO = PCAP_DIR / "g711a.pcap"
DTMF_FILES = {
    **{str(d): f"dtmf_2833_{d}.pcap" for d in range(10)},
    "#": "dtmf_2833_pound.pcap",
    "*": "dtmf_2833_star.pcap",
}


def silence_pcap(seconds: int = 120) -> Path:
    """A pcap of G.711 A-law silence (RTP every 20 ms): a phone that is on the line but
    quiet. Real phones send RTP all the time; Asterisk mixes a whisper into those frames."""
    path = Path(tempfile.gettempdir()) / f"cc-silence-{seconds}s.pcap"
    if path.exists():
        return path
    import struct

    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    payload = b"\xd5" * 160
    for i in range(seconds * 50):
        rtp = struct.pack("!BBHII", 0x80, 8, i & 0xFFFF, i * 160, 0x5EED) + payload
        udp = struct.pack("!HHHH", 6000, 6000, 8 + len(rtp), 0) + rtp
        ip = (
            struct.pack(
                "!BBHHHBBH4s4s",
                0x45,
                0,
                20 + len(udp),
                i & 0xFFFF,
                0,
                64,
                17,
                0,
                bytes([127, 0, 0, 1]),
                bytes([127, 0, 0, 1]),
            )
            + udp
        )
        frame = b"\x00" * 12 + b"\x08\x00" + ip
        ts = i * 20_000
        out.append(
            struct.pack("<IIII", ts // 1_000_000, ts % 1_000_000, len(frame), len(frame)) + frame
        )
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(b"".join(out))
    tmp.rename(path)
    return path


def _audio(audio: bool | str) -> str:
    """``True``: speech (SIPp's pcap); ``"silence"``: quiet RTP; ``False``: no RTP."""
    if audio is False:
        return ""
    pcap = silence_pcap() if audio == "silence" else AUDIO
    return f'<nop><action><exec play_pcap_audio="{pcap}"/></action></nop>'


def sdp(media_port: str = "[media_port]") -> str:
    return (
        "v=0\n"
        "o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]\n"
        "s=-\n"
        "c=IN IP[media_ip_type] [media_ip]\n"
        "t=0 0\n"
        f"m=audio {media_port} RTP/AVP 8 101\n"
        "a=rtpmap:8 PCMA/8000\n"
        "a=rtpmap:101 telephone-event/8000\n"
        "a=fmtp:101 0-15\n"
        "a=sendrecv\n"
    )


def caller_scenario(
    caller: str,
    *,
    talk_s: float = 5.0,
    dtmf: str = "",
    dtmf_after_ms: int = 1000,
    audio: bool | str = True,
    media_port: int | None = None,
    wait_bye_s: float | None = None,
) -> str:
    """A PSTN caller: INVITE, waits for answer, sends audio and DTMF, then hangs up after
    ``talk_s`` unless the far end sends BYE first (then the scenario still succeeds)."""
    actions = [_audio(audio)]
    if dtmf:
        actions.append(f'<pause milliseconds="{dtmf_after_ms}"/>')
        for d in dtmf:
            actions.append(
                f'<nop><action><exec play_pcap_audio="{PCAP_DIR / DTMF_FILES[d]}"/></action></nop>'
                '<pause milliseconds="400"/>'
            )
    wait_ms = int((wait_bye_s if wait_bye_s is not None else talk_s) * 1000)
    port = str(media_port) if media_port else "[media_port]"
    who = escape(caller)
    frm = f'From: "{who}" <sip:{who}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]'
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<scenario name="caller">
  <send retrans="500"><![CDATA[
INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
{frm}
To: <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: sip:{escape(caller)}@[local_ip]:[local_port]
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

{sdp(port)}
]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rtd="true" rrs="true"/>
  <send><![CDATA[
ACK [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
{frm}
[last_To:]
[routes]
Call-ID: [call_id]
CSeq: 1 ACK
Contact: sip:{escape(caller)}@[local_ip]:[local_port]
Max-Forwards: 70
Content-Length: 0

]]></send>
  {"".join(actions)}
  <recv request="BYE" timeout="{wait_ms}" ontimeout="hangup"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
  <nop next="end"/>
  <label id="hangup"/>
  <send retrans="500"><![CDATA[
BYE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
{frm}
[last_To:]
[routes]
Call-ID: [call_id]
CSeq: 2 BYE
Contact: sip:{escape(caller)}@[local_ip]:[local_port]
Max-Forwards: 70
Content-Length: 0

]]></send>
  <recv response="200"/>
  <label id="end"/>
</scenario>
"""


def phone_scenario(
    *,
    ring_ms: int = 0,
    talk_s: float = 30.0,
    answer: str = "answer",
    audio: bool | str = True,
    media_port: int | None = None,
) -> str:
    """An agent phone (or the PSTN far end): rings ``ring_ms``, then answers, and hangs up
    after ``talk_s`` unless the other side sends BYE first. ``answer="busy"`` sends 486,
    ``"ignore"`` rings until CANCEL."""
    port = str(media_port) if media_port else "[media_port]"
    # the INVITE's Contact (rrs) is where our own BYE goes, and its From/To are swapped in
    # that BYE (we are the UAS): otherwise Asterisk cannot match it to the dialog
    # (only the answering phone: SIPp refuses a variable that is set but never used)
    keep = """
    <action>
      <ereg regexp=".*" search_in="hdr" header="From:" assign_to="remote"/>
      <ereg regexp=".*" search_in="hdr" header="To:" assign_to="local"/>
    </action>
  """
    invite = (
        '<recv request="INVITE" crlf="true"/>'
        if answer in ("busy", "ignore")
        else f'<recv request="INVITE" crlf="true" rrs="true">{keep}</recv>'
    )
    head = f"""<?xml version="1.0" encoding="UTF-8"?>
<scenario name="phone">
  {invite}
  <send><![CDATA[
SIP/2.0 180 Ringing
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Content-Length: 0

]]></send>
"""
    resp_hdrs = """[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]"""
    if answer == "busy":
        return (
            head
            + f"""  <send><![CDATA[
SIP/2.0 486 Busy Here
{resp_hdrs}
Content-Length: 0

]]></send>
  <recv request="ACK"/>
</scenario>
"""
        )
    if answer == "ignore":
        return (
            head
            + f"""  <recv request="CANCEL"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
  <send><![CDATA[
SIP/2.0 487 Request Terminated
{resp_hdrs.replace("[last_CSeq:]", "CSeq: [cseq] INVITE")}
Content-Length: 0

]]></send>
  <recv request="ACK"/>
</scenario>
"""
        )
    ring = f'<pause milliseconds="{ring_ms}"/>' if ring_ms else ""
    play = _audio(audio)
    return (
        head
        + f"""  {ring}
  <send retrans="500"><![CDATA[
SIP/2.0 200 OK
{resp_hdrs}
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Content-Type: application/sdp
Content-Length: [len]

{sdp(port)}
]]></send>
  <recv request="ACK" crlf="true"/>
  {play}
  <recv request="BYE" timeout="{int(talk_s * 1000)}" ontimeout="hangup"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
  <nop next="end"/>
  <label id="hangup"/>
  <send retrans="500"><![CDATA[
BYE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: [$local];tag=[pid]SIPpTag01[call_number]
To: [$remote]
[routes]
Call-ID: [call_id]
CSeq: 2 BYE
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Max-Forwards: 70
Content-Length: 0

]]></send>
  <recv response="200"/>
  <label id="end"/>
</scenario>
"""
    )


def register_scenario(ext: str, expires: int = 3600) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<scenario name="register">
  <send retrans="500"><![CDATA[
REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:{ext}@[remote_ip]>;tag=[pid]SIPpTag00[call_number]
To: <sip:{ext}@[remote_ip]>
Call-ID: [call_id]
CSeq: 1 REGISTER
Contact: <sip:{ext}@[local_ip]:[local_port]>
Expires: {expires}
Max-Forwards: 70
Content-Length: 0

]]></send>
  <recv response="200"/>
</scenario>
"""


@dataclass
class Sipp:
    """One SIPp process. ``wait`` returns its exit code (0 = all calls succeeded)."""

    proc: subprocess.Popen[bytes]
    workdir: Path
    port: int

    def wait(self, timeout: float = 60.0) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def running(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)

    def output(self) -> str:
        log = self.workdir / "out.log"
        errs = "".join(p.read_text(errors="replace")[-3000:] for p in self.workdir.glob("*err*"))
        return (log.read_text(errors="replace")[-3000:] if log.exists() else "") + errs

    def cleanup(self) -> None:
        self.kill()
        shutil.rmtree(self.workdir, ignore_errors=True)


def run_sipp(
    scenario_xml: str,
    *,
    target: str,
    port: int,
    service: str = "s",
    calls: int = 1,
    rate: float = 1.0,
    max_concurrent: int | None = None,
    uas: bool = False,
    timeout_s: float = 120.0,
    extra: tuple[str, ...] = (),
) -> Sipp:
    """Start SIPp in the background. ``target`` is host:port of the switch."""
    if shutil.which("sipp") is None:
        raise RuntimeError("sipp is not installed (apt-get install sip-tester)")
    workdir = Path(tempfile.mkdtemp(prefix="cc-sipp-"))
    sf = workdir / "scenario.xml"
    sf.write_text(scenario_xml)
    cmd = [
        "sipp",
        "-sf",
        str(sf),
        "-i",
        "127.0.0.1",
        "-mi",
        "127.0.0.1",
        "-ci",
        "127.0.0.1",
        "-p",
        str(port),
        "-m",
        str(calls),
        "-nostdin",
        "-trace_err",
        "-timeout",
        f"{int(timeout_s)}s",
        "-timeout_error",
        "-max_recv_loops",
        "10000",
        "-aa",
    ]
    if not uas:
        cmd += [target, "-s", service, "-r", str(rate), "-rp", "1000"]
        if max_concurrent:
            cmd += ["-l", str(max_concurrent)]
    cmd += list(extra)
    with open(workdir / "out.log", "wb") as out:
        proc = subprocess.Popen(
            cmd,
            cwd=workdir,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    return Sipp(proc, workdir, port)


def register(ext: str, *, target: str, port: int, timeout: float = 10.0) -> None:
    """REGISTER ``ext`` with contact 127.0.0.1:``port`` (run before the phone's UAS)."""
    s = run_sipp(register_scenario(ext), target=target, port=port, service=ext, timeout_s=timeout)
    try:
        rc = s.wait(timeout + 5)
        if rc != 0:
            raise RuntimeError(f"REGISTER {ext} failed (sipp exit {rc}): {s.output()}")
    finally:
        s.cleanup()


def wait_for(predicate: object, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return True
        time.sleep(interval)
    return False
