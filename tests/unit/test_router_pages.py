"""Refusal pages, header rules and decision mapping of the host router (no sockets)."""

from __future__ import annotations

import json

import pytest

from demo_orchestrator.router import RouteDecision, Upstream, pages
from demo_orchestrator.router.headers import end_to_end, forwarded_for
from demo_orchestrator.router.middleware import problem_for
from demo_orchestrator.router.websocket import sendable_close_code


def _headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in raw}


@pytest.mark.parametrize(
    ("accept", "json_wanted"),
    [
        ("application/json", True),
        ("application/problem+json, */*;q=0.1", True),
        ("text/html,application/xhtml+xml,application/json;q=0.9", False),
        ("*/*", False),
        (None, False),
    ],
)
def test_wants_json(accept: str | None, json_wanted: bool) -> None:
    assert pages.wants_json(accept) is json_wanted


def test_starting_page_refreshes_and_shows_status() -> None:
    status, raw, body = pages.render(pages.starting("demo-ab12cd", "provisioning", None), None)
    headers, text = _headers(raw), body.decode()
    assert status == 503
    assert headers["retry-after"] == "2"
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert int(headers["content-length"]) == len(body)
    assert '<meta http-equiv="refresh" content="2">' in text
    assert "Your demo is starting…" in text and "provisioning" in text


def test_pages_are_self_contained() -> None:
    for problem in (
        pages.not_found(None),
        pages.starting("demo-ab12cd", None, None),
        pages.failed("demo-ab12cd", None, "boom"),
        pages.not_answering("demo-ab12cd"),
        pages.lookup_failed("demo-ab12cd"),
    ):
        text = pages.render(problem, "text/html")[2].decode()
        assert "<style>" in text
        assert "http://" not in text and "https://" not in text and "src=" not in text


def test_messages_are_escaped() -> None:
    text = pages.render(pages.failed("demo-ab12cd", None, "<script>x</script>"), None)[2]
    assert b"<script>" not in text and b"&lt;script&gt;" in text


def test_problem_json() -> None:
    status, raw, body = pages.render(
        pages.failed("demo-ab12cd", "failed", "db down"), "application/json"
    )
    assert status == 502
    assert _headers(raw)["content-type"] == "application/problem+json"
    problem = json.loads(body)
    assert problem["status"] == 502 and problem["detail"] == "db down"
    assert problem["title"] and problem["type"]


def test_problem_for_decisions() -> None:
    up = Upstream("127.0.0.1", 1)
    assert problem_for(RouteDecision("proxy", "demo-ab12cd", up)) is None
    assert problem_for(RouteDecision("proxy", "demo-ab12cd")) == pages.not_answering("demo-ab12cd")
    assert problem_for(RouteDecision("not_found", "demo-ab12cd")).status == 404  # type: ignore[union-attr]
    assert problem_for(RouteDecision("starting", "demo-ab12cd")).status == 503  # type: ignore[union-attr]
    assert problem_for(RouteDecision("failed", "demo-ab12cd")).status == 502  # type: ignore[union-attr]


def test_end_to_end_drops_hop_by_hop() -> None:
    raw = [
        (b"Connection", b"close, X-Private"),
        (b"X-Private", b"1"),
        (b"Keep-Alive", b"5"),
        (b"Transfer-Encoding", b"chunked"),
        (b"TE", b"trailers"),
        (b"Trailer", b"x"),
        (b"Upgrade", b"h2c"),
        (b"Proxy-Authorization", b"x"),
        (b"Proxy-Foo", b"x"),
        (b"Set-Cookie", b"a=1"),
        (b"Set-Cookie", b"b=2"),
        (b"Host", b"demo-ab12cd.portal.localhost"),
    ]
    assert end_to_end(raw) == [
        (b"Set-Cookie", b"a=1"),
        (b"Set-Cookie", b"b=2"),
        (b"Host", b"demo-ab12cd.portal.localhost"),
    ]


def test_forwarded_for() -> None:
    scope = {"client": ("10.0.0.5", 5555), "scheme": "wss"}
    raw = forwarded_for(scope, [(b"host", b"h:1"), (b"x-forwarded-for", b"1.2.3.4")])
    assert _headers(raw) == {
        "host": "h:1",
        "x-forwarded-for": "1.2.3.4, 10.0.0.5",
        "x-forwarded-proto": "https",
        "x-forwarded-host": "h:1",
    }


@pytest.mark.parametrize(
    ("code", "sent"),
    [(None, 1000), (1000, 1000), (1005, 1000), (1006, 1011), (4001, 4001), (1015, 1011)],
)
def test_sendable_close_code(code: int | None, sent: int) -> None:
    assert sendable_close_code(code) == sent
