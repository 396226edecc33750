"""The host router end to end: real uvicorn servers, real sockets, real HTTP and WebSockets.

A demo-like upstream app and the ``HostRouter`` (wrapping a tiny orchestrator app) each run under
uvicorn on a free loopback port in a thread of their own; the tests talk to the router with httpx
and websockets clients and a demo ``Host`` header, exactly as a browser would.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import os
import queue
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, Self

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from demo_orchestrator.router import HostRouter, RouteDecision, Upstream

pytestmark = pytest.mark.timeout(30)

DEMO = "demo-ab12cd"
HOST = f"{DEMO}.portal.localhost:8000"
GZIPPED = gzip.compress(b"hello compressed world " * 50)


# --- the demo-like upstream -------------------------------------------------------------------


@dataclass
class UpstreamState:
    """Signals between the tests and the upstream app (which runs in another thread)."""

    first_chunk_seen: threading.Event = field(default_factory=threading.Event)
    stream_release: threading.Event = field(default_factory=threading.Event)
    stream_finished: threading.Event = field(default_factory=threading.Event)
    endless_closed: threading.Event = field(default_factory=threading.Event)
    ws_closes: queue.Queue[int] = field(default_factory=queue.Queue)

    def reset(self) -> None:
        for event in (
            self.first_chunk_seen,
            self.stream_release,
            self.stream_finished,
            self.endless_closed,
        ):
            event.clear()
        self.ws_closes = queue.Queue()


async def _wait(event: threading.Event, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not event.is_set() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    return event.is_set()


def upstream_app(state: UpstreamState) -> Starlette:
    async def echo(request: Request) -> Response:
        body = await request.body()
        return JSONResponse(
            {
                "method": request.method,
                "path": request.url.path,
                "query": request.url.query,
                "headers": [[k.decode(), v.decode()] for k, v in request.headers.raw],
                "body": body.decode(),
            },
            headers={"x-upstream": "yes", "keep-alive": "timeout=5"},
        )

    async def digest(request: Request) -> Response:
        sha, size = hashlib.sha256(), 0
        async for chunk in request.stream():
            if chunk and size == 0:
                state.first_chunk_seen.set()
            sha.update(chunk)
            size += len(chunk)
        return JSONResponse({"size": size, "sha256": sha.hexdigest()})

    async def download(request: Request) -> Response:
        size = int(request.path_params["size"])

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, size, 65536):
                yield _pattern(start, min(65536, size - start))

        return StreamingResponse(chunks(), media_type="application/octet-stream")

    async def cookies(request: Request) -> Response:
        response = PlainTextResponse("cookies")
        response.set_cookie("session", "s1", httponly=True)
        response.set_cookie("theme", "dark")
        return response

    async def redirect(request: Request) -> Response:
        return RedirectResponse("/target?x=1", status_code=302)

    async def compressed(request: Request) -> Response:
        return Response(GZIPPED, headers={"content-encoding": "gzip"}, media_type="text/plain")

    async def events(request: Request) -> Response:
        async def stream() -> AsyncIterator[str]:
            yield "data: first\n\n"
            await _wait(state.stream_release)
            state.stream_finished.set()
            yield "data: last\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream")

    async def endless(request: Request) -> Response:
        async def stream() -> AsyncIterator[str]:
            try:
                while True:
                    yield "data: tick\n\n"
                    await asyncio.sleep(0.02)
            finally:
                state.endless_closed.set()

        return StreamingResponse(stream(), media_type="text/event-stream")

    async def ws_echo(websocket: WebSocket) -> None:
        offered = websocket.scope.get("subprotocols") or []
        await websocket.accept(subprotocol=offered[0] if offered else None)
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    state.ws_closes.put(message.get("code", 0))
                    return
                if message.get("text", "").startswith("close:"):
                    await websocket.close(int(message["text"][6:]), reason="bye")
                    return
                if message.get("bytes") is not None:
                    await websocket.send_bytes(message["bytes"][::-1])
                else:
                    await websocket.send_text(message["text"].upper())
        except WebSocketDisconnect as exc:
            state.ws_closes.put(exc.code)

    async def ws_info(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_json(
            {
                "host": websocket.headers.get("host"),
                "cookie": websocket.headers.get("cookie"),
                "origin": websocket.headers.get("origin"),
                "xff": websocket.headers.get("x-forwarded-for"),
                "query": websocket.url.query,
                "path": websocket.url.path,
            }
        )
        await websocket.close()

    return Starlette(
        routes=[
            Route(
                "/echo/{rest:path}", echo, methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
            ),
            Route("/digest", digest, methods=["POST"]),
            Route("/download/{size:int}", download),
            Route("/cookies", cookies),
            Route("/redirect", redirect),
            Route("/compressed", compressed),
            Route("/events", events),
            Route("/endless", endless),
            WebSocketRoute("/ws", ws_echo),
            WebSocketRoute("/ws-info", ws_info),
        ]
    )


def _pattern(start: int, length: int) -> bytes:
    block = bytes(range(256)) * 256
    offset = start % len(block)
    return (block[offset:] + block * (length // len(block) + 1))[:length]


# --- the orchestrator side ----------------------------------------------------------------------


def inner_app() -> Starlette:
    async def home(request: Request) -> Response:
        return PlainTextResponse(f"inner app {request.headers.get('host')} {request.url.path}")

    async def inner_ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("inner ws")
        await websocket.close()

    return Starlette(routes=[Route("/{path:path}", home), WebSocketRoute("/inner-ws", inner_ws)])


class Resolver:
    """A stand-in for the engine: a dict of decisions, and a record of what was asked."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.decisions: dict[str, RouteDecision] = {}
        self.calls: list[tuple[str, str]] = []
        self.fail = False

    async def __call__(self, instance_id: str, route: str) -> RouteDecision:
        self.calls.append((instance_id, route))
        if self.fail:
            raise RuntimeError("store is down at 10.1.2.3")
        decision = self.decisions.get(instance_id)
        if decision is None or route not in {"portal", "candidate"}:
            return RouteDecision("not_found", instance_id)
        return decision


