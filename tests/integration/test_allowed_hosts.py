"""The orchestrator's own pages answer only its own host names (DNS rebinding: a page on a name
the attacker controls, resolved to 127.0.0.1, must not reach the admin UI or its sign-in), and
DEMO_METRICS_TOKEN, when set, guards /metrics. Real `democtl serve` processes, real HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Server

METRICS_TOKEN = "metrics-scraper-token-5521"


def ask(server: Server, method: str, path: str, host: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(
        method,
        f"{server.url}{path}",
        headers={"Host": host, **kwargs.pop("headers", {})},
        timeout=10,
        trust_env=False,
        **kwargs,
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/portal"), ("GET", "/login"), ("POST", "/login"), ("GET", "/api/v1/scenarios")],
)
def test_a_foreign_host_never_reaches_the_orchestrator(
    server: Server, method: str, path: str
) -> None:
    answer = ask(
        server,
        method,
        path,
        f"rebound.attacker.example:{server.port}",
        headers={"Authorization": f"Bearer {server.token}", "Accept": "application/json"},
        data={"username": "admin", "password": "whatever-it-is"} if method == "POST" else None,
    )
    assert answer.status_code == 400, answer.text[:300]
    assert answer.headers["content-type"] == "application/problem+json"
    assert "DEMO_ALLOWED_HOSTS" in answer.json()["detail"]


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::1]", "admin.localhost"])
def test_the_default_names_are_answered(server: Server, host: str) -> None:
    answer = ask(
        server,
        "GET",
        "/api/v1/scenarios",
        f"{host}:{server.port}",
        headers={"Authorization": f"Bearer {server.token}"},
    )
    assert answer.status_code == 200, answer.text[:300]


def test_probes_and_demo_hosts_are_not_guarded(server: Server) -> None:
    assert ask(server, "GET", "/healthz", "10.1.2.3:8000").status_code == 200
    assert ask(server, "GET", "/metrics", "10.1.2.3:8000").status_code == 200
    demo = ask(server, "GET", "/", f"demo-abcdef.portal.localhost:{server.port}")
    assert demo.status_code == 404  # the router's page for an unknown demo, not a refusal


def test_allowed_hosts_and_metrics_token_are_settings(make_server: Any) -> None:
    server: Server = make_server(
        DEMO_ALLOWED_HOSTS='["orchestrator.example", "127.0.0.1"]',
        DEMO_METRICS_TOKEN=METRICS_TOKEN,
    ).start()
    bearer = {"Authorization": f"Bearer {server.token}"}
    named = ask(server, "GET", "/api/v1/scenarios", "Orchestrator.Example.", headers=bearer)
    assert named.status_code == 200
    assert ask(server, "GET", "/api/v1/scenarios", "localhost", headers=bearer).status_code == 400

    bare = server.http.get("/metrics", headers={"Authorization": ""})
    assert bare.status_code == 401
    assert bare.headers["content-type"] == "application/problem+json"
    assert "DEMO_METRICS_TOKEN" in bare.json()["detail"]
    assert server.http.get("/metrics").status_code == 401  # the admin API token is not it
    scraped = server.http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert scraped.status_code == 200
    assert "demo_instances" in scraped.text
