"""Reference (t) of the call-path benchmark: path (c) with none of the real machinery.

The issue's "physical limit" measurement (#3, SW-1): a thin single-purpose asyncio script
that does exactly what the controller does on the benchmark's call path, measured in the
same run so that (c) can be judged as a ratio against it on the same noisy machine:

- caller enters Stasis app ``bench`` (``[bench-ari]``): answer, then play ``sound:beep``
  and create a mixing bridge at once (a playback queued before the answer would hold it);
- prompt finished: the caller joins the bridge and agent ``1001`` is originated into the
  app (``appArgs=agent,<bridge>``); the agent joins the bridge on its StasisStart;
- one side leaves the app (hung up): a CDR (caller, bridged or not, start/end) goes to
  Redis stream ``bench:thin:cdr`` in batches, the other side is hung up and the bridge
  destroyed.

aiohttp (keep-alive REST + the events websocket), uvloop, orjson and an ARI event filter,
like the controller; no state store, no bus, no normalization, no ledger, no hangup
handler. Prints ``ready`` once the websocket is up and a one-line summary on SIGTERM.

``THIN_LIKE`` (comma separated; ``bench_call_path.py --thin-like``) adds one feature of the
controller's path at a time, to price it in Asterisk CPU: ``filter`` (the controller's
event filter), ``vars`` (its originate variables, hangup handler included), ``ami`` (an AMI
session), ``suball`` (``subscribeAll``); ``did`` is handled by the bench (callers through
``[from-trunk]`` to the controller's app name). ``http`` makes the REST calls with the
controller's own keep-alive client (``switch_control/protocols/ari/http.py``) instead of
aiohttp's ``ClientSession``: the reference with the controller's cheaper REST.

    ARI_URL=... ARI_USER=... ARI_PASSWORD=... REDIS_URL=... python bench/thin_path_app.py
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import redis.asyncio as aioredis

CDR_STREAM = "bench:thin:cdr"
EVENTS = ("StasisStart", "StasisEnd", "PlaybackFinished")


@dataclass(slots=True)
class Call:
    caller: str
    bridge: str
    agent: str = ""
    bridged: bool = False
    started: float = field(default_factory=time.time)


async def run(url: str, user: str, password: str, app: str, agent: str, rurl: str) -> None:
    auth = aiohttp.BasicAuth(user, password)
    ws_url = url.replace("http://", "ws://") + f"/events?app={app}"
    like = set(filter(None, os.environ.get("THIN_LIKE", "").split(",")))
    if "suball" in like:
        ws_url += "&subscribeAll=true"
    wanted: tuple[str, ...] = EVENTS
    if "filter" in like:  # the controller's own filter (plus StasisEnd, which we end on)
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from switch_control.drivers.asterisk.translate import WANTED_EVENTS

        wanted = (*WANTED_EVENTS, "StasisEnd")
    if "ami" in like:
        from panoramisk import Manager

        ami = Manager(
            host="127.0.0.1",
            port=int(os.environ["AMI_PORT"]),
            username=os.environ["AMI_USER"],
            secret=os.environ["AMI_PASSWORD"],
            events="system",
        )
        await ami.connect()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    calls: dict[str, Call] = {}  # by caller id, bridge id and agent id
    tasks: set[asyncio.Task[None]] = set()
    cdrs: list[bytes] = []
    stats = {"calls": 0, "errors": 0}
    rds = aioredis.from_url(rurl)

    async with aiohttp.ClientSession(auth=auth, connector=aiohttp.TCPConnector(limit=64)) as http:
        pool = None
        if "http" in like:
            sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
            from switch_control.protocols.ari.http import HttpPool, encode_query

            pool = HttpPool(url, headers={"Authorization": auth.encode()}, limit=64, timeout=10.0)

        async def req(method: str, path: str, body: object = None, **params: str) -> None:
            if pool is not None:
                query = encode_query(params)
                data = None if body is None else orjson.dumps(body)
                try:
                    resp = await pool.request(method, path, query, data)
                except (OSError, TimeoutError) as exc:
                    stats["errors"] += 1
                    print(f"thin app: {method} {path}: {exc}", flush=True)
                    return
                if resp.status >= 300 and resp.status != 404:
                    stats["errors"] += 1
                    print(f"thin app: {method} {path} -> {resp.status}", flush=True)
                return
            try:
                async with http.request(method, url + path, params=params, json=body) as r:
                    await r.read()
                    if r.status >= 300 and r.status != 404:
                        stats["errors"] += 1
                        print(f"thin app: {method} {path} -> {r.status}", flush=True)
            except aiohttp.ClientError as exc:
                stats["errors"] += 1
                print(f"thin app: {method} {path}: {exc}", flush=True)

        def spawn(coro: Coroutine[Any, Any, None]) -> None:
            t = asyncio.ensure_future(coro)
            tasks.add(t)
            t.add_done_callback(tasks.discard)

        async def caller_in(cid: str) -> None:
            bid = "b-" + cid
            calls[cid] = calls[bid] = Call(cid, bid)
            # answer first: commands run in order on the channel, and a playback holds
            # the channel until it ends
            await req("POST", f"/channels/{cid}/answer")
            await asyncio.gather(
                req("POST", f"/channels/{cid}/play/p-{cid}", media="sound:beep"),
                req("POST", "/bridges", type="mixing", bridgeId=bid),
            )

        async def prompt_done(cid: str) -> None:
            call = calls.get(cid)
            if call is None:  # the caller already hung up
                return
            call.agent = "a-" + cid
            calls[call.agent] = call
            body = None
            if "vars" in like:
                body = {
                    "variables": {
                        "CC_CALL_ID": cid,
                        "CC_ROLE": "agent",
                        "CALLERID(num)": cid,
                        "CHANNEL(hangup_handler_push)": "cc-hangup,s,1",
                    }
                }
            await asyncio.gather(
                req("POST", f"/bridges/{call.bridge}/addChannel", channel=cid),
                req(
                    "POST",
                    "/channels",
                    body,
                    endpoint=f"PJSIP/{agent}",
                    app=app,
                    appArgs=f"agent,{call.bridge}",
                    channelId=call.agent,
                    callerId=cid,
                    timeout="30",
                ),
            )

        async def agent_in(aid: str) -> None:
            call = calls.get(aid)
            if call is None:  # the caller left while the agent was being dialled
                await req("DELETE", f"/channels/{aid}")
                return
            await req("POST", f"/bridges/{call.bridge}/addChannel", channel=aid)
            call.bridged = True

        async def left(chan: str) -> None:
            call = calls.get(chan)
            if call is None:
                return
            for k in (call.caller, call.bridge, call.agent):
                calls.pop(k, None)
            stats["calls"] += 1
            cdrs.append(
                orjson.dumps(
                    {
                        "caller": call.caller,
                        "bridged": call.bridged,
                        "start": call.started,
                        "end": time.time(),
                    }
                )
            )
            # a leg leaves the app only by hanging up here: the other side is hung up
            other = call.agent if chan == call.caller else call.caller
            if other:
                await req("DELETE", f"/channels/{other}")
            await req("DELETE", f"/bridges/{call.bridge}")

        async def flush_cdrs() -> None:
            while True:
                await asyncio.sleep(0.05)
                if cdrs:
                    batch, cdrs[:] = list(cdrs), []
                    pipe = rds.pipeline(transaction=False)
                    for c in batch:
                        pipe.xadd(CDR_STREAM, {"m": c})
                    await pipe.execute()

        async def events() -> None:
            async with http.ws_connect(ws_url, max_msg_size=16 * 1024 * 1024) as ws:
                async with http.put(
                    f"{url}/applications/{app}/eventFilter",
                    json={"allowed": [{"type": t} for t in wanted]},
                ) as r:  # the app exists once its websocket is up
                    await r.read()
                print("ready", flush=True)
                async for msg in ws:
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        break
                    ev = orjson.loads(msg.data)
                    kind = ev.get("type")
                    if kind == "StasisStart":
                        cid = ev["channel"]["id"]
                        args = ev.get("args") or []
                        if args[:1] == ["agent"]:
                            spawn(agent_in(cid))
                        elif cid not in calls:
                            spawn(caller_in(cid))
                    elif kind == "PlaybackFinished":
                        target = ev["playback"].get("target_uri", "")
                        spawn(prompt_done(target.partition(":")[2]))
                    elif kind == "StasisEnd":
                        spawn(left(ev["channel"]["id"]))

        reader = asyncio.create_task(events())
        flusher = asyncio.create_task(flush_cdrs())
        waiter = asyncio.create_task(stop.wait())
        await asyncio.wait({reader, waiter}, return_when=asyncio.FIRST_COMPLETED)
        for t in (reader, waiter):
            t.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        await asyncio.sleep(0.1)
        if pool is not None:
            await pool.close()
        flusher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await flusher
    await rds.aclose()
    print(f"thin app: {stats['calls']} calls, {stats['errors']} request errors", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--app", default="bench")
    ap.add_argument("--agent", default="1001")
    args = ap.parse_args()
    env = os.environ
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(
        run(
            env["ARI_URL"],
            env["ARI_USER"],
            env["ARI_PASSWORD"],
            args.app,
            args.agent,
            env["REDIS_URL"],
        )
    )


if __name__ == "__main__":
    main()