class ServerThread:
    """uvicorn serving ``app`` on a free loopback port, in its own thread and event loop."""

    def __init__(self, app: ASGIApp, router: HostRouter | None = None) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        config = uvicorn.Config(app, lifespan="off", log_level="warning", proxy_headers=False)
        self.server = uvicorn.Server(config)
        self.router = router
        self.thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        await self.server.serve(sockets=[self.sock])
        if self.router is not None:
            await self.router.aclose()

    def __enter__(self) -> Self:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "server did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


@dataclass
class Stack:
    upstream: UpstreamState
    upstream_port: int
    router_port: int
    resolver: Resolver
    proxied: list[str]


@pytest.fixture(scope="module")
def servers() -> Iterator[Stack]:
    state = UpstreamState()
    resolver = Resolver()
    proxied: list[str] = []
    router = HostRouter(
        inner_app(), base_domain="localhost", resolve=resolver, on_proxied=proxied.append
    )
    with ServerThread(upstream_app(state)) as upstream, ServerThread(router, router) as front:
        yield Stack(state, upstream.port, front.port, resolver, proxied)


@pytest.fixture
def stack(servers: Stack) -> Stack:
    """The servers, with a fresh resolver table, records and signals for each test."""
    servers.upstream.reset()
    servers.resolver.reset()
    servers.proxied.clear()
    servers.resolver.decisions[DEMO] = RouteDecision(
        "proxy", DEMO, Upstream("127.0.0.1", servers.upstream_port), status="ready"
    )
    return servers


@pytest.fixture
async def client(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{stack.router_port}",
        headers={"Host": HOST},
        trust_env=False,
        timeout=10,
    ) as client:
        yield client


