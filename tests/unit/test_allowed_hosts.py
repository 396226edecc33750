"""The orchestrator's own pages answer only its own names (DNS rebinding), demo hosts still
route, and `/metrics` asks for `DEMO_METRICS_TOKEN` when one is set; all through the real app
(API wrapped by the host router) in process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from demo_orchestrator.app import create_app
from demo_orchestrator.serving.allowed_hosts import AllowedHosts, allowed_names
from tests.fakes.engine import Rig

METRICS_TOKEN = "scrape-4f9c2e7a1b"
ADMIN_TOKEN = "test-admin-token-0123456789"  # the Rig's bootstrap admin token


@pytest.fixture
def rig(tmp_path: Path) -> Any:
    made = Rig(tmp_path, metrics_token=METRICS_TOKEN, base_domain="demos.example.com")
    made.orchestrator.accounts.bootstrap()  # the admin token, as `serve` makes it at start
    yield made
    made.close()


def get(app: Any, path: str, host: str, headers: dict[str, str] | None = None) -> httpx.Response:
    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            return await client.get(path, headers={"host": host, **(headers or {})})

    return anyio.run(run)


@pytest.mark.parametrize(
    "host",
    [
        "evil.example.net",
        "attacker.test:8000",
        "localhost.evil.example.net",
        "demos.example.com.evil.net",
        "127.0.0.2",
        "[::2]:8000",
        "",
        "local host",
        "xn--80ak6aa92e.com",
    ],
)
def test_a_foreign_name_gets_400_problem_json_and_never_the_ui(rig: Rig, host: str) -> None:
    app = create_app(rig.orchestrator)
    for path in ("/login", "/portal", "/api/v1/demo-instances", "/docs"):
        answer = get(app, path, host, {"authorization": f"Bearer {ADMIN_TOKEN}"})
        assert answer.status_code == 400, (host, path, answer.status_code)
        assert answer.headers["content-type"] == "application/problem+json"
        assert "DEMO_ALLOWED_HOSTS" in answer.json()["detail"]
        assert "password" not in answer.text.lower()


@pytest.mark.parametrize(
    "host",
    [
        "localhost:8000",
        "LOCALHOST",
        "127.0.0.1:8000",
        "[::1]:8000",
        "demos.example.com",
        "admin.demos.example.com:443",
        "localhost.",
    ],
)
def test_the_orchestrators_own_names_reach_its_pages(rig: Rig, host: str) -> None:
    app = create_app(rig.orchestrator)
    answer = get(app, "/api/v1/demo-instances", host, {"authorization": f"Bearer {ADMIN_TOKEN}"})
    assert answer.status_code == 200, answer.text
    assert get(app, "/login", host).status_code == 200


def test_demo_hosts_are_still_routed_and_probes_answer_any_name(rig: Rig) -> None:
    app = create_app(rig.orchestrator)
    # a demo host is the router's, not the UI's: an unknown demo gets the router's own 404 page
    answer = get(app, "/", "demo-zz9zz9.portal.demos.example.com")
    assert answer.status_code == 404
    # a kubelet probes the pod IP, Prometheus scrapes it: both paths answer any name
    assert get(app, "/healthz", "10.1.2.3:8000").status_code == 200
    scraped = get(app, "/metrics", "10.1.2.3:8000", {"authorization": f"Bearer {METRICS_TOKEN}"})
    assert scraped.status_code == 200


def test_metrics_need_the_token_when_one_is_set(rig: Rig) -> None:
    app = create_app(rig.orchestrator)
    for headers in (
        {},
        {"authorization": "Bearer wrong-token-123"},
        {"authorization": METRICS_TOKEN},
        {"authorization": f"Basic {METRICS_TOKEN}"},
        {"authorization": f"Bearer {ADMIN_TOKEN}"},
    ):
        answer = get(app, "/metrics", "localhost", headers)
        assert answer.status_code == 401, headers
        assert answer.headers["content-type"] == "application/problem+json"
        assert "DEMO_METRICS_TOKEN" in answer.json()["detail"]
        assert METRICS_TOKEN not in answer.text
    answer = get(app, "/metrics", "localhost", {"authorization": f"Bearer {METRICS_TOKEN}"})
    assert answer.status_code == 200
    assert "demo_instances" in answer.text


def test_metrics_are_open_without_a_token(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    try:
        assert get(create_app(rig.orchestrator), "/metrics", "localhost").status_code == 200
    finally:
        rig.close()


def test_the_setting_replaces_the_defaults_and_takes_wildcards() -> None:
    names = allowed_names("demos.acme.io, *.internal.acme.io", "0.0.0.0", "localhost")
    guard = AllowedHosts(lambda *_: None, names)  # type: ignore[arg-type]
    assert guard.allows("demos.acme.io:443")
    assert guard.allows("ops.internal.acme.io")
    assert not guard.allows("internal.acme.io.evil.net")
    assert not guard.allows("localhost:8000")  # the setting replaces the defaults
    assert AllowedHosts(lambda *_: None, allowed_names("*", "h", "d")).allows("anything.at.all")  # type: ignore[arg-type]
    defaults = allowed_names(None, "10.0.0.5", "demo.example.com")
    assert {"localhost", "127.0.0.1", "[::1]", "10.0.0.5", "demo.example.com"} <= set(defaults)
    assert "0.0.0.0" not in allowed_names(None, "0.0.0.0", "localhost")
