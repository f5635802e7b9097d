"""The real AriClient against a small fake ARI server (aiohttp.web on 127.0.0.1): REST error
mapping, the events websocket (typed events, malformed frames, failing handlers), reconnect
with backoff and hooks, and a clean close."""

from __future__ import annotations

import asyncio
import base64
import gc
import itertools
import logging
import socket
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from aiohttp import WSMsgType, web

from switch_control.errors import CommandRejected, NoSuchCall, SwitchUnavailable
from switch_control.protocols.ari import (
    AiohttpTransport,
    AriClient,
    AriConfig,
    AriEvent,
    AriRefused,
    Channel,
)
from switch_control.protocols.ari.http import HttpPool
from switch_control.protocols.ari.transport import TransportFactory

USER = "callcenter"
PASSWORD = "s3cr3t-pass"
LOGGER = "switch_control.protocols.ari.client"


async def eventually(predicate: Callable[[], object], timeout: float = 5.0, what: str = "") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        await asyncio.sleep(0.002)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class FakeAri:
    """Just enough of Asterisk's ARI: a few REST routes, a status route that answers any
    code, and the /ari/events websocket the test can push frames into or drop."""

    def __init__(self, user: str = USER, password: str = PASSWORD) -> None:
        self.expected_auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.requests: list[dict[str, Any]] = []
        self.auth_failures = 0
        self.ws_connects = 0
        self.ws_queries: list[dict[str, str]] = []
        self.ws_refuse = 0  # refuse the next N websocket handshakes with 503
        self.ws_attempts: list[float] = []
        self.sockets: list[web.WebSocketResponse] = []
        self.ws_closed = 0
        self.runner: web.AppRunner | None = None
        self.port = 0

        app = web.Application(middlewares=[self._auth])
        app.router.add_get("/ari/events", self._events)
        app.router.add_get("/ari/asterisk/info", self._info)
        app.router.add_route("*", "/ari/status/{code}", self._status)
        app.router.add_route("*", "/ari/channels/{id}/{op}", self._channel_op)
        app.router.add_get("/ari/text", self._text)
        app.on_shutdown.append(self._close_sockets)
        self.app = app

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/ari"

    async def start(self, port: int = 0) -> None:
        self.runner = web.AppRunner(self.app, shutdown_timeout=1.0)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", port)
        await site.start()
        self.port = int(self.runner.addresses[0][1])

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    # ---------------------------------------------------------------- server side
    @web.middleware
    async def _auth(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.headers.get("Authorization") != self.expected_auth:
            self.auth_failures += 1
            return web.json_response({"message": "Authentication required"}, status=401)
        return await handler(request)

    async def _record(self, request: web.Request) -> None:
        body = await request.read()
        self.requests.append(
            {
                "method": request.method,
                "path": request.path,
                "query": dict(request.query),
                "body": orjson.loads(body) if body else None,
            }
        )

    async def _info(self, request: web.Request) -> web.Response:
        await self._record(request)
        return web.json_response({"system": {"version": "22.1.0"}})

    async def _text(self, request: web.Request) -> web.Response:
        return web.Response(text="plain, not json")

    async def _status(self, request: web.Request) -> web.Response:
        await self._record(request)
        code = int(request.match_info["code"])
        if code == 204:
            return web.Response(status=204)
        return web.json_response({"message": f"status {code} from the fake"}, status=code)

    async def _channel_op(self, request: web.Request) -> web.Response:
        await self._record(request)
        if request.match_info["id"] == "gone":
            return web.json_response({"message": "Channel not found"}, status=404)
        if request.match_info["op"] == "answer":
            return web.Response(status=204)
        return web.json_response({"id": request.match_info["id"], "ok": True})

    async def _events(self, request: web.Request) -> web.StreamResponse:
        self.ws_attempts.append(asyncio.get_running_loop().time())
        if self.ws_refuse > 0:
            self.ws_refuse -= 1
            return web.json_response({"message": "busy"}, status=503)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.ws_connects += 1
        self.ws_queries.append(dict(request.query))
        self.sockets.append(ws)
        try:
            async for msg in ws:
                if msg.type == WSMsgType.ERROR:
                    break
        finally:
            self.ws_closed += 1
        return ws

    async def _close_sockets(self, app: web.Application) -> None:
        for ws in self.sockets:
            await ws.close()

    # ---------------------------------------------------------------- test controls
    @property
    def live(self) -> web.WebSocketResponse:
        open_ = [ws for ws in self.sockets if not ws.closed]
        assert len(open_) == 1, f"{len(open_)} open event sockets"
        return open_[0]

    async def send(self, frame: str | dict[str, Any]) -> None:
        text = frame if isinstance(frame, str) else orjson.dumps(frame).decode()
        await self.live.send_str(text)

    async def drop(self) -> None:
        await self.live.close()


@pytest.fixture
async def ari() -> AsyncIterator[FakeAri]:
    server = FakeAri()
    await server.start()
    yield server
    await server.stop()


def config(url: str, **kw: Any) -> AriConfig:
    opts: dict[str, Any] = {"backoff_initial": 0.01, "backoff_max": 0.05, "request_timeout": 2.0}
    opts.update(kw)
    return AriConfig(url=url, user=USER, password=PASSWORD, **opts)


@pytest.fixture
async def client(ari: FakeAri) -> AsyncIterator[AriClient]:
    cl = AriClient(config(ari.url))
    yield cl
    await cl.close()


@pytest.fixture(params=[HttpPool, AiohttpTransport], ids=["own-http", "aiohttp"])
async def rest(ari: FakeAri, request: pytest.FixtureRequest) -> AsyncIterator[AriClient]:
    """A client over each REST transport: what a caller sees must not depend on it."""
    cl = AriClient(config(ari.url), transport=request.param)
    yield cl
    await cl.close()


async def started(cl: AriClient) -> AriClient:
    await cl.start()
    assert await cl.wait_connected(5.0), "client did not connect to the fake ARI"
    return cl


def stasis_start(channel_id: str = "1700000000.42", **extra: Any) -> dict[str, Any]:
    return {
        "type": "StasisStart",
        "application": "callcenter",
        "timestamp": "2026-11-22T07:39:44.897+0000",
        "args": ["inbound", 7],
        "channel": {
            "id": channel_id,
            "name": "PJSIP/trunk-00000001",
            "state": "Ring",
            "caller": {"name": "张三", "number": "13800138000"},
            "connected": {"name": "", "number": "4008123123"},
            "dialplan": {"context": "from-trunk", "exten": "4008123123", "priority": 1},
            "creationtime": "2026-11-22T07:39:44.100+0000",
            "channelvars": {"CC_CALL_ID": "call-1", "CC_ROLE": "caller", "N": 3},
        },
        **extra,
    }


# =========================================================================== REST


async def test_aiohttp_paths_use_no_deprecated_api(ari: FakeAri) -> None:
    """aiohttp 3.14 deprecates BasicAuth and ClientSession(auth=...) (gone in 4.0); with
    them, under this suite's warnings-as-errors, the client could not make one request.
    Every path that builds an aiohttp session runs here: the events websocket, a file
    download and REST over ``AiohttpTransport`` (the default REST transport is not
    aiohttp: a REST call alone would build no session and prove nothing)."""
    cl = AriClient(config(ari.url), transport=AiohttpTransport)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            await started(cl)
            assert await cl.request_bytes("GET", "/text") == b"plain, not json"
            assert await cl.get("/asterisk/info") == {"system": {"version": "22.1.0"}}
    finally:
        await cl.close()
    assert ari.auth_failures == 0 and ari.ws_connects == 1
    deprecations = [str(w.message) for w in caught if w.category is DeprecationWarning]
    assert deprecations == []


async def test_non_latin1_password_is_sent_as_utf8() -> None:
    """A password outside latin-1 (e.g. Chinese) is sent as UTF-8, as Asterisk compares
    the UTF-8 bytes of ari.conf (aiohttp.BasicAuth's latin-1 default raised
    UnicodeEncodeError on every request)."""
    server = FakeAri(password="口令-2024")
    await server.start()
    cl = AriClient(AriConfig(url=server.url, user=USER, password="口令-2024"))
    try:
        assert await cl.get("/asterisk/info") == {"system": {"version": "22.1.0"}}
    finally:
        await cl.close()
        await server.stop()


async def test_rest_success_sends_auth_params_and_body(rest: AriClient, ari: FakeAri) -> None:
    info = await rest.get("/asterisk/info")
    assert info == {"system": {"version": "22.1.0"}}
    res = await rest.post(
        "/channels/c1/play",
        {"note": "中文 body"},
        media=["sound:hello", "digits:123"],
        early=True,
        skipms=None,
        lang="",
        n=3,
    )
    assert res == {"id": "c1", "ok": True}
    assert await rest.post("/channels/c1/answer") is None  # 204: no body
    assert ari.auth_failures == 0
    play = ari.requests[1]
    assert play["method"] == "POST" and play["path"] == "/ari/channels/c1/play"
    # lists joined by commas, bools as true/false, None and "" left out
    assert play["query"] == {"media": "sound:hello,digits:123", "early": "true", "n": "3"}
    assert play["body"] == {"note": "中文 body"}
    assert [r["method"] for r in ari.requests] == ["GET", "POST", "POST"]


async def test_rest_non_json_success_returns_text(rest: AriClient) -> None:
    assert await rest.get("/text") == "plain, not json"


async def test_rest_404_is_no_such_call(rest: AriClient) -> None:
    with pytest.raises(NoSuchCall) as info:
        await rest.post("/channels/gone/answer")
    msg = str(info.value)
    assert "404" in msg and "Channel not found" in msg and "/channels/gone/answer" in msg


@pytest.mark.parametrize("code", [400, 409, 412, 422, 500, 501])
async def test_rest_refusals_are_command_rejected(rest: AriClient, code: int) -> None:
    with pytest.raises(CommandRejected) as info:
        await rest.post(f"/status/{code}")
    assert not isinstance(info.value, SwitchUnavailable)
    assert isinstance(info.value, AriRefused) and info.value.status == code
    assert f"-> {code}: status {code} from the fake" in str(info.value)


@pytest.mark.parametrize("code", [502, 503, 504])
async def test_rest_unavailable_statuses(rest: AriClient, code: int) -> None:
    with pytest.raises(SwitchUnavailable, match=f"-> {code}"):
        await rest.delete(f"/status/{code}")


async def test_rest_wrong_credentials(ari: FakeAri, caplog: pytest.LogCaptureFixture) -> None:
    cl = AriClient(AriConfig(url=ari.url, user=USER, password="wrong-password-xyz"))
    try:
        with caplog.at_level(logging.DEBUG):
            with pytest.raises(SwitchUnavailable) as info:
                await cl.get("/asterisk/info")
            assert "401" in str(info.value) and "ARI_USER/ARI_PASSWORD" in str(info.value)
            assert "wrong-password-xyz" not in str(info.value)
            assert "wrong-password-xyz" not in repr(cl.config)  # never printed
    finally:
        await cl.close()
    assert ari.auth_failures == 1
    assert "wrong-password-xyz" not in caplog.text


@pytest.mark.parametrize("transport", [HttpPool, AiohttpTransport], ids=["own-http", "aiohttp"])
async def test_rest_connection_refused_is_switch_unavailable(transport: TransportFactory) -> None:
    cl = AriClient(config(f"http://127.0.0.1:{_free_port()}/ari"), transport=transport)
    try:
        with pytest.raises(SwitchUnavailable, match="ARI GET /asterisk/info"):
            await cl.get("/asterisk/info")
        with pytest.raises(SwitchUnavailable):
            await cl.post("/channels/x/answer")
    finally:
        await cl.close()


# =========================================================================== events


async def test_events_parsed_and_dispatched_in_order(client: AriClient, ari: FakeAri) -> None:
    order: list[tuple[str, str]] = []
    got: list[AriEvent] = []

    def handler(tag: str) -> Callable[[AriEvent], Awaitable[None]]:
        async def h(ev: AriEvent) -> None:
            order.append((tag, ev.type))
            got.append(ev)

        return h

    client.on("StasisStart", handler("first"))
    client.on("StasisStart", handler("second"))
    client.on("ChannelDestroyed", handler("destroyed"))
    client.on_any(handler("any"))
    await started(client)
    assert ari.ws_queries == [{"app": "callcenter", "subscribeAll": "false"}]

    await ari.send(stasis_start())
    await ari.send({"type": "ChannelDestroyed", "channel": {"id": "1700000000.42"}, "cause": 16})
    await ari.send({"type": "BridgeCreated", "bridge": {"id": "br-1"}})
    await eventually(lambda: len(order) == 6, what="6 handler calls")
    assert order == [
        ("first", "StasisStart"),
        ("second", "StasisStart"),
        ("any", "StasisStart"),
        ("destroyed", "ChannelDestroyed"),
        ("any", "ChannelDestroyed"),
        ("any", "BridgeCreated"),
    ]
    assert client.events_received == 3
    assert client.bad_events == 0

    ev = got[0]
    assert ev.type == "StasisStart"
    assert ev.timestamp == datetime(2026, 11, 22, 7, 39, 44, 897000, tzinfo=UTC).timestamp()
    assert ev.args == ["inbound", "7"]
    ch = ev.channel
    assert isinstance(ch, Channel)
    assert ch.id == "1700000000.42"
    assert ch.name == "PJSIP/trunk-00000001" and ch.state == "Ring"
    assert ch.caller_number == "13800138000" and ch.caller_name == "张三"
    assert ch.connected_number == "4008123123"
    assert (ch.context, ch.exten) == ("from-trunk", "4008123123")
    assert ch.creationtime == datetime(2026, 11, 22, 7, 39, 44, 100000, tzinfo=UTC).timestamp()
    assert ch.vars == {"CC_CALL_ID": "call-1", "CC_ROLE": "caller", "N": "3"}
    assert got[3].get("cause") == "16"
    bridge_ev = got[5]
    assert bridge_ev.channel is None and bridge_ev.get("bridge", "id") == "br-1"


async def test_malformed_frames_skipped_connection_stays_up(
    client: AriClient, ari: FakeAri, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []

    async def h(ev: AriEvent) -> None:
        seen.append(ev.channel.id if ev.channel else "-")

    client.on_any(h)
    await started(client)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        await ari.send("this is not json {")
        await ari.send({"channel": {"id": "no-type"}})  # no type
        await ari.send({"type": "", "channel": {"id": "empty-type"}})
        await ari.send({"type": "StasisStart", "channel": {"name": "PJSIP/x"}})  # no id
        await ari.send({"type": "StasisStart", "channel": None})
        await ari.send("[1, 2, 3]")  # not an object
        await ari.send(stasis_start("good-1"))
        await eventually(lambda: seen, what="the good event after the bad ones")
    assert seen == ["good-1"]
    assert client.bad_events == 6
    assert client.events_received == 1
    skipped = [r for r in caplog.records if "skipped malformed event" in r.getMessage()]
    assert len(skipped) == 6
    assert all(r.levelno == logging.WARNING for r in skipped)
    assert any("channel without id" in r.getMessage() for r in skipped)
    assert any("without a type" in r.getMessage() for r in skipped)
    # same connection throughout
    assert client.connected
    assert ari.ws_connects == 1


async def test_failing_handler_does_not_stop_later_handlers_or_events(
    client: AriClient, ari: FakeAri, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[str] = []

    async def broken(ev: AriEvent) -> None:
        calls.append("broken")
        raise RuntimeError("handler bug")

    async def fine(ev: AriEvent) -> None:
        calls.append("fine:" + (ev.channel.id if ev.channel else "-"))

    client.on("StasisStart", broken)
    client.on("StasisStart", fine)
    await started(client)
    with caplog.at_level(logging.ERROR, logger=LOGGER):
        await ari.send(stasis_start("c1"))
        await ari.send(stasis_start("c2"))
        await eventually(lambda: len(calls) == 4, what="both events through both handlers")
    assert calls == ["broken", "fine:c1", "broken", "fine:c2"]
    failures = [r for r in caplog.records if "handler for StasisStart failed" in r.getMessage()]
    assert len(failures) == 2
    assert "[call c1]" in failures[0].getMessage()
    assert failures[0].exc_info is not None
    assert client.connected and ari.ws_connects == 1


# =========================================================================== reconnect


async def test_reconnects_and_reruns_hooks_when_server_closes(
    client: AriClient, ari: FakeAri
) -> None:
    connects: list[bool] = []
    disconnects: list[bool] = []
    seen: list[str] = []

    async def on_connect() -> None:
        connects.append(client.connected)  # hooks run before "connected" is announced

    async def on_disconnect() -> None:
        disconnects.append(client.connected)

    async def h(ev: AriEvent) -> None:
        seen.append(ev.channel.id if ev.channel else "-")

    client.on_connect(on_connect)
    client.on_disconnect(on_disconnect)
    client.on_any(h)
    await started(client)
    assert connects == [False]
    assert disconnects == []

    for round_ in (1, 2):
        await ari.drop()
        await eventually(lambda r=round_: len(disconnects) == r, what="on_disconnect")  # type: ignore[misc]
        await eventually(lambda r=round_: len(connects) == r + 1, what="on_connect again")  # type: ignore[misc]
        assert await client.wait_connected(5.0)
        assert ari.ws_connects == round_ + 1
        await ari.send(stasis_start(f"after-{round_}"))
        await eventually(lambda r=round_: f"after-{r}" in seen, what="event after reconnect")  # type: ignore[misc]

    assert connects == [False, False, False]
    assert disconnects == [False, False]  # told after "connected" was cleared
    assert seen == ["after-1", "after-2"]


async def test_backoff_while_the_server_refuses(
    client: AriClient, ari: FakeAri, caplog: pytest.LogCaptureFixture
) -> None:
    hooks = 0

    async def on_connect() -> None:
        nonlocal hooks
        hooks += 1

    client.on_connect(on_connect)
    ari.ws_refuse = 5
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        await client.start()
        assert not await client.wait_connected(0.02)
        assert await client.wait_connected(5.0)
    assert ari.ws_connects == 1 and hooks == 1
    attempts = ari.ws_attempts
    assert len(attempts) == 6  # 5 refused + the one that worked: no hot loop
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    assert all(g >= 0.009 for g in gaps), gaps  # at least backoff_initial apart
    assert max(gaps) >= 0.035, gaps  # and growing towards backoff_max
    # one line per distinct failure, not one per retry
    unavailable = [r for r in caplog.records if "unavailable" in r.getMessage()]
    assert len(unavailable) == 1
    assert "503" in unavailable[0].getMessage()


async def test_connects_once_the_switch_comes_up() -> None:
    port = _free_port()
    cl = AriClient(config(f"http://127.0.0.1:{port}/ari"))
    server = FakeAri()
    try:
        await cl.start()
        assert not await cl.wait_connected(0.1)  # nothing listening yet: keeps retrying
        assert cl.last_error
        await server.start(port)
        assert await cl.wait_connected(5.0)
        assert cl.last_error == ""
        await server.send(stasis_start("hello"))
        await eventually(lambda: cl.events_received == 1, what="first event")
    finally:
        await cl.close()
        await server.stop()


async def test_idle_websocket_outlives_the_request_timeout(ari: FakeAri) -> None:
    # the REST timeout must not cut the long-lived events socket
    cl = AriClient(config(ari.url, request_timeout=0.1))
    try:
        await started(cl)
        await asyncio.sleep(0.25)  # idle for longer than request_timeout
        await ari.send(stasis_start("late"))
        await eventually(lambda: cl.events_received == 1, what="event on the idle socket")
        assert ari.ws_connects == 1
    finally:
        await cl.close()


async def test_bad_credentials_on_the_websocket_logged_once(
    ari: FakeAri, caplog: pytest.LogCaptureFixture
) -> None:
    cl = AriClient(AriConfig(url=ari.url, user=USER, password="nope-nope", backoff_initial=0.01,
                             backoff_max=0.02))  # fmt: skip
    try:
        with caplog.at_level(logging.WARNING, logger=LOGGER):
            await cl.start()
            await eventually(lambda: ari.auth_failures >= 4, what="a few refused handshakes")
            assert not cl.connected
    finally:
        await cl.close()
    refused = [r for r in caplog.records if "handshake refused (401)" in r.getMessage()]
    assert len(refused) == 1
    assert "nope-nope" not in caplog.text


# =========================================================================== close


async def test_close_stops_everything(ari: FakeAri, caplog: pytest.LogCaptureFixture) -> None:
    cl = AriClient(config(ari.url))
    disconnects = 0

    async def on_disconnect() -> None:
        nonlocal disconnects
        disconnects += 1

    cl.on_disconnect(on_disconnect)
    await started(cl)
    await cl.get("/asterisk/info")
    assert any(t.get_name() == "ari-events" for t in asyncio.all_tasks())

    with caplog.at_level(logging.WARNING), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        await asyncio.wait_for(cl.close(), 2.0)
        gc.collect()
    assert not cl.connected
    assert not any(t.get_name() == "ari-events" and not t.done() for t in asyncio.all_tasks())
    await eventually(lambda: ari.ws_closed == 1, what="server saw the socket close")
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []
    assert "Unclosed" not in caplog.text
    assert "retrying" not in caplog.text  # a deliberate close is not an outage
    await asyncio.wait_for(cl.close(), 1.0)  # closing twice is fine


async def test_close_while_retrying_is_prompt() -> None:
    cl = AriClient(config(f"http://127.0.0.1:{_free_port()}/ari", backoff_initial=5.0))
    await cl.start()
    await eventually(lambda: cl.last_error, what="first failed attempt")  # now in backoff
    await asyncio.wait_for(cl.close(), 1.0)
    assert not any(t.get_name() == "ari-events" and not t.done() for t in asyncio.all_tasks())


async def test_restart_after_close(ari: FakeAri) -> None:
    cl = AriClient(config(ari.url))
    try:
        await started(cl)
        await cl.close()
        await started(cl)
        await ari.send(stasis_start("again"))
        await eventually(lambda: cl.events_received == 1, what="event after restart")
        assert ari.ws_connects == 2
    finally:
        await cl.close()


def test_ari_timestamps_become_epoch_seconds_whatever_the_offset():
    from switch_control.protocols.ari.models import parse_time

    assert parse_time("2026-11-22T07:39:44.897+0000") == pytest.approx(1795333184.897)
    assert parse_time("2026-11-22T15:39:44.897+0800") == pytest.approx(1795333184.897)
    assert parse_time("") == 0.0
    assert parse_time("yesterday") == 0.0  # malformed: no time rather than a crash
