"""The keep-alive HTTP/1.1 client behind AriClient's REST calls (``ari/http.py``), against a
raw TCP server on 127.0.0.1 whose answers each test scripts byte for byte: keep-alive and
exact request bytes, every way a response body can be framed, interim answers, idle and
mid-request closes with the one-time retry of idempotent requests, timeouts, protocol
errors, the pool limit, query encoding, and AriClient on top. The server is
``tests/fakes/raw_http.py``."""

from __future__ import annotations

import asyncio
import base64
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest

from switch_control.errors import SwitchUnavailable
from switch_control.protocols.ari import AriClient, AriConfig
from switch_control.protocols.ari.http import (
    HttpPool,
    HttpProtocolError,
    _dechunk,
    quote_path,
    quote_value,
)
from tests.fakes.raw_http import Peer, RawServer, Script, answering, echo_target, response
from tests.fakes.raw_http import parse_request as parse

AUTH = "Basic dXNlcjpwYXNz"


class Net:
    def __init__(self) -> None:
        self.servers: list[RawServer] = []
        self.pools: list[HttpPool] = []

    async def serve(self, script: Script) -> RawServer:
        server = RawServer(script)
        await server.start()
        self.servers.append(server)
        return server

    def pool(self, url: str | RawServer, **kw: Any) -> HttpPool:
        kw.setdefault("timeout", 2.0)
        pool = HttpPool(url.url if isinstance(url, RawServer) else url, **kw)
        self.pools.append(pool)
        return pool


@pytest.fixture
async def net() -> AsyncIterator[Net]:
    n = Net()
    yield n
    for pool in n.pools:
        await pool.close()
    for server in n.servers:
        await server.stop()
    for server in n.servers:
        assert not server.errors, f"server script failed: {server.errors!r}"


