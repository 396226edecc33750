"""The router refuses ambiguous or malformed requests (RFC 9112) with a 400 and never forwards
them: raw bytes on a socket to a real `democtl serve`, a real tiny demo behind it. The demo's
service logs every request it gets (its request line, in the demo's log), so each request carries
a fresh marker in its path and the test checks the marker never shows up there, after a
well-formed request sent next has shown up (the log is read, and current)."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator

import pytest

from tests.conftest import Server

MALFORMED = {
    "content-length and transfer-encoding": (
        "POST /{m} HTTP/1.1\r\nHost: {h}\r\nContent-Length: 5\r\n"
        "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    ),
    "transfer-encoding and content-length": (
        "POST /{m} HTTP/1.1\r\nHost: {h}\r\nTransfer-Encoding: chunked\r\n"
        "Content-Length: 5\r\n\r\n0\r\n\r\n"
    ),
    "two differing content-lengths": (
        "POST /{m} HTTP/1.1\r\nHost: {h}\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc"
    ),
    "two equal content-lengths": (
        "POST /{m} HTTP/1.1\r\nHost: {h}\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc"
    ),
    "content-length list": "POST /{m} HTTP/1.1\r\nHost: {h}\r\nContent-Length: 3, 3\r\n\r\nabc",
    "signed content-length": "POST /{m} HTTP/1.1\r\nHost: {h}\r\nContent-Length: +3\r\n\r\nabc",
    "transfer-encoding gzip": "POST /{m} HTTP/1.1\r\nHost: {h}\r\nTransfer-Encoding: gzip\r\n\r\nabc",
    "transfer-encoding identity": (
        "POST /{m} HTTP/1.1\r\nHost: {h}\r\nTransfer-Encoding: identity\r\n\r\n"
    ),
    "chunked not last": (
        "POST /{m} HTTP/1.1\r\nHost: {h}\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n"
    ),
    "chunked twice": (
        "POST /{m} HTTP/1.1\r\nHost: {h}\r\nTransfer-Encoding: chunked\r\n"
        "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    ),
    "transfer-encoding in HTTP/1.0": (
        "POST /{m} HTTP/1.0\r\nHost: {h}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    ),
    "two hosts": "GET /{m} HTTP/1.1\r\nHost: {h}\r\nHost: {h}\r\n\r\n",
    "host with a space": "GET /{m} HTTP/1.1\r\nHost: {h} x\r\n\r\n",
    "absolute-form naming another host": (
        "GET http://elsewhere.example/{m} HTTP/1.1\r\nHost: {h}\r\n\r\n"
    ),
    "whitespace before the colon": "GET /{m} HTTP/1.1\r\nHost: {h}\r\nX-Foo : bar\r\n\r\n",
    "control character in a header name": "GET /{m} HTTP/1.1\r\nHost: {h}\r\nX\x01Foo: b\r\n\r\n",
    "empty header name": "GET /{m} HTTP/1.1\r\nHost: {h}\r\n: x\r\n\r\n",
    "obs-fold": "GET /{m} HTTP/1.1\r\nHost: {h}\r\nX-Foo: bar\r\n baz\r\n\r\n",
    "NUL in a header value": "GET /{m} HTTP/1.1\r\nHost: {h}\r\nX-Foo: a\x00b\r\n\r\n",
    "bare CR in a header value": "GET /{m} HTTP/1.1\r\nHost: {h}\r\nX-Foo: a\rb\r\n\r\n",
    "invalid chunk size": (
        "POST /{m} HTTP/1.1\r\nHost: {h}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"
    ),
    "overflowing chunk size": (
        "POST /{m} HTTP/1.1\r\nHost: {h}\r\nTransfer-Encoding: chunked\r\n\r\n"
        "FFFFFFFFFFFFFFFFFFFF\r\nabc\r\n0\r\n\r\n"
    ),
    "fragment in the target": "GET /{m}#top HTTP/1.1\r\nHost: {h}\r\n\r\n",
    "raw space in the target": "GET /{m} x HTTP/1.1\r\nHost: {h}\r\n\r\n",
    "control character in the target": "GET /{m}\x01 HTTP/1.1\r\nHost: {h}\r\n\r\n",
    "asterisk target on GET": "GET * HTTP/1.1\r\nHost: {h}\r\n\r\n",
    "bare LF line ends": "GET /{m} HTTP/1.1\nHost: {h}\n\n",
    "invalid method": "G(T /{m} HTTP/1.1\r\nHost: {h}\r\n\r\n",
    "unknown HTTP version": "GET /{m} HTTP/1.7\r\nHost: {h}\r\n\r\n",
}


def exchange(port: int, data: bytes) -> bytes:
    """Send raw bytes; everything the server answers until it closes or goes quiet."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        answer = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            answer += chunk
            if b"\r\n\r\n" in answer:
                sock.settimeout(0.5)  # the head is in: the rest (if any) comes at once
    return answer


