"""The router's own upstream HTTP/1.1 client, against demos that misbehave on purpose.

The demo here is a scripted TCP server (plain sockets, one thread per connection) so a test can
see how many connections the router opened, close a kept-alive one between requests, hang, break
off an answer, or notice the router hanging up. The router runs under uvicorn as in
``test_router_proxy.py``, with a short read timeout so a hung demo is seen quickly.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

import httpx
import pytest

from demo_orchestrator.router import HostRouter, RouteDecision, Upstream, upstream
from tests.integration.test_router_proxy import ServerThread, inner_app

pytestmark = pytest.mark.timeout(30)

DEMO = "demo-up5tr1"
HOST = f"{DEMO}.portal.localhost"
READ_TIMEOUT = 1.0


# --- the scripted demo ---------------------------------------------------------------------------


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


def read_request(rfile: BinaryIO) -> Request | None:
    """One request from the connection (None when the router closed it)."""
    line = rfile.readline()
    if not line:
        return None
    method, path, _ = line.decode().split(" ", 2)
    headers: dict[str, str] = {}
    while (line := rfile.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        headers[name.strip().lower()] = value.strip()
    body = b""
    if "content-length" in headers:
        body = rfile.read(int(headers["content-length"]))
    elif headers.get("transfer-encoding") == "chunked":
        while size := int(rfile.readline().split(b";")[0], 16):
            body += rfile.read(size)
            rfile.readline()
        rfile.readline()
    return Request(method, path, headers, body)


def answer(body: bytes, *, status: str = "200 OK", extra: str = "") -> bytes:
    return f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode() + body


Handler = Callable[[socket.socket, BinaryIO, int, "Demo"], None]


@dataclass
class Demo:
    """A TCP server whose connections run ``handler(sock, rfile, index, demo)``."""

    handler: Handler
    accepted: int = 0
    seen: list[str] = field(default_factory=list)  # "METHOD /path" of every request read
    router_hung_up: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            index, self.accepted = self.accepted, self.accepted + 1
            self.conns.append(sock)
            threading.Thread(target=self._serve, args=(sock, index), daemon=True).start()

    def _serve(self, sock: socket.socket, index: int) -> None:
        with sock, sock.makefile("rb") as rfile:
            try:
                self.handler(sock, rfile, index, self)
            except OSError:
                pass

    def read(self, rfile: BinaryIO) -> Request | None:
        request = read_request(rfile)
        if request is not None:
            self.seen.append(f"{request.method} {request.path}")
        return request

    def close(self) -> None:
        self.stop.set()
        self.listener.close()
        for sock in self.conns:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def keeps_alive(sock: socket.socket, rfile: BinaryIO, index: int, demo: Demo) -> None:
    """Answers every request on the connection with which connection and request it was."""
    n = 0
    while (request := demo.read(rfile)) is not None:
        body = json.dumps(
            {"conn": index, "n": n, "headers": request.headers, "body": request.body.decode()}
        ).encode()
        sock.sendall(answer(body, extra="Content-Type: application/json\r\n"))
        n += 1


# --- the router ----------------------------------------------------------------------------------


@dataclass
class Routing:
    port: int
    upstream_port: int = 0

    async def resolve(self, instance_id: str, route: str) -> RouteDecision:
        return RouteDecision("proxy", instance_id, Upstream("127.0.0.1", self.upstream_port))


@pytest.fixture(scope="module")
def routing() -> Iterator[Routing]:
    state = Routing(port=0)
    router = HostRouter(
        inner_app(), base_domain="localhost", resolve=state.resolve, read_timeout=READ_TIMEOUT
    )
    with ServerThread(router, router) as front:
        state.port = front.port
        yield state


@pytest.fixture
def demo_with(routing: Routing) -> Iterator[Callable[[Handler], Demo]]:
    demos: list[Demo] = []

    def start(handler: Handler) -> Demo:
        demo = Demo(handler)
        demos.append(demo)
        routing.upstream_port = demo.port
        return demo

    yield start
    for demo in demos:
        demo.close()


@pytest.fixture
async def client(routing: Routing) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{routing.port}",
        headers={"Host": HOST},
        trust_env=False,
        timeout=10,
    ) as client:
        yield client


async def _wait(event: threading.Event, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not event.is_set() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    return event.is_set()


# --- connections ---------------------------------------------------------------------------------


async def test_sequential_requests_share_one_upstream_connection(
    demo_with: Callable[[Handler], Demo], client: httpx.AsyncClient
) -> None:
    demo = demo_with(keeps_alive)
    answers = [(await client.get(f"/r{i}")).json() for i in range(5)]
    answers.append((await client.post("/p", content=b"posted")).json())
    answers.append((await client.get("/last")).json())
    assert [(a["conn"], a["n"]) for a in answers] == [(0, n) for n in range(7)]
    assert answers[5]["body"] == "posted"
    assert demo.accepted == 1


async def test_a_kept_alive_connection_the_demo_drops_is_retried_only_when_safe(
    demo_with: Callable[[Handler], Demo], client: httpx.AsyncClient
) -> None:
    """Each connection answers one request, then closes on the next without an answer (as a
    server does whose keep-alive timer ran out while the request was on its way)."""

    def one_then_close(sock: socket.socket, rfile: BinaryIO, index: int, demo: Demo) -> None:
        if demo.read(rfile) is None:
            return
        sock.sendall(answer(f"conn {index}".encode()))
        demo.read(rfile)  # read, never answered: the connection closes

    demo = demo_with(one_then_close)
    assert (await client.get("/a")).text == "conn 0"
    retried = await client.get("/b")  # sent on conn 0, dropped, sent again on a fresh one
    assert (retried.status_code, retried.text) == (200, "conn 1")
    dropped = await client.post("/c", content=b"not twice")  # a body: never sent twice
    assert dropped.status_code == 502
    assert demo.seen == ["GET /a", "GET /b", "GET /b", "POST /c"]


async def test_a_connection_the_demo_closed_while_idle_is_not_used(
    demo_with: Callable[[Handler], Demo], client: httpx.AsyncClient
) -> None:
    def answer_and_close(sock: socket.socket, rfile: BinaryIO, index: int, demo: Demo) -> None:
        if demo.read(rfile) is not None:
            sock.sendall(answer(f"conn {index}".encode()))  # keep-alive, then closes anyway

    demo = demo_with(answer_and_close)
    assert (await client.get("/a")).text == "conn 0"
    await asyncio.sleep(0.2)  # the close reaches the router's idle connection
    second = await client.post("/b", content=b"x")  # a POST: only a fresh connection will do
    assert (second.status_code, second.text) == (200, "conn 1")
    assert demo.seen == ["GET /a", "POST /b"]


# --- framing ---------------------------------------------------------------------------------------


async def test_chunked_answers_and_uploads_are_relayed(
    demo_with: Callable[[Handler], Demo], client: httpx.AsyncClient
) -> None:
    def chunked(sock: socket.socket, rfile: BinaryIO, index: int, demo: Demo) -> None:
        while (request := demo.read(rfile)) is not None:
            rest = request.body or b"world"
            sock.sendall(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n"
                b"\r\n5;ext=1\r\nhello\r\n1\r\n \r\n"
                + b"%x\r\n%b\r\n" % (len(rest), rest)
                + b"0\r\nX-Trailer: dropped\r\n\r\n"
            )

    demo = demo_with(chunked)
    assert (await client.get("/")).text == "hello world"

    async def upload() -> AsyncIterator[bytes]:  # no length known: httpx sends it chunked
        for part in (b"up", b"load" * 1000, b"ed"):
            yield part

    response = await client.post("/", content=upload())
    assert response.text == "hello " + "up" + "load" * 1000 + "ed"
    assert (await client.get("/")).text == "hello world"
    assert demo.accepted == 1  # chunked both ways, and still one connection


async def test_head_204_and_304_have_no_body_and_keep_the_connection(
    demo_with: Callable[[Handler], Demo], client: httpx.AsyncClient
) -> None:
    heads = {
        "HEAD /h": b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n",
        "GET /204": b"HTTP/1.1 204 No Content\r\n\r\n",
        "GET /304": b'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\nContent-Length: 50\r\n\r\n',
    }

    def bodiless(sock: socket.socket, rfile: BinaryIO, index: int, demo: Demo) -> None:
        while (request := demo.read(rfile)) is not None:
            key = f"{request.method} {request.path}"
            sock.sendall(heads.get(key) or answer(b"after"))

    demo = demo_with(bodiless)
    head = await client.head("/h")
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-length"] == "1234"
    no_content = await client.get("/204")
    assert (no_content.status_code, no_content.content) == (204, b"")
    not_modified = await client.get("/304")
    assert (not_modified.status_code, not_modified.content) == (304, b"")
    assert not_modified.headers["etag"] == '"v1"'
    assert (await client.get("/after")).text == "after"  # no body was waited for
    assert demo.accepted == 1


async def test_expect_is_not_forwarded(
    demo_with: Callable[[Handler], Demo], client: httpx.AsyncClient
) -> None:
    demo_with(keeps_alive)
    response = await client.post("/", content=b"with expect", headers={"Expect": "100-continue"})
    echoed = response.json()
    assert echoed["body"] == "with expect"
    assert "expect" not in echoed["headers"]
    assert echoed["headers"]["host"] == HOST


# --- failures --------------------------------------------------------------------------------------


async def test_a_hung_demo_gets_a_504_problem_not_a_hung_request(
    demo_with: Callable[[Handler], Demo], client: httpx.AsyncClient, routing: Routing
) -> None:
    def hangs(sock: socket.socket, rfile: BinaryIO, index: int, demo: Demo) -> None:
        demo.read(rfile)
        demo.stop.wait(20)

    demo_with(hangs)
    response = await client.get("/slow", headers={"Accept": "application/json"})
    assert response.status_code == 504
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 504 and problem["instance_id"] == DEMO
    assert str(routing.upstream_port) not in response.text


async def test_a_quiet_event_stream_outlives_the_read_timeout(
    demo_with: Callable[[Handler], Demo], client: httpx.AsyncClient
) -> None:
    def quiet_stream(sock: socket.socket, rfile: BinaryIO, index: int, demo: Demo) -> None:
        demo.read(rfile)
        sock.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        for event in (b"data: one\n\n", b"data: two\n\n"):
            sock.sendall(b"%x\r\n%b\r\n" % (len(event), event))
            demo.stop.wait(READ_TIMEOUT * 1.5)  # quieter than the head may take
        sock.sendall(b"0\r\n\r\n")

    demo_with(quiet_stream)
    async with client.stream("GET", "/events") as response:
        assert response.status_code == 200
        text = "".join([chunk async for chunk in response.aiter_text()])
    assert text == "data: one\n\ndata: two\n\n"


async def test_a_client_leaving_mid_stream_closes_the_demo_connection(
    demo_with: Callable[[Handler], Demo], client: httpx.AsyncClient
) -> None:
    def endless(sock: socket.socket, rfile: BinaryIO, index: int, demo: Demo) -> None:
        if demo.read(rfile) is None:
            return
        if index > 0:
            sock.sendall(answer(b"fresh"))
            keeps_alive(sock, rfile, index, demo)
            return
        sock.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\ntick\n\r\n")
        sock.settimeout(10)
        if rfile.read(1) == b"":  # the router hung up: the demo sees its end of the stream
            demo.router_hung_up.set()

    demo = demo_with(endless)
    async with client.stream("GET", "/endless") as response:
        async for chunk in response.aiter_raw():
            assert chunk == b"tick\n"
            break
    assert await _wait(demo.router_hung_up), "the demo connection stayed open"
    assert (await client.get("/next")).text == "fresh"
    assert demo.accepted == 2  # the abandoned connection was not reused


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_a_demo_breaking_off_an_answer_cuts_the_client_connection(
    demo_with: Callable[[Handler], Demo], client: httpx.AsyncClient, framing: str
) -> None:
    def breaks_off(sock: socket.socket, rfile: BinaryIO, index: int, demo: Demo) -> None:
        demo.read(rfile)
        if framing == "chunked":
            sock.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\npart\r\n")
        else:
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\npart")
        time.sleep(0.1)
        sock.shutdown(socket.SHUT_RDWR)

    demo_with(breaks_off)
    with pytest.raises(httpx.RemoteProtocolError):
        await client.get("/broken")


async def test_idle_connections_of_a_demo_no_longer_asked_for_are_closed(
    demo_with: Callable[[Handler], Demo],
    client: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A deleted or sleeping demo is never asked again: its pooled connections must not stay."""
    monkeypatch.setattr(upstream, "IDLE_SECONDS", 0.1)

    def watched(sock: socket.socket, rfile: BinaryIO, index: int, demo: Demo) -> None:
        keeps_alive(sock, rfile, index, demo)
        demo.router_hung_up.set()  # the router closed the connection

    gone = demo_with(watched)
    assert (await client.get("/")).status_code == 200
    await asyncio.sleep(0.3)
    demo_with(keeps_alive)  # the router now sends everything to another demo
    assert (await client.get("/")).status_code == 200  # the pool is swept on the way
    assert await _wait(gone.router_hung_up), "the idle connection to the old demo stayed open"