async def eventually(predicate: Callable[[], object], timeout: float = 2.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {predicate}")
        await asyncio.sleep(0.002)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -------------------------------------------------------------------- keep-alive, request bytes
async def test_keep_alive_reuses_one_connection_and_sends_exact_requests(net: Net) -> None:
    server = await net.serve(answering(response(b'{"ok":true}', headers="Content-Type: a/b\r\n")))
    pool = net.pool(server, headers={"Authorization": AUTH})

    r1 = await pool.request("POST", "/channels", "endpoint=PJSIP%2F1001&x=1", b'{"a": [1, 2]}')
    r2 = await pool.request("DELETE", "/channels/1700000000.42")
    r3 = await pool.request("GET", "/asterisk/info", "only=build")

    for r in (r1, r2, r3):
        assert (r.status, r.body, r.content_type) == (200, b'{"ok":true}', "a/b")
    assert server.connections == 1
    assert pool.open_connections == 1
    host = f"127.0.0.1:{server.port}"
    post, delete, get = (parse(raw) for raw in server.on(1))
    assert len(server.requests) == 3
    assert post == (
        b"POST /ari/channels?endpoint=PJSIP%2F1001&x=1 HTTP/1.1",
        {
            "host": host,
            "authorization": AUTH,
            "content-type": "application/json",
            "content-length": "13",
        },
        b'{"a": [1, 2]}',
    )
    # no body and no Content-Length: had one been sent, the GET after it would not parse
    assert delete == (
        b"DELETE /ari/channels/1700000000.42 HTTP/1.1",
        {"host": host, "authorization": AUTH},
        b"",
    )
    assert get == (
        b"GET /ari/asterisk/info?only=build HTTP/1.1",
        {"host": host, "authorization": AUTH},
        b"",
    )


async def test_post_without_body_sends_content_length_zero_and_custom_type(net: Net) -> None:
    server = await net.serve(answering(response(b"")))
    pool = net.pool(server)
    await pool.request("POST", "/channels/c1/answer")
    await pool.request("PUT", "/sounds/x", body=b"abc", content_type="text/plain")
    (post_line, post_headers, _), (put_line, put_headers, put_body) = (
        parse(raw) for raw in server.on(1)
    )
    assert post_line == b"POST /ari/channels/c1/answer HTTP/1.1"
    assert post_headers["content-length"] == "0"
    assert "content-type" not in post_headers
    assert put_line == b"PUT /ari/sounds/x HTTP/1.1"
    assert (put_headers["content-type"], put_headers["content-length"], put_body) == (
        "text/plain",
        "3",
        b"abc",
    )


async def test_path_is_quoted_and_host_header_default_port(net: Net) -> None:
    server = await net.serve(answering(echo_target))
    pool = net.pool(server)
    resp = await pool.request("GET", "/recordings/stored/my rec/file")
    assert resp.body == b"/ari/recordings/stored/my%20rec/file"
    # the Host header omits the default port (no connection needed to see it)
    assert HttpPool("http://example.invalid/ari")._fixed == b"Host: example.invalid\r\n"
    assert HttpPool("http://[::1]:8088")._fixed == b"Host: [::1]:8088\r\n"


# -------------------------------------------------------------------- framing
async def test_content_length_body_in_tiny_pieces_and_two_sizes_back_to_back(net: Net) -> None:
    small = b"0123456789"
    big = bytes(range(256)) * 300  # 76,800 bytes: more than one read
    bodies = iter([small, big])

    async def script(peer: Peer) -> None:
        while await peer.read_request() is not None:
            body = next(bodies)
            data = response(body, headers="Content-Type: application/octet-stream\r\n")
            await peer.send(data, piece=1 if body is small else 4096)

    server = await net.serve(script)
    pool = net.pool(server)
    r1 = await pool.request("GET", "/small")
    r2 = await pool.request("GET", "/big")
    assert (r1.status, r1.body, r1.content_type) == (200, small, "application/octet-stream")
    assert (r2.status, len(r2.body), r2.body) == (200, len(big), big)
    assert server.connections == 1


async def test_head_split_inside_the_blank_line(net: Net) -> None:
    async def script(peer: Peer) -> None:
        while await peer.read_request() is not None:
            data = response(b"hello")
            cut = data.index(b"\r\n\r\n") + 2
            await peer.send(data[:cut])
            await asyncio.sleep(0.01)
            await peer.send(data[cut : cut + 1])
            await asyncio.sleep(0.01)
            await peer.send(data[cut + 1 :])

    server = await net.serve(script)
    pool = net.pool(server)
    assert (await pool.request("GET", "/a")).body == b"hello"
    assert (await pool.request("GET", "/b")).body == b"hello"
    assert server.connections == 1


CHUNKED = (
    b"HTTP/1.1 200 OK\r\n"
    b"Content-Type: application/json\r\n"
    b"transfer-encoding: chunked\r\n"
    b"\r\n"
    b"5;name=value\r\n"
    b'{"a":\r\n'
    b"1A\r\n"
    b'"abcdefghijklmnopqrstuvw"}\r\n'
    b"0\r\n"
    b"X-Trailer: yes\r\n"
    b"\r\n"
)


@pytest.mark.parametrize("piece", [0, 1, 7], ids=["whole", "bytewise", "sevens"])
async def test_chunked_body_with_extension_and_trailer(net: Net, piece: int) -> None:
    async def script(peer: Peer) -> None:
        while await peer.read_request() is not None:
            await peer.send(CHUNKED, piece=piece)

    server = await net.serve(script)
    pool = net.pool(server)
    r1 = await pool.request("GET", "/one")
    assert (r1.status, r1.content_type) == (200, "application/json")
    assert r1.body == b'{"a":"abcdefghijklmnopqrstuvw"}'
    r2 = await pool.request("GET", "/two")
    assert r2.body == r1.body
    assert server.connections == 1  # the trailer was consumed: the connection stays usable
    assert len(server.on(1)) == 2


async def test_connection_close_response_is_not_reused(net: Net) -> None:
    # the server says close but leaves the socket open: the client must not reuse it
    server = await net.serve(answering(response(b"bye", headers="Connection: close\r\n")))
    pool = net.pool(server)
    assert (await pool.request("GET", "/a")).body == b"bye"
    assert pool.open_connections == 0
    assert (await pool.request("GET", "/b")).body == b"bye"
    assert server.connections == 2
    assert [len(server.on(1)), len(server.on(2))] == [1, 1]


async def test_http10_response_without_connection_header_is_not_reused(net: Net) -> None:
    server = await net.serve(answering(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"))
    pool = net.pool(server)
    assert (await pool.request("GET", "/a")).body == b"ok"
    assert (await pool.request("GET", "/b")).body == b"ok"
    assert server.connections == 2


async def test_http10_keep_alive_response_is_reused(net: Net) -> None:
    data = b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok"
    server = await net.serve(answering(data))
    pool = net.pool(server)
    await pool.request("GET", "/a")
    await pool.request("GET", "/b")
    assert server.connections == 1


async def test_body_delimited_by_end_of_connection(net: Net) -> None:
    body = b"x" * 100_000 + b"end"

    async def script(peer: Peer) -> None:
        if await peer.read_request() is not None:
            await peer.send(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n")
            await peer.send(body, piece=30_000)
        # returning closes the connection: that ends the body

    server = await net.serve(script)
    pool = net.pool(server)
    resp = await pool.request("GET", "/stream")
    assert (resp.status, resp.content_type, resp.body) == (200, "text/plain", body)
    assert pool.open_connections == 0
    assert (await pool.request("GET", "/again")).body == body
    assert server.connections == 2


async def test_truncated_content_length_body_is_an_error(net: Net) -> None:
    async def script(peer: Peer) -> None:
        if await peer.read_request() is not None:
            await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")

    server = await net.serve(script)
    pool = net.pool(server)
    with pytest.raises(ConnectionError):
        await pool.request("GET", "/a")
    assert server.connections == 1  # the server had answered: not sent again
    assert pool.open_connections == 0


async def test_204_without_body_keeps_the_connection(net: Net) -> None:
    server = await net.serve(answering(b"HTTP/1.1 204 No Content\r\n\r\n"))
    pool = net.pool(server)
    for _ in range(3):
        resp = await asyncio.wait_for(pool.request("POST", "/channels/c/answer"), 1.0)
        assert (resp.status, resp.body) == (204, b"")
    assert server.connections == 1


async def test_head_response_with_content_length_has_no_body(net: Net) -> None:
    def reply(peer: Peer, raw: bytes) -> bytes:
        if raw.startswith(b"HEAD "):
            return b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nContent-Type: audio/wav\r\n\r\n"
        return response(b"after")

    server = await net.serve(answering(reply))
    pool = net.pool(server, timeout=5.0)
    resp = await asyncio.wait_for(pool.request("HEAD", "/recordings/r1/file"), 1.0)
    assert (resp.status, resp.body, resp.content_type) == (200, b"", "audio/wav")
    assert (await pool.request("GET", "/x")).body == b"after"
    assert server.connections == 1


@pytest.mark.parametrize("together", [True, False], ids=["one-write", "separate"])
async def test_100_continue_then_the_real_answer(net: Net, together: bool) -> None:
    async def script(peer: Peer) -> None:
        while await peer.read_request() is not None:
            await peer.send(
                b"HTTP/1.1 100 Continue\r\n\r\n" + (response(b"real") if together else b"")
            )
            if not together:
                await asyncio.sleep(0.02)
                await peer.send(response(b"real", status="201 Created"))

    server = await net.serve(script)
    pool = net.pool(server)
    resp = await pool.request("POST", "/channels", body=b"{}")
    assert (resp.status, resp.body) == (200 if together else 201, b"real")
    assert (await pool.request("GET", "/x")).body == b"real"
    assert server.connections == 1


# -------------------------------------------------------------------- closes and retries
async def test_idle_connection_closed_by_server_is_replaced(net: Net) -> None:
    async def script(peer: Peer) -> None:
        if peer.number == 1:
            await peer.read_request()
            await peer.send(response(b"first"))
            return  # Asterisk's session_keep_alive ran out: close while idle
        await answering(response(b"second"))(peer)

    server = await net.serve(script)
    pool = net.pool(server)
    assert (await pool.request("GET", "/a")).body == b"first"
    await eventually(lambda: server.open_now == 0)  # the server has closed it
    assert (await pool.request("GET", "/b")).body == b"second"
    assert server.connections == 2
    assert len(server.on(1)) == 1
    assert [parse(raw)[0] for raw in server.on(2)] == [b"GET /ari/b HTTP/1.1"]
    assert pool.open_connections == 1


async def test_reused_connection_closed_before_answer_is_retried_once(net: Net) -> None:
    async def script(peer: Peer) -> None:
        if peer.number == 1:
            await peer.read_request()
            await peer.send(response(b"first"))
            await peer.read_request()  # closed with the request unanswered
            return
        await answering(response(b"second"))(peer)

    server = await net.serve(script)
    pool = net.pool(server)
    assert (await pool.request("GET", "/a")).body == b"first"
    assert (await pool.request("GET", "/b")).body == b"second"
    assert server.connections == 2
    assert [parse(raw)[0] for raw in server.on(2)] == [b"GET /ari/b HTTP/1.1"]


async def test_retry_happens_only_once(net: Net) -> None:
    async def script(peer: Peer) -> None:
        if peer.number == 1:
            await peer.read_request()
            await peer.send(response(b"first"))
        await peer.read_request()  # then every request is read and dropped

    server = await net.serve(script)
    pool = net.pool(server)
    await pool.request("GET", "/a")
    with pytest.raises(ConnectionError):
        await pool.request("GET", "/b")
    # once on the reused connection, once on a fresh one: never more
    assert server.connections == 2
    assert [len(server.on(1)), len(server.on(2))] == [2, 1]
    assert pool.open_connections == 0


async def test_fresh_connection_closed_before_answer_is_not_retried(net: Net) -> None:
    async def script(peer: Peer) -> None:
        await peer.read_request()  # read, then close without a word

    server = await net.serve(script)
    pool = net.pool(server)
    with pytest.raises(ConnectionError):
        await pool.request("POST", "/channels", body=b"{}")
    await asyncio.sleep(0.05)  # room for a wrong retry to show up
    assert server.connections == 1
    assert len(server.requests) == 1
    assert pool.open_connections == 0


async def test_timeout_drops_the_connection(net: Net) -> None:
    async def script(peer: Peer) -> None:
        if peer.number == 1:
            await peer.read_request()
            await peer.until_client_closes()  # never answers
            return
        await answering(response(b"late but fine"))(peer)

    server = await net.serve(script)
    pool = net.pool(server, timeout=0.3)
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(TimeoutError):
        await pool.request("GET", "/slow")
    elapsed = loop.time() - start
    assert 0.25 <= elapsed < 1.0, elapsed
    assert pool.open_connections == 0
    await eventually(lambda: server.open_now == 0)  # the client closed the socket
    assert (await pool.request("GET", "/fast")).body == b"late but fine"
    assert server.connections == 2


async def test_late_answer_is_never_taken_for_the_next_request(net: Net) -> None:
    async def script(peer: Peer) -> None:
        while (raw := await peer.read_request()) is not None:
            if b"/slow" in raw:
                await asyncio.sleep(0.4)
            await peer.send(echo_target(peer, raw))

    server = await net.serve(script)
    pool = net.pool(server, timeout=0.2)
    with pytest.raises(TimeoutError):
        await pool.request("GET", "/slow")
    assert (await pool.request("GET", "/fast")).body == b"/ari/fast"
    await asyncio.sleep(0.3)
    assert (await pool.request("GET", "/fast2")).body == b"/ari/fast2"


# -------------------------------------------------------------------- protocol errors
@pytest.mark.parametrize(
    "answer",
    [
        b"garbage\r\n\r\n",
        b"HTTP/2 200 OK\r\n\r\n",
        b"HTTP/1.1 abc OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 12x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n",
    ],
    ids=["garbage", "http2", "status", "length-x", "length-negative", "chunk-size"],
)
async def test_malformed_answers_are_protocol_errors(net: Net, answer: bytes) -> None:
    server = await net.serve(answering(answer))
    pool = net.pool(server)
    with pytest.raises(HttpProtocolError) as info:
        await pool.request("GET", "/a")
    assert isinstance(info.value, OSError)
    assert pool.open_connections == 0
    assert server.connections == 1


async def test_endless_header_is_a_protocol_error(net: Net) -> None:
    async def script(peer: Peer) -> None:
        if await peer.read_request() is not None:
            await peer.send(b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 70_000, piece=10_000)
            await peer.until_client_closes()

    server = await net.serve(script)
    pool = net.pool(server)
    with pytest.raises(HttpProtocolError):
        await pool.request("GET", "/a")


async def test_bytes_after_the_answer_discard_the_connection(net: Net) -> None:
    async def script(peer: Peer) -> None:
        while await peer.read_request() is not None:
            await peer.send(response(b"ok") + (b"junk" if peer.number == 1 else b""))

    server = await net.serve(script)
    pool = net.pool(server)
    assert (await pool.request("GET", "/a")).body == b"ok"
    assert (await pool.request("GET", "/b")).body == b"ok"
    assert server.connections == 2


async def test_bytes_arriving_on_an_idle_connection_discard_it(net: Net) -> None:
    junk_sent = asyncio.Event()

    async def script(peer: Peer) -> None:
        while await peer.read_request() is not None:
            await peer.send(response(b"ok"))
            if peer.number == 1:
                await asyncio.sleep(0.01)
                await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstale")
                junk_sent.set()

    server = await net.serve(script)
    pool = net.pool(server)
    assert (await pool.request("GET", "/a")).body == b"ok"
    await junk_sent.wait()
    await eventually(lambda: server.open_now == 0)  # the client dropped the connection
    assert (await pool.request("GET", "/b")).body == b"ok"
    assert server.connections == 2


async def test_cancelled_request_drops_its_connection(net: Net) -> None:
    async def script(peer: Peer) -> None:
        while (raw := await peer.read_request()) is not None:
            if b"/slow" in raw:
                await peer.until_client_closes()
                return
            await peer.send(response(b"ok"))

    server = await net.serve(script)
    pool = net.pool(server)
    await pool.request("GET", "/a")
    task = asyncio.create_task(pool.request("GET", "/slow"))
    await eventually(lambda: len(server.requests) == 2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert pool.open_connections == 0
    await eventually(lambda: server.open_now == 0)
    assert (await pool.request("GET", "/b")).body == b"ok"
    assert server.connections == 2


# -------------------------------------------------------------------- pool
async def test_pool_limit_bounds_open_connections(net: Net) -> None:
    async def script(peer: Peer) -> None:
        while (raw := await peer.read_request()) is not None:
            await asyncio.sleep(0.05)
            await peer.send(echo_target(peer, raw))

    server = await net.serve(script)
    pool = net.pool(server, limit=2)
    paths = [f"/r{i}" for i in range(6)]
    results = await asyncio.gather(*(pool.request("GET", p) for p in paths))
    assert [r.body for r in results] == [b"/ari" + p.encode() for p in paths]
    assert server.max_open == 2
    assert server.connections == 2
    assert pool.open_connections == 2


async def test_most_recently_used_idle_connection_goes_first(net: Net) -> None:
    async def script(peer: Peer) -> None:
        while (raw := await peer.read_request()) is not None:
            if b"/slow" in raw:
                await asyncio.sleep(0.05)
            await peer.send(response(b"ok"))

    server = await net.serve(script)
    pool = net.pool(server)
    await asyncio.gather(pool.request("GET", "/fast"), pool.request("GET", "/slow"))
    assert server.connections == 2
    await pool.request("GET", "/next")
    (slow_conn,) = [n for n, raw in server.requests if b"/slow" in raw]
    (next_conn,) = [n for n, raw in server.requests if b"/next" in raw]
    assert next_conn == slow_conn  # the last one returned to the pool


async def test_connection_refused(net: Net) -> None:
    pool = net.pool(f"http://127.0.0.1:{_free_port()}/ari")
    with pytest.raises(ConnectionError):
        await pool.request("GET", "/asterisk/info")
    assert pool.open_connections == 0


async def test_closed_pool_refuses_requests(net: Net) -> None:
    server = await net.serve(answering(response(b"ok")))
    pool = net.pool(server)
    await pool.request("GET", "/a")
    assert pool.open_connections == 1
    await pool.close()
    assert pool.open_connections == 0
    with pytest.raises(ConnectionError):
        await pool.request("GET", "/b")
    await eventually(lambda: server.open_now == 0)  # the idle connection really closed
    assert server.connections == 1
    assert len(server.requests) == 1


def test_bad_base_url() -> None:
    with pytest.raises(ValueError, match="not an http"):
        HttpPool("ws://127.0.0.1:8088/ari")


# -------------------------------------------------------------------- quoting
def test_quote_value() -> None:
    assert quote_value("+8613800138000") == "%2B8613800138000"
    assert quote_value("张三") == "%E5%BC%A0%E4%B8%89"
    assert quote_value("a&b=c") == "a%26b%3Dc"
    assert quote_value("agent,b-1:x/y@z") == "agent,b-1:x/y@z"
    assert quote_value("a b") == "a%20b"
    assert quote_value("100%") == "100%25"
    assert quote_value("PJSIP/1001") == "PJSIP/1001"
    assert quote_value("") == ""


def test_quote_path() -> None:
    assert quote_path("/channels/1700000000.42/answer") == "/channels/1700000000.42/answer"
    assert quote_path("/recordings/stored/my rec") == "/recordings/stored/my%20rec"
    assert quote_path("/recordings/stored/my%20rec") == "/recordings/stored/my%20rec"
    assert quote_path("/sounds/张") == "/sounds/%E5%BC%A0"
    assert quote_path("/a?b#c") == "/a%3Fb%23c"


# -------------------------------------------------------------------- through AriClient
async def test_ari_client_query_round_trips(net: Net) -> None:
    def reply(peer: Peer, raw: bytes) -> bytes:
        return response(b'{"id":"1700000000.42"}', headers="Content-Type: application/json\r\n")

    server = await net.serve(answering(reply))
    client = AriClient(AriConfig(url=server.url, user="user", password="pass", request_timeout=2))
    try:
        result = await client.post(
            "/channels", endpoint="PJSIP/1001", callerId="+8613800138000", appArgs="agent,b-1"
        )
        name = await client.get("/asterisk/variable", variable="名字 & more=1")
    finally:
        await client.close()
    assert result == {"id": "1700000000.42"}
    assert name == {"id": "1700000000.42"}
    (line1, headers1, body1), (line2, _, _) = (parse(raw) for raw in server.on(1))
    method, target, _ = line1.decode().split(" ")
    url = urlsplit(target)
    assert (method, url.path) == ("POST", "/ari/channels")
    assert parse_qs(url.query, keep_blank_values=True, strict_parsing=True) == {
        "endpoint": ["PJSIP/1001"],
        "callerId": ["+8613800138000"],
        "appArgs": ["agent,b-1"],
    }
    assert headers1["authorization"] == "Basic " + base64.b64encode(b"user:pass").decode()
    assert (headers1["content-length"], body1) == ("0", b"")
    url2 = urlsplit(line2.decode().split(" ")[1])
    assert parse_qs(url2.query, strict_parsing=True) == {"variable": ["名字 & more=1"]}
    assert server.connections == 1


async def test_ari_client_json_body(net: Net) -> None:
    server = await net.serve(answering(b"HTTP/1.1 204 No Content\r\n\r\n"))
    client = AriClient(AriConfig(url=server.url, user="u", password="p"))
    try:
        assert await client.post("/channels/c1/variable", {"variables": {"A": "张"}}) is None
    finally:
        await client.close()
    _, headers, body = parse(server.on(1)[0])
    assert headers["content-type"] == "application/json"
    assert orjson.loads(body) == {"variables": {"A": "张"}}


async def test_ari_client_timeout_is_switch_unavailable(net: Net) -> None:
    async def script(peer: Peer) -> None:
        await peer.read_request()
        await peer.until_client_closes()

    server = await net.serve(script)
    client = AriClient(AriConfig(url=server.url, user="u", password="p", request_timeout=0.3))
    loop = asyncio.get_running_loop()
    start = loop.time()
    try:
        with pytest.raises(SwitchUnavailable, match="TimeoutError"):
            await client.get("/asterisk/info")
    finally:
        await client.close()
    assert loop.time() - start < 1.0


async def test_ari_client_protocol_error_is_switch_unavailable(net: Net) -> None:
    server = await net.serve(answering(b"SSH-2.0-OpenSSH_9.6\r\n\r\n"))
    client = AriClient(AriConfig(url=server.url, user="u", password="p"))
    try:
        with pytest.raises(SwitchUnavailable, match="HttpProtocolError"):
            await client.get("/asterisk/info")
    finally:
        await client.close()


# ------------------------------------------------------------------ found by these tests
def test_negative_or_prefixed_chunk_sizes_are_protocol_errors() -> None:
    # int("-6", 16) is -6: the parser stepped backwards and looped for ever in
    # data_received, which blocked the event loop (no timeout could fire)
    for size in (b"-6", b"+5", b"0x5", b""):
        with pytest.raises(HttpProtocolError):
            _dechunk(bytearray(size + b"\r\nabcdefgh\r\n0\r\n\r\n"))


def test_chunk_data_must_end_with_crlf() -> None:
    with pytest.raises(HttpProtocolError):
        _dechunk(bytearray(b"3\r\nabcXY0\r\n\r\n"))


@pytest.mark.timeout(5)
async def test_negative_chunk_size_end_to_end(net: Net) -> None:
    answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-6\r\nabcdefgh\r\n0\r\n\r\n"
    server = await net.serve(answering(answer))
    pool = net.pool(server, timeout=0.5)
    with pytest.raises(HttpProtocolError):
        await pool.request("GET", "/a")


async def test_close_while_a_request_waits_for_a_slot(net: Net) -> None:
    async def script(peer: Peer) -> None:
        while await peer.read_request() is not None:
            await asyncio.sleep(0.1)
            await peer.send(response(b"ok"))

    server = await net.serve(script)
    pool = net.pool(server, limit=1)
    first = asyncio.create_task(pool.request("GET", "/a"))
    waiting = asyncio.create_task(pool.request("GET", "/b"))
    await eventually(lambda: len(server.requests) == 1)
    await pool.close()
    results = await asyncio.gather(first, waiting, return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results), results
    assert "client" in str(results[0])  # not blamed on the server
    assert pool.open_connections == 0
    assert server.connections == 1


async def test_close_during_a_request_on_a_reused_connection_does_not_resend_it(net: Net) -> None:
    async def script(peer: Peer) -> None:
        while (raw := await peer.read_request()) is not None:
            if b"/slow" in raw:
                await asyncio.sleep(0.1)
            await peer.send(response(b"ok"))

    server = await net.serve(script)
    pool = net.pool(server)
    await pool.request("GET", "/a")
    task = asyncio.create_task(pool.request("POST", "/slow", body=b"{}"))
    await eventually(lambda: len(server.requests) == 2)
    await pool.close()
    (result,) = await asyncio.gather(task, return_exceptions=True)
    assert isinstance(result, ConnectionError), result
    assert [n for n, raw in server.requests if b"/slow" in raw] == [1]
    assert pool.open_connections == 0


async def test_interim_answer_then_close_is_not_retried(net: Net) -> None:
    async def script(peer: Peer) -> None:
        if peer.number == 1:
            await peer.read_request()
            await peer.send(response(b"first"))
            await peer.read_request()
            await peer.send(b"HTTP/1.1 100 Continue\r\n\r\n")  # it has seen the request
            await asyncio.sleep(0.02)
            return
        await answering(response(b"second"))(peer)

    server = await net.serve(script)
    pool = net.pool(server)
    await pool.request("POST", "/a", body=b"{}")
    with pytest.raises(ConnectionError):
        await pool.request("POST", "/channels", body=b"{}")
    assert server.connections == 1  # POST /channels was not sent twice


# ------------------------------------------------------------------ issue 12, part 5
async def test_post_on_a_reused_connection_closed_before_the_answer_is_sent_once(
    net: Net,
) -> None:
    """SW-1: a POST is not idempotent (RFC 9112 §9.3.1): re-sending ``POST /channels``
    after the connection closed unanswered would dial the leg twice (Asterisk: 409, and
    the driver dropped a leg it had announced). The server sees it once; the caller
    gets the error."""

    async def script(peer: Peer) -> None:
        if peer.number == 1:
            await peer.read_request()
            await peer.send(response(b"first"))
            await peer.read_request()  # read the POST, then close without answering
            return
        await answering(response(b'{"id":"leg-1"}'))(peer)

    server = await net.serve(script)
    pool = net.pool(server)
    assert (await pool.request("GET", "/asterisk/info")).body == b"first"
    with pytest.raises(ConnectionError, match="POST not sent again"):
        await pool.request("POST", "/channels", "channelId=leg-1", b"{}")
    posts = [n for n, raw in server.requests if raw.startswith(b"POST ")]
    assert posts == [1]  # sent once, on the reused connection; never again
    assert server.connections == 1
    # the pool is still usable afterwards
    assert (await pool.request("GET", "/x")).body == b'{"id":"leg-1"}'


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"])
async def test_idempotent_methods_are_retried_on_a_fresh_connection(net: Net, method: str) -> None:
    async def script(peer: Peer) -> None:
        if peer.number == 1:
            await peer.read_request()
            await peer.send(response(b"first"))
            await peer.read_request()  # closed with the request unanswered
            return
        await answering(response(b""))(peer)

    server = await net.serve(script)
    pool = net.pool(server)
    await pool.request("GET", "/a")
    resp = await pool.request(method, "/b")
    assert resp.status == 200
    assert server.connections == 2
    assert [parse(raw)[0] for raw in server.on(2)] == [f"{method} /ari/b HTTP/1.1".encode()]


async def test_ari_client_surfaces_an_unanswered_post_as_switch_unavailable(net: Net) -> None:
    """Through AriClient: the POST is not re-sent, the caller is told the switch did not
    answer (SwitchUnavailable: the bus consumer retries a command that failed so)."""

    async def script(peer: Peer) -> None:
        if peer.number == 1:
            await peer.read_request()
            await peer.send(
                response(b'{"system":{}}', headers="Content-Type: application/json\r\n")
            )
            await peer.read_request()
            return
        await answering(response(b"{}"))(peer)

    server = await net.serve(script)
    client = AriClient(AriConfig(url=server.url, user="u", password="p", request_timeout=2))
    try:
        await client.get("/asterisk/info")
        with pytest.raises(SwitchUnavailable, match="POST /channels"):
            await client.post("/channels", endpoint="PJSIP/1001", channelId="leg-1")
    finally:
        await client.close()
    assert [n for n, raw in server.requests if raw.startswith(b"POST ")] == [1]
