"""Metrics from the change feed with a fake clock, and the deploy/ files against a real scrape.

The alert rules pass `promtool check rules` and their unit tests (`promtool test rules`); every
metric named in the rules and in the Grafana dashboard is one `/metrics` exports, read from the
exposition of a scrape of the real app (series of labelled metrics that saw nothing yet are
still announced by their TYPE line, which is what is compared).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from demo_orchestrator.app import create_app
from demo_orchestrator.engine.metrics import REASONS, reason_of
from tests.fakes.engine import ADMIN, Rig

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "alerts_test.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboard.json"
NAME = re.compile(r"\bdemo_[a-z0-9_]+\b")


@pytest.fixture
def rig(tmp_path: Path) -> Any:
    made = Rig(tmp_path, fault_injection="deploy:1")
    yield made
    made.close()


def scrape(app: Any) -> str:
    """GET /metrics from the real app (the API wrapped by the router), in process."""

    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            return await client.get("/metrics")

    response = anyio.run(get)
    assert response.status_code == 200
    return response.text


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def exported_names(text: str) -> set[str]:
    names: set[str] = set()
    suffixes = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_count", "_sum")}
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names.update(family.name + suffix for suffix in suffixes.get(family.type, ()))
    return names


def test_metrics_follow_the_change_feed_with_exact_durations(rig: Rig) -> None:
    app = create_app(rig.orchestrator)
    instance_id = rig.create(duration_hours=1)
    created = rig.clock()
    rig.clock.now = created + timedelta(seconds=12)  # waiting, not worked on yet
    waiting = samples(scrape(app))
    assert waiting[("demo_store_up", frozenset())] == 1
    assert waiting[("demo_provisioning_oldest_seconds", frozenset())] == 12
    assert waiting[("demo_quota_instances_used", frozenset({("scope", "total")}))] == 1
    assert waiting[("demo_quota_instances_used", frozenset({("scope", "owner")}))] == 1
    rig.settle(30)
    assert rig.get(instance_id)["status"] == "ready"
    ready_at = rig.get(instance_id)["ready_at"]
    rig.orchestrator.feed.read_now()
    got = samples(scrape(app))
    agency = frozenset({("scenario", "agency")})
    assert got[("demo_provision_duration_seconds_count", agency)] == 1
    took = (datetime.fromisoformat(ready_at) - created).total_seconds()
    assert took > 0  # the injected fault's retry waited on the fake clock
    assert got[("demo_provision_duration_seconds_sum", agency)] == pytest.approx(took)
    deploy_retry = frozenset({("step", "deploy"), ("reason", "fault_injected")})
    assert got[("demo_step_retries_total", deploy_retry)] == 1
    success = frozenset({("step", "deploy"), ("outcome", "success")})
    assert got[("demo_step_duration_seconds_count", success)] == 1

    # expiry noticed 90 s late, then torn down
    expires_at = datetime.fromisoformat(rig.get(instance_id)["expires_at"])
    rig.clock.now = expires_at + timedelta(seconds=90)
    overdue = samples(scrape(app))
    assert overdue[("demo_instances_overdue", frozenset())] == 1
    assert overdue[("demo_expiry_overdue_seconds", frozenset())] == 90
    rig.settle(5)
    rig.orchestrator.feed.read_now()
    got = samples(scrape(app))
    assert got[("demo_expiry_lateness_seconds_count", frozenset())] == 1
    assert got[("demo_expiry_lateness_seconds_sum", frozenset())] == 90
    assert got[("demo_teardown_duration_seconds_count", agency)] == 1
    assert got[("demo_instances", frozenset({("status", "deleted"), *agency}))] == 1
    assert got[("demo_expiry_overdue_seconds", frozenset())] == 0
    assert got[("demo_store_up", frozenset())] == 1


def test_failure_reasons_are_a_short_fixed_list() -> None:
    texts = [
        "injected fault in step deploy (gave up after 2 retries)",
        "service web still not ready after 5 s",
        "unexpected KeyError: 'x'",
        "teardown: server gone",
        "postgres at 10.0.0.1 is unreachable (OperationalError)",
        "anything else (gave up after 3 retries)",
        "a permanent error",
    ]
    reasons = [reason_of(t, failure=True) for t in texts]
    assert reasons == [
        "fault_injected",
        "timeout",
        "crash",
        "teardown",
        "unreachable",
        "retries_exhausted",
        "permanent",
    ]
    assert reason_of("connection refused", failure=False) == "temporary"
    assert set(reasons) <= set(REASONS)


def test_every_metric_in_the_rules_and_dashboard_is_exported(rig: Rig) -> None:
    exported = exported_names(scrape(create_app(rig.orchestrator)))
    rules = yaml.safe_load(RULES.read_text())
    named: dict[str, set[str]] = {}
    for group in rules["groups"]:
        for rule in group["rules"]:
            text = json.dumps(rule)
            named[f"alert {rule['alert']}"] = set(NAME.findall(text))
    dashboard = json.loads(DASHBOARD.read_text())
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            named.setdefault(f"panel {panel['title']}", set()).update(NAME.findall(target["expr"]))
    assert all(named.values()), "every rule and panel names a metric"
    unknown = {where: names - exported for where, names in named.items() if names - exported}
    assert unknown == {}
    alerts = {w.removeprefix("alert ") for w in named if w.startswith("alert ")}
    tested = set(re.findall(r"alertname: (\w+)", RULE_TESTS.read_text()))
    assert alerts <= tested, "every alert has a unit test"


@pytest.mark.promtool
def test_the_alert_rules_pass_promtool() -> None:
    promtool = shutil.which("promtool")
    assert promtool is not None
    for args in (["check", "rules", str(RULES)], ["test", "rules", str(RULE_TESTS)]):
        run = subprocess.run(
            [promtool, *args], check=False, capture_output=True, text=True, timeout=60
        )
        assert run.returncode == 0, run.stdout + run.stderr


def test_a_wake_is_timed_as_a_wake_not_as_a_provisioning(rig: Rig) -> None:
    app = create_app(rig.orchestrator)
    instance_id = rig.create()
    rig.settle(30)
    rig.service.sleep(ADMIN, instance_id)
    rig.settle()
    assert rig.get(instance_id)["status"] == "sleeping"
    rig.service.wake(ADMIN, instance_id)
    rig.settle()
    assert rig.get(instance_id)["status"] == "ready"
    rig.orchestrator.feed.read_now()
    got = samples(scrape(app))
    agency = frozenset({("scenario", "agency")})
    assert got[("demo_wake_duration_seconds_count", agency)] == 1
    assert got[("demo_provision_duration_seconds_count", agency)] == 1
    assert got[("demo_status_changes_total", frozenset({("status", "sleeping"), *agency}))] == 1
    assert got[("demo_cost_hourly_usd", agency)] == pytest.approx(0.16)
    assert got[("demo_cost_accrued_usd_total", agency)] > 0
