"""Baseline (b) of the call-path benchmark: the smallest useful ARI application.

One asyncio process: the events websocket of Stasis app ``bench`` and one keep-alive REST
session; on ``StasisStart`` it answers the channel and hangs it up. No state, no bus, no
event filter. Prints ``ready`` once the websocket is up.

    ARI_URL=http://127.0.0.1:8088/ari ARI_USER=u ARI_PASSWORD=p python bench/bare_ari_app.py
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal

import aiohttp
import orjson


async def run(url: str, user: str, password: str, app: str) -> None:
    auth = aiohttp.BasicAuth(user, password)
    ws_url = url.replace("http://", "ws://") + f"/events?app={app}"
    handled = 0
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    tasks: set[asyncio.Task[None]] = set()
    async with aiohttp.ClientSession(
        auth=auth, connector=aiohttp.TCPConnector(limit=64)
    ) as session:

        async def answer_and_hang_up(channel_id: str) -> None:
            nonlocal handled
            try:
                async with session.post(f"{url}/channels/{channel_id}/answer") as r:
                    await r.read()
                async with session.delete(f"{url}/channels/{channel_id}") as r:
                    await r.read()
                handled += 1
            except aiohttp.ClientError as exc:
                print(f"bare app: {channel_id}: {exc}", flush=True)

        async def events() -> None:
            async with session.ws_connect(ws_url, max_msg_size=16 * 1024 * 1024) as ws:
                print("ready", flush=True)
                async for msg in ws:
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        break
                    ev = orjson.loads(msg.data)
                    if ev.get("type") == "StasisStart":
                        t = asyncio.create_task(answer_and_hang_up(ev["channel"]["id"]))
                        tasks.add(t)
                        t.add_done_callback(tasks.discard)

        reader = asyncio.create_task(events())
        waiter = asyncio.create_task(stop.wait())
        await asyncio.wait({reader, waiter}, return_when=asyncio.FIRST_COMPLETED)
        for t in (reader, waiter):
            t.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader
    print(f"bare app: handled {handled} calls", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--app", default="bench")
    args = ap.parse_args()
    env = os.environ
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(run(env["ARI_URL"], env["ARI_USER"], env["ARI_PASSWORD"], args.app))


if __name__ == "__main__":
    main()
