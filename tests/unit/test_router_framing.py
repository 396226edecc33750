"""`router.framing.malformed`: which request heads the router refuses before forwarding.
(tests/integration/test_router_malformed.py sends the same over real sockets.)"""

from __future__ import annotations

from typing import Any

import pytest

from demo_orchestrator.router.framing import TARGET_KEY, malformed

HOST = (b"host", b"demo-abc123.portal.localhost:8000")


def scope(*headers: tuple[bytes, bytes], target: bytes | None = None, **extra: Any) -> dict:
    made: dict[str, Any] = {
        "type": "http",
        "method": extra.pop("method", "GET"),
        "http_version": extra.pop("http_version", "1.1"),
        "headers": list(headers),
    }
    if target is not None:
        made["extensions"] = {TARGET_KEY: {"target": target}}
    return made


@pytest.mark.parametrize(
    "request_scope",
    [
        scope(HOST),
        scope(HOST, (b"content-length", b"12")),
        scope(HOST, (b"transfer-encoding", b"Chunked")),
        scope(HOST, target=b"/items?q=1"),
        scope(HOST, target=b"http://demo-abc123.portal.localhost:8000/items"),
        scope(HOST, target=b"*", method="OPTIONS"),
        scope(http_version="1.0"),  # HTTP/1.0 may leave Host out
        scope((b"host", b"[::1]:8000")),
        scope(HOST, (b"x-note", b"tab\tinside")),
    ],
)
def test_well_formed_requests_pass(request_scope: dict) -> None:
    assert malformed(request_scope) is None


@pytest.mark.parametrize(
    ("request_scope", "reason"),
    [
        (scope(HOST, HOST), "more than one Host"),
        (scope(), "needs a Host"),
        (scope((b"host", b"a b")), "not a host name"),
        (scope(HOST, (b"content-length", b"1"), (b"content-length", b"1")), "more than one"),
        (scope(HOST, (b"content-length", b"-1")), "not a number"),
        (
            scope(HOST, (b"content-length", b"3"), (b"transfer-encoding", b"chunked")),
            "both Content-Length and Transfer-Encoding",
        ),
        (scope(HOST, (b"transfer-encoding", b"gzip, chunked")), "single `chunked`"),
        (
            scope(HOST, (b"transfer-encoding", b"chunked"), (b"transfer-encoding", b"chunked")),
            "single",
        ),
        (scope(HOST, (b"transfer-encoding", b"chunked"), http_version="1.0"), "HTTP/1.0"),
        (scope(HOST, (b"x foo", b"1")), "not a token"),
        (scope(HOST, (b"x-foo", b"a\x00b")), "control character"),
        (scope(HOST, target=b"/a#b"), "fragment"),
        (scope(HOST, target=b"/a b"), "space"),
        (scope(HOST, target=b"*"), "OPTIONS only"),
        (scope(HOST, target=b"items"), "neither a path"),
        (scope(HOST, target=b"http://elsewhere.example/items"), "another host"),
        (scope(HOST, target=b"http://demo-abc123.portal.localhost:8000@evil/x"), "another host"),
    ],
)
def test_ambiguous_requests_are_refused(request_scope: dict, reason: str) -> None:
    why = malformed(request_scope)
    assert why is not None and reason in why