def _ws(stack: Stack, path: str, host: str = HOST, **kwargs: Any) -> ws_connect:
    """A WebSocket client that sends ``Host: host`` but connects to the router's port."""
    return ws_connect(
        f"ws://{host}{path}", host="127.0.0.1", port=stack.router_port, proxy=None, **kwargs
    )


def _header_values(echoed: dict[str, object], name: str) -> list[str]:
    return [v for k, v in echoed["headers"] if k == name]  # type: ignore[attr-defined]


# --- plain HTTP ---------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE"])
async def test_methods_bodies_and_query_reach_the_demo(
    stack: Stack, client: httpx.AsyncClient, method: str
) -> None:
    content = None if method == "GET" else f"body of {method}".encode()
    response = await client.request(method, "/echo/a%20b/c?x=1&y=two%20words&x=3", content=content)
    assert response.status_code == 200
    echoed = response.json()
    assert echoed["method"] == method
    assert echoed["path"] == "/echo/a b/c"
    assert echoed["query"] == "x=1&y=two%20words&x=3"
    assert echoed["body"] == (content or b"").decode()
    assert stack.proxied == [DEMO]
    assert stack.resolver.calls == [(DEMO, "portal")]


async def test_head_has_no_body(client: httpx.AsyncClient) -> None:
    response = await client.head("/echo/x")
    assert response.status_code == 200
    assert response.content == b""


async def test_host_forwarded_headers_and_hop_by_hop(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/echo/h",
        headers={
            "Connection": "keep-alive, X-Hop-Secret",
            "X-Hop-Secret": "hidden",
            "Keep-Alive": "timeout=5",
            "Proxy-Authorization": "Basic c2VjcmV0",
            "TE": "trailers",
            "X-Custom": "kept",
            "Cookie": "a=1; b=2",
            "X-Forwarded-For": "203.0.113.9",
        },
    )
    echoed = response.json()
    names = {k for k, _ in echoed["headers"]}
    assert _header_values(echoed, "host") == [HOST]
    assert _header_values(echoed, "x-custom") == ["kept"]
    assert _header_values(echoed, "cookie") == ["a=1; b=2"]
    assert _header_values(echoed, "x-forwarded-for") == ["203.0.113.9, 127.0.0.1"]
    assert _header_values(echoed, "x-forwarded-proto") == ["http"]
    assert _header_values(echoed, "x-forwarded-host") == [HOST]
    for hop in ("x-hop-secret", "keep-alive", "proxy-authorization", "te", "connection"):
        assert hop not in names, hop
    assert response.headers["x-upstream"] == "yes"
    assert "keep-alive" not in response.headers


