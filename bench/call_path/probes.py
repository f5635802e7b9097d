"""What the bench reads back from the stack after a step: channels left on the switch,
the projector's backlog, CDR rows, the agent legs' events, the thin app's CDRs."""

from __future__ import annotations

import sqlite3
import time

import orjson

from .stack import EVENTS_STREAM, THIN_CDRS, Stack, log, s_, wait_until


def channels(stack: Stack) -> int:
    assert stack.sandbox is not None
    try:
        chans = stack.sandbox.ari_get("/channels", timeout=5)
    except OSError:
        return -1
    return len(chans) if isinstance(chans, list) else -1


def clear_channels(stack: Stack) -> None:
    """A series starts on an empty switch: channels a previous series' overloaded last
    step left behind are hung up (that step is already not clean)."""
    left = channels(stack)
    if left == 0:
        return
    log(f"{left} channels left by the previous series: hanging them up")
    quiet_since = time.monotonic()

    def quiet() -> bool:  # no channel for 2 s: the app's backlog dialled nobody new
        nonlocal quiet_since
        if channels(stack) != 0:
            assert stack.sandbox is not None
            stack.sandbox.cli("channel request hangup all")
            quiet_since = time.monotonic()
        return time.monotonic() - quiet_since >= 2.0

    wait_until(quiet, 60, "leftover channels hung up")


def projector_lag(stack: Stack) -> int:
    """Entries of callctl:events not yet handled (read-but-unacked included)."""
    r = stack.redis
    assert r is not None
    for g in r.xinfo_groups(EVENTS_STREAM):
        if s_(g.get("name")) != "projector":
            continue
        lag = g.get("lag")
        pending = int(g.get("pending") or 0)
        if lag is None:  # Redis could not tell (trimmed): compare ids
            last = r.xinfo_stream(EVENTS_STREAM).get("last-generated-id")
            lag = 0 if s_(last) == s_(g.get("last-delivered-id")) else 1
        return int(lag) + pending
    return -1


def db_counts(stack: Stack) -> tuple[int, int, int]:
    """(calls ended, calls still open, answered agent legs) in the CDR tables."""
    con = sqlite3.connect(f"file:{stack.db}?mode=ro", uri=True, timeout=30)
    try:
        ended = con.execute(
            "SELECT COUNT(*) FROM reports_call WHERE ended_at IS NOT NULL"
        ).fetchone()[0]
        open_ = con.execute("SELECT COUNT(*) FROM reports_call WHERE ended_at IS NULL").fetchone()[
            0
        ]
        agents = con.execute(
            "SELECT COUNT(*) FROM reports_callleg WHERE role = 'agent' AND answered_at IS NOT NULL"
        ).fetchone()[0]
    finally:
        con.close()
    return int(ended), int(open_), int(agents)


def agent_leg_events(stack: Stack, since_ms: int) -> tuple[int, int, int]:
    """From the events published since ``since_ms``: agent legs (``a0-...``) bridged;
    agent legs whose CallAnswered was published before their CallOffered; caller legs
    that heard more than one prompt (the welcome and then the no-agent one)."""
    r = stack.redis
    assert r is not None
    bridged, early, start = 0, 0, f"{since_ms}-0"
    offered: set[str] = set()
    prompts: dict[str, int] = {}
    while True:
        batch = r.xrange(EVENTS_STREAM, min=start, max="+", count=5000)
        if not batch:
            return bridged, early, sum(1 for v in prompts.values() if v > 1)
        for _eid, fields in batch:
            ev = orjson.loads((fields or {})[b"m"])
            leg = str(ev.get("leg_id", ""))
            kind = ev.get("type")
            if not leg.startswith("a0-"):
                if kind == "PlaybackFinished":
                    prompts[leg] = prompts.get(leg, 0) + 1
                continue
            if kind == "CallOffered":
                offered.add(leg)
            elif kind == "CallAnswered" and leg not in offered:
                early += 1
            elif kind == "CallBridged":
                bridged += 1
        start = "(" + s_(batch[-1][0])


def thin_cdrs(stack: Stack, since_ms: int) -> tuple[int, int]:
    """(CDRs, of them bridged) the thin app wrote since ``since_ms``."""
    r = stack.redis
    assert r is not None
    n, bridged, start = 0, 0, f"{since_ms}-0"
    while True:
        batch = r.xrange(THIN_CDRS, min=start, max="+", count=5000)
        if not batch:
            return n, bridged
        for _eid, fields in batch:
            n += 1
            bridged += bool(orjson.loads((fields or {})[b"m"]).get("bridged"))
        start = "(" + s_(batch[-1][0])
