"""Every call the `kubernetes` runtime makes in a demo's whole life is allowed by the RBAC of the
orchestrator's own chart (`charts/demo-orchestrator`, default values): a call the chart does not
grant would be a 403 on a real cluster, which the fake API server cannot tell."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from demo_orchestrator.domain.blueprint import load_blueprint
from demo_orchestrator.providers.base import InstanceSpec
from demo_orchestrator.providers.kubernetes.runtime import KubernetesRuntime
from demo_orchestrator.providers.kubernetes.settings import KubernetesSettings, SharedDataServers
from tests.fakes.kube_api import FakeKubeApi
from tests.kubernetes import tools

ID = "demo-rbac01"
VERBS = {"GET": "get", "PATCH": "patch", "DELETE": "delete"}


def _allowed(objects: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    granted = set()
    for role in objects:
        if role["kind"] != "ClusterRole":
            continue
        for rule in role["rules"]:
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    granted |= {(group, resource, verb) for verb in rule["verbs"]}
    return granted


def _asked(method: str, path: str, *, watch: bool = False) -> tuple[str, str, str]:
    segments = [s for s in path.split("/") if s]
    if segments[0] == "api":
        group, rest = "", segments[2:]
    else:
        group, rest = segments[1], segments[3:]
    if rest[0] == "namespaces" and len(rest) >= 3:
        resource, name = rest[2], rest[3] if len(rest) > 3 else ""
        if len(rest) > 4:
            resource = f"{resource}/{rest[4]}"
    else:
        resource, name = rest[0], rest[1] if len(rest) > 1 else ""
    verb = VERBS[method] if name or method != "GET" else "watch" if watch else "list"
    return group, resource, verb


def test_every_call_of_a_demos_life_is_granted_by_the_orchestrator_chart(
    chart_sets: dict[str, list[dict[str, Any]]], helm: Path, tmp_path: Path
) -> None:
    fake = FakeKubeApi(terminating_seconds=0)
    fake.start()
    runtime = KubernetesRuntime(
        settings=KubernetesSettings(kubeconfig=fake.kubeconfig(tmp_path / "kc"), helm=str(helm)),
        servers=SharedDataServers(),
        base_domain="demo.example.com",
        owner="rbac",
        secret_key="rbac-test-secret-key-0123",
        max_hours=8,
    )
    blueprint = load_blueprint(tools.ROOT / "blueprints" / "splits-network.yaml")
    scenario = blueprint.scenario("agency")
    assert scenario is not None
    try:
        runtime.reachable()
        runtime.ensure(spec=InstanceSpec(ID, blueprint, scenario))
        fake.set_available(ID, "app")
        assert runtime.check_ready(instance_id=ID).healthy
        runtime.follow_expiry(instance_id=ID, expires_at=datetime.now(UTC) + timedelta(hours=1))
        fake.objects[("api/v1", ID, "pods", "app-1")] = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "app-1",
                "namespace": ID,
                "labels": {"demo-orchestrator/instance": ID, "app.kubernetes.io/name": "app"},
            },
        }
        runtime.logs(instance_id=ID, service="app", tail=10)
        runtime.owned()
        runtime.destroy(instance_id=ID)
        runtime.destroy(instance_id=ID)
    finally:
        runtime.close()
        fake.stop()
    granted = _allowed(chart_sets["demo-orchestrator:default"])
    asked = {
        _asked(method, path, watch="watch" in query) for method, path, query, _ in fake.requests
    }
    # (the rollout and the deleted namespace are watched)
    assert {verb for _, _, verb in asked} >= {"get", "list", "watch", "patch", "delete"}
    assert asked - granted == set()
    # Server-side apply creates what is not there: that takes `create` too.
    patched = {(g, r) for g, r, v in asked if v == "patch"}
    assert {(g, r) for g, r in patched if (g, r, "create") not in granted} == set()