async def test_no_headers_are_invented(stack: Stack) -> None:
    """A bare request arrives bare: no Accept-Encoding or User-Agent added by the proxy."""
    reader, writer = await asyncio.open_connection("127.0.0.1", stack.router_port)
    writer.write(f"GET /echo/bare HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode())
    raw = await reader.read()
    writer.close()
    await writer.wait_closed()
    echoed = json.loads(raw.split(b"\r\n\r\n", 1)[1])
    names = {k for k, _ in echoed["headers"]}
    assert "accept-encoding" not in names
    assert "user-agent" not in names


async def test_set_cookies_redirects_and_encoding_pass_through(client: httpx.AsyncClient) -> None:
    cookies = await client.get("/cookies")
    set_cookies = cookies.headers.get_list("set-cookie")
    assert len(set_cookies) == 2
    assert set_cookies[0].startswith("session=s1") and "HttpOnly" in set_cookies[0]
    assert set_cookies[1].startswith("theme=dark")

    redirect = await client.get("/redirect")
    assert redirect.status_code == 302
    assert redirect.headers["location"] == "/target?x=1"

    async with client.stream("GET", "/compressed", headers={"Accept-Encoding": "gzip"}) as r:
        raw = b"".join([chunk async for chunk in r.aiter_raw()])
    assert r.headers["content-encoding"] == "gzip"
    assert raw == GZIPPED


async def test_large_bodies_both_ways(client: httpx.AsyncClient) -> None:
    body = os.urandom(8 * 1024 * 1024)
    response = await client.post("/digest", content=body)
    assert response.json() == {"size": len(body), "sha256": hashlib.sha256(body).hexdigest()}

    size = 6 * 1024 * 1024 + 123
    download = await client.get(f"/download/{size}")
    assert len(download.content) == size
    assert download.content == _pattern(0, size)


async def test_request_body_is_streamed_not_buffered(
    stack: Stack, client: httpx.AsyncClient
) -> None:
    """The second half is only sent once the demo has seen the first: buffering would stall."""
    seen_early: list[bool] = []

    async def body() -> AsyncIterator[bytes]:
        yield b"a" * 65536
        seen_early.append(await _wait(stack.upstream.first_chunk_seen))
        yield b"b" * 65536

    response = await client.post("/digest", content=body())
    assert response.json()["size"] == 131072
    assert seen_early == [True]


async def test_response_is_streamed_not_buffered(stack: Stack, client: httpx.AsyncClient) -> None:
    async with client.stream("GET", "/events") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        chunks = response.aiter_text()
        first = await asyncio.wait_for(chunks.__anext__(), 5)
        assert "data: first" in first
        assert not stack.upstream.stream_finished.is_set()
        stack.upstream.stream_release.set()
        rest = "".join([chunk async for chunk in chunks])
    assert "data: last" in first + rest


async def test_client_disconnect_stops_an_endless_stream(
    stack: Stack, client: httpx.AsyncClient
) -> None:
    async with client.stream("GET", "/endless") as response:
        async for chunk in response.aiter_text():
            assert "tick" in chunk
            break
    assert await _wait(stack.upstream.endless_closed), "upstream stream kept running"


# --- other hosts and refusal pages ---------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "localhost:8000",
        "demo.example.com",
        f"{DEMO}.portal.localhost.evil.com",
        "portal.localhost",
    ],
)
async def test_other_hosts_reach_the_orchestrator(
    stack: Stack, client: httpx.AsyncClient, host: str
) -> None:
    response = await client.get("/some/page", headers={"Host": host})
    assert response.status_code == 200
    assert response.text == f"inner app {host} /some/page"
    assert stack.resolver.calls == []


@pytest.mark.parametrize(
    "host",
    ["demo-ab12c.portal.localhost", "demo-ab_12c.portal.localhost", "demo-ab12cd.localhost"],
)
async def test_malformed_demo_hosts_are_not_found(
    stack: Stack, client: httpx.AsyncClient, host: str
) -> None:
    response = await client.get("/", headers={"Host": host})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "This demo does not exist or has expired" in response.text
    assert stack.resolver.calls == []


async def test_unknown_demo_and_unknown_route_are_not_found(
    stack: Stack, client: httpx.AsyncClient
) -> None:
    for host in ("demo-zz99zz.portal.localhost", f"{DEMO}.admin.localhost:8000"):
        response = await client.get("/", headers={"Host": host})
        assert response.status_code == 404
        assert "This demo does not exist or has expired" in response.text
    assert stack.proxied == []


async def test_starting_page(stack: Stack, client: httpx.AsyncClient) -> None:
    stack.resolver.decisions[DEMO] = RouteDecision(
        "starting", DEMO, status="sleeping", message="waking up"
    )
    response = await client.get("/")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"
    assert response.headers["content-type"].startswith("text/html")
    assert "Your demo is starting…" in response.text
    assert '<meta http-equiv="refresh" content="2">' in response.text
    assert "sleeping" in response.text and "waking up" in response.text
    assert stack.proxied == []


async def test_failed_page_shows_the_message_escaped(
    stack: Stack, client: httpx.AsyncClient
) -> None:
    stack.resolver.decisions[DEMO] = RouteDecision(
        "failed", DEMO, status="failed", message="seed step failed: <b>disk full</b>"
    )
    response = await client.get("/")
    assert response.status_code == 502
    assert "seed step failed: &lt;b&gt;disk full&lt;/b&gt;" in response.text
    assert "<b>disk full</b>" not in response.text