class Demo:
    def __init__(self, server: Server, instance_id: str) -> None:
        self.server = server
        self.instance_id = instance_id
        self.host = f"{instance_id}.portal.localhost:{server.port}"

    def request(self, template: str) -> tuple[str, bytes]:
        marker = f"probe-{uuid.uuid4().hex[:12]}"
        raw = template.replace("{m}", marker).replace("{h}", self.host).encode("latin-1")
        return marker, exchange(self.server.port, raw)

    def log(self) -> str:
        answer = self.server.http.get(
            f"/api/v1/demo-instances/{self.instance_id}/logs", params={"tail": 10000}
        )
        assert answer.status_code == 200, answer.text
        return answer.text

    def wait_logged(self, marker: str) -> str:
        deadline = time.monotonic() + 15
        while marker not in (log := self.log()):
            assert time.monotonic() < deadline, f"{marker} never reached the demo's log"
            time.sleep(0.05)
        return log


@pytest.fixture(scope="module")
def demo(server: Server) -> Iterator[Demo]:
    instance_id = server.create()["id"]
    server.wait_status(instance_id, "ready")
    yield Demo(server, instance_id)


def test_a_well_formed_request_reaches_the_demo(demo: Demo) -> None:
    marker, answer = demo.request("GET /{m} HTTP/1.1\r\nHost: {h}\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
    demo.wait_logged(marker)
    marker, answer = demo.request(
        "POST /{m} HTTP/1.1\r\nHost: {h}\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    )
    assert answer.startswith(b"HTTP/1.1 404 "), answer[:200]  # the demo's own 404
    demo.wait_logged(marker)
    marker, answer = demo.request("GET http://{h}/{m} HTTP/1.1\r\nHost: {h}\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
    demo.wait_logged(marker)


@pytest.mark.parametrize("template", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_request_is_a_400_and_never_forwarded(demo: Demo, template: str) -> None:
    marker, answer = demo.request(template)
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:300]
    control, _ = demo.request("GET /{m} HTTP/1.1\r\nHost: {h}\r\n\r\n")
    assert marker not in demo.wait_logged(control)


def test_refusal_says_why_as_problem_json(demo: Demo) -> None:
    _, answer = demo.request(
        "GET /{m} HTTP/1.1\r\nHost: {h}\r\nHost: {h}\r\nAccept: application/json\r\n\r\n"
    )
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"application/problem+json" in head.lower()
    assert b"more than one Host header" in body


def test_the_orchestrator_refuses_them_too(server: Server) -> None:
    _, answer = Demo(server, "none").request(
        "GET /healthz HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\n"
        "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    )
    assert answer.startswith(b"HTTP/1.1 400 ")
    _, answer = Demo(server, "none").request(
        "GET http://elsewhere.example/healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"
    )
    assert answer.startswith(b"HTTP/1.1 400 ")


def test_a_websocket_upgrade_with_two_hosts_is_refused_too(demo: Demo) -> None:
    upgrade = (
        "GET /{m} HTTP/1.1\r\nHost: {h}\r\nHost: {h}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    )
    marker, answer = demo.request(upgrade)
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:300]
    control, _ = demo.request("GET /{m} HTTP/1.1\r\nHost: {h}\r\n\r\n")
    assert marker not in demo.wait_logged(control)
