"""Which Host headers are demo hosts: strict, so look-alike names never reach a demo."""

from __future__ import annotations

import pytest

from demo_orchestrator.router import parse_demo_host
from demo_orchestrator.router.hosts import looks_like_demo_host, split_host


@pytest.mark.parametrize(
    ("host", "base", "expected"),
    [
        ("demo-ab12cd.portal.localhost", "localhost", ("demo-ab12cd", "portal")),
        ("demo-ab12cd.portal.localhost:8000", "localhost", ("demo-ab12cd", "portal")),
        ("demo-000000.candidate.localhost:80", "localhost", ("demo-000000", "candidate")),
        ("DEMO-AB12CD.Portal.LOCALHOST:8000", "localhost", ("demo-ab12cd", "portal")),
        ("demo-ab12cd.portal.localhost.", "localhost", ("demo-ab12cd", "portal")),
        ("demo-ab12cd.portal.demo.example.com", "demo.example.com", ("demo-ab12cd", "portal")),
        ("demo-ab12cd.portal.demo.example.com:443", "Demo.Example.com.", ("demo-ab12cd", "portal")),
        ("demo-zz99zz.admin-ui.localhost", "localhost", ("demo-zz99zz", "admin-ui")),
    ],
)
def test_demo_hosts(host: str, base: str, expected: tuple[str, str]) -> None:
    assert parse_demo_host(host, base) == expected


@pytest.mark.parametrize(
    ("host", "base"),
    [
        ("localhost", "localhost"),
        ("localhost:8000", "localhost"),
        ("portal.localhost", "localhost"),
        ("demo-ab12cd.localhost", "localhost"),  # no route
        ("demo-ab12c.portal.localhost", "localhost"),  # 5 characters
        ("demo-ab12cde.portal.localhost", "localhost"),  # 7 characters
        ("demo-ab_2cd.portal.localhost", "localhost"),
        ("demo-ab12cd.portal.localhost.evil.com", "localhost"),
        ("demo-ab12cd.portal.evil-localhost", "localhost"),
        ("demo-ab12cd.portal.localhostx", "localhost"),
        ("x.demo-ab12cd.portal.localhost", "localhost"),
        ("demo-ab12cd.por_tal.localhost", "localhost"),
        ("demo-ab12cd.-portal.localhost", "localhost"),
        ("demo-ab12cd.portal.localhost", "demo.example.com"),
        ("demo-ab12cd.portal.example.com", "demo.example.com"),
        ("demo.example.com", "demo.example.com"),
        ("demo-ab12cd.portal.localhost:80a", "localhost"),
        ("demo-ab12cd.portal.localhost:", "localhost"),
        ("demo-ab12cd..portal.localhost", "localhost"),
        ("[::1]:8000", "localhost"),
        ("", "localhost"),
    ],
)
def test_not_demo_hosts(host: str, base: str) -> None:
    assert parse_demo_host(host, base) is None


@pytest.mark.parametrize(
    ("host", "looks"),
    [
        ("demo-abc.portal.localhost", True),
        ("demo-ab12cd.localhost:8000", True),
        ("demo-ab12cd.portal.localhost", True),
        ("localhost:8000", False),
        ("portal.localhost", False),
        ("demo-ab12cd.portal.localhost.evil.com", False),
    ],
)
def test_looks_like_demo_host(host: str, looks: bool) -> None:
    assert looks_like_demo_host(host, "localhost") is looks


def test_split_host() -> None:
    assert split_host("Example.COM.:8080") == ("example.com", "8080")
    assert split_host("example.com") == ("example.com", None)
    assert split_host("a..b") is None