async def test_upstream_down_page_leaks_nothing(stack: Stack, client: httpx.AsyncClient) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    stack.resolver.decisions[DEMO] = RouteDecision("proxy", DEMO, Upstream("127.0.0.1", dead_port))
    response = await client.get("/")
    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/html")
    assert "demo service is not answering" in response.text
    assert str(dead_port) not in response.text and "127.0.0.1" not in response.text
    assert "Traceback" not in response.text


async def test_resolver_error_is_a_503_without_details(
    stack: Stack, client: httpx.AsyncClient
) -> None:
    stack.resolver.fail = True
    response = await client.get("/")
    assert response.status_code == 503
    assert "10.1.2.3" not in response.text


@pytest.mark.parametrize(
    ("kind", "status"), [("not_found", 404), ("starting", 503), ("failed", 502)]
)
async def test_api_clients_get_problem_json(
    stack: Stack,
    client: httpx.AsyncClient,
    kind: Literal["not_found", "starting", "failed"],
    status: int,
) -> None:
    stack.resolver.decisions[DEMO] = RouteDecision(kind, DEMO, status="x", message="why")
    response = await client.get("/api/jobs", headers={"Accept": "application/json"})
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status
    assert {"type", "title", "status", "detail"} <= problem.keys()

    browser = await client.get("/", headers={"Accept": "text/html,application/json;q=0.9"})
    assert browser.headers["content-type"].startswith("text/html")


# --- WebSockets ------------------------------------------------------------------------------------


async def test_websocket_echo_text_binary_and_subprotocol(stack: Stack) -> None:
    async with _ws(stack, "/ws", subprotocols=["chat.v1", "chat.v0"]) as ws:
        assert ws.subprotocol == "chat.v1"
        await ws.send("hello")
        assert await ws.recv() == "HELLO"
        await ws.send(b"\x00\x01\x02")
        assert await ws.recv() == b"\x02\x01\x00"
    assert stack.proxied == [DEMO]


async def test_websocket_headers_and_query_are_forwarded(stack: Stack) -> None:
    async with _ws(
        stack,
        "/ws-info?room=7",
        additional_headers={"Cookie": "sid=abc"},
        origin="http://" + HOST,
    ) as ws:
        info = json.loads(await ws.recv())
    assert info == {
        "host": HOST,
        "cookie": "sid=abc",
        "origin": "http://" + HOST,
        "xff": "127.0.0.1",
        "query": "room=7",
        "path": "/ws-info",
    }


async def test_websocket_close_codes_both_ways(stack: Stack) -> None:
    async with _ws(stack, "/ws") as ws:
        await ws.send("close:4001")
        with pytest.raises(ConnectionClosed):
            await ws.recv()
    assert ws.close_code == 4001
    assert ws.close_reason == "bye"

    async with _ws(stack, "/ws") as ws:
        await ws.send("ping")
        assert await ws.recv() == "PING"
        await ws.close(code=4002)
    assert stack.upstream.ws_closes.get(timeout=5) == 4002


@pytest.mark.parametrize(
    ("decision", "status"),
    [
        (RouteDecision("starting", DEMO, status="provisioning"), 503),
        (RouteDecision("not_found", DEMO), 404),
        (RouteDecision("proxy", DEMO, Upstream("127.0.0.1", 9)), 502),
    ],
)
async def test_websocket_refused_with_http_status(
    stack: Stack, decision: RouteDecision, status: int
) -> None:
    stack.resolver.decisions[DEMO] = decision
    with pytest.raises(InvalidStatus) as refused:
        async with _ws(stack, "/ws"):
            pass
    assert refused.value.response.status_code == status


async def test_websocket_on_other_hosts_reaches_the_orchestrator(stack: Stack) -> None:
    async with _ws(stack, "/inner-ws", host=f"localhost:{stack.router_port}") as ws:
        assert await ws.recv() == "inner ws"
    assert stack.resolver.calls == []
