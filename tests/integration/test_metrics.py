"""`/metrics` after a scripted lifecycle on a real server: the values say what happened.

One demo fails on purpose (an injected fault in `routes`, retried twice then given up; `deploy`
fails once first and is retried), one is made, visited through the router, extended and deleted,
one expires, and an orphaned database file is swept. The scrape is parsed as Prometheus would.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Server


def scrape(server: Server) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = server.http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    values = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            values[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return values


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def wait_for(server: Server, name: str, expected: float, **labels: str) -> dict[Any, float]:
    deadline = time.monotonic() + 20
    while True:
        samples = scrape(server)
        if value(samples, name, **labels) == expected or time.monotonic() > deadline:
            return samples
        time.sleep(0.1)


def test_metrics_tell_what_happened(make_server: Any) -> None:
    server: Server = make_server(
        DEMO_FAULT_INJECTION="deploy:1,routes:3",
        DEMO_STEP_RETRIES="2",
        DEMO_SWEEP_SECONDS="0.5",
    ).start()
    failing = server.create()
    failed = server.wait_status(failing["id"], "failed")
    assert failed["error"].startswith("routes: injected fault")

    kept = server.create(name="kept")
    server.wait_status(kept["id"], "ready")
    for _ in range(3):
        assert server.demo(kept["id"], "portal").status_code == 200
    assert server.demo("demo-zzzzzz", "portal").status_code == 404  # no such demo
    extended = server.http.post(f"/api/v1/demo-instances/{kept['id']}/extend", json={"hours": 1})
    assert extended.status_code == 200

    expiring = server.create(duration_hours=0.001)  # 3.6 seconds
    server.wait_status(expiring["id"], "deleted", timeout=30)
    assert server.http.delete(f"/api/v1/demo-instances/{kept['id']}").status_code == 202
    server.wait_status(kept["id"], "deleted")

    orphan = server.home / "databases" / "demo-orph4n.db"
    orphan.write_bytes(b"")
    samples = wait_for(server, "demo_orphans_removed_total", 1, kind="database", provider="sqlite")
    assert not orphan.exists()
    assert value(samples, "demo_orphans_found_total", kind="database", provider="sqlite") == 1

    # steps: deploy retried once then passed three times; routes retried twice, then failed
    assert value(samples, "demo_step_retries_total", step="deploy", reason="fault_injected") == 1
    assert value(samples, "demo_step_retries_total", step="routes", reason="fault_injected") == 2
    assert value(samples, "demo_step_failures_total", step="routes", reason="fault_injected") == 1
    count = "demo_step_duration_seconds_count"
    assert value(samples, count, step="deploy", outcome="retry") == 1
    assert value(samples, count, step="deploy", outcome="success") == 3
    assert value(samples, count, step="routes", outcome="retry") == 2
    assert value(samples, count, step="routes", outcome="failure") == 1
    assert value(samples, count, step="routes", outcome="success") == 2
    assert value(samples, "demo_step_duration_seconds_sum", step="deploy", outcome="success") > 0

    # the instances: two made, one failed, two torn down (one expired), all gone now
    scenario = {"scenario": "agency"}
    assert value(samples, "demo_provision_duration_seconds_count", **scenario) == 2
    assert value(samples, "demo_provision_duration_seconds_sum", **scenario) > 0
    assert value(samples, "demo_status_changes_total", status="failed", **scenario) == 1
    assert value(samples, "demo_status_changes_total", status="ready", **scenario) == 2
    assert value(samples, "demo_teardown_duration_seconds_count", **scenario) == 2
    assert value(samples, "demo_expiry_lateness_seconds_count") == 1
    assert value(samples, "demo_instances", status="deleted", **scenario) == 2
    assert value(samples, "demo_instances", status="failed", **scenario) == 1
    assert value(samples, "demo_instances", status="ready", **scenario) == 0
    assert value(samples, "demo_instances_overdue") == 0
    assert value(samples, "demo_expiry_overdue_seconds") == 0
    assert value(samples, "demo_quota_instances_used", scope="total") == 0
    assert value(samples, "demo_quota_instances_limit", scope="total") > 0
    assert value(samples, "demo_cost_accrued_usd_total", **scenario) > 0
    assert value(samples, "demo_cost_hourly_usd", **scenario) == 0

    # the router: per route name, never per demo
    assert value(samples, "demo_router_requests_total", route="portal", code="2xx") == 3
    assert value(samples, "demo_router_requests_total", route="portal", code="4xx") == 1
    assert value(samples, "demo_router_request_duration_seconds_count", route="portal") == 4
    assert value(samples, "demo_router_requests_total", route="api", code="2xx") > 0
    assert not any(kept["id"] in str(labels) for _, labels in samples)

    # health and the warm pool
    assert value(samples, "demo_store_up") == 1
    assert value(samples, "demo_provider_up", kind="runtime", provider="local") == 1
    assert value(samples, "demo_provider_up", kind="database", provider="sqlite") == 1
    assert value(samples, "demo_warm_pool_target", **scenario) == 0
    assert value(samples, "demo_warm_pool_hits_total", **scenario) == 0
