"""The orchestrator's chart: least-privilege RBAC of exactly the kinds the runtime creates
(compared with what `democtl render` prints), confined by admission to demo namespaces;
credentials only by reference; replicas, probes and a disruption budget; its routes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.kubernetes.conftest import Rendered

Obj = dict[str, Any]


# -- RBAC ------------------------------------------------------------------

KIND_RESOURCE = {
    "Namespace": ("", "namespaces"),
    "ResourceQuota": ("", "resourcequotas"),
    "LimitRange": ("", "limitranges"),
    "Secret": ("", "secrets"),
    "ConfigMap": ("", "configmaps"),
    "Service": ("", "services"),
    "Deployment": ("apps", "deployments"),
    "StatefulSet": ("apps", "statefulsets"),
    "Job": ("batch", "jobs"),
    "NetworkPolicy": ("networking.k8s.io", "networkpolicies"),
    "Ingress": ("networking.k8s.io", "ingresses"),
    "HTTPRoute": ("gateway.networking.k8s.io", "httproutes"),
}


@pytest.mark.parametrize(
    ("values", "route_kind"), [("default", "httproute"), ("production", "ingress-wildcard")]
)
def test_rbac_grants_exactly_the_kinds_the_runtime_creates(
    chart_sets: dict[str, list[Obj]],
    matrix: dict[tuple[str, str], Rendered],
    values: str,
    route_kind: str,
) -> None:
    objects = chart_sets[f"demo-orchestrator:{values}"]
    roles = [o for o in objects if o["kind"] in ("ClusterRole", "Role")]
    bindings = [o for o in objects if o["kind"] in ("ClusterRoleBinding", "RoleBinding")]
    assert roles and bindings
    for binding in bindings:
        assert binding["roleRef"]["name"] not in ("cluster-admin", "admin", "edit")
        assert binding["roleRef"]["name"] in {r["metadata"]["name"] for r in roles}
    writes: set[tuple[str, str]] = set()
    for role in roles:
        for rule in role["rules"]:
            for field in ("apiGroups", "resources", "verbs"):
                assert "*" not in rule.get(field, []), (role["metadata"]["name"], rule)
            assert not {"escalate", "bind", "impersonate"} & set(rule["verbs"])
            if role["kind"] == "Role":  # only reads the wildcard certificate it copies
                assert rule == {
                    "apiGroups": [""],
                    "resources": ["secrets"],
                    "resourceNames": ["demos-wildcard-tls"],
                    "verbs": ["get"],
                }
                continue
            if {"create", "patch", "delete"} & set(rule["verbs"]):
                writes |= {(group, res) for group in rule["apiGroups"] for res in rule["resources"]}
            else:
                assert set(rule["verbs"]) <= {"get", "list", "watch"}
                assert set(rule["resources"]) <= {"pods", "pods/log"}
    created = {
        KIND_RESOURCE[obj["kind"]]
        for (_, kind), rendered in matrix.items()
        if kind == route_kind
        for obj in rendered.objects
    }
    assert writes == created


def test_the_confining_admission_policy_covers_every_kind_it_may_write(
    chart_sets: dict[str, list[Obj]],
) -> None:
    for values in ("default", "production"):
        objects = chart_sets[f"demo-orchestrator:{values}"]
        policy = next(o for o in objects if o["kind"] == "ValidatingAdmissionPolicy")
        role = next(o for o in objects if o["kind"] == "ClusterRole")
        written = {
            res for rule in role["rules"] if "create" in rule["verbs"] for res in rule["resources"]
        }
        rule = policy["spec"]["matchConstraints"]["resourceRules"][0]
        assert set(rule["resources"]) == written
        assert "demo-orchestrator" in policy["spec"]["validations"][0]["message"]
        assert policy["spec"]["matchConditions"][0]["expression"].endswith(
            ':demo-orchestrator:demo-demo-orchestrator"'
        )
        binding = next(o for o in objects if o["kind"] == "ValidatingAdmissionPolicyBinding")
        assert binding["spec"] == {
            "policyName": policy["metadata"]["name"],
            "validationActions": ["Deny"],
        }


def test_the_orchestrator_gets_its_credentials_only_by_reference(
    chart_sets: dict[str, list[Obj]],
) -> None:
    for values in ("default", "production"):
        objects = chart_sets[f"demo-orchestrator:{values}"]
        assert not any(o["kind"] == "Secret" for o in objects)
        deployment = next(o for o in objects if o["kind"] == "Deployment")
        env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        by_name = {e["name"]: e for e in env}
        for name in ("DEMO_STORE_URL", "DEMO_SECRET_KEY", "DEMO_ADMIN_PASSWORD", "DEMO_REDIS_URL"):
            assert "value" not in by_name[name] and "secretKeyRef" in by_name[name]["valueFrom"]
        for entry in env:
            assert "@" not in str(entry.get("value", "")), entry  # no URL with credentials
        assert by_name["DEMO_RUNTIME"]["value"] == "kubernetes"


# -- the orchestrator's availability -------------------------------------------------------------


def test_the_orchestrator_runs_replicated_probed_and_protected(
    chart_sets: dict[str, list[Obj]],
) -> None:
    for values, replicas in (("default", 2), ("production", 3)):
        objects = chart_sets[f"demo-orchestrator:{values}"]
        deployment = next(o for o in objects if o["kind"] == "Deployment")
        assert deployment["spec"]["replicas"] == replicas >= 2
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["args"] == ["serve"]
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert container[probe]["httpGet"]["path"] == "/healthz"
        budget = next(o for o in objects if o["kind"] == "PodDisruptionBudget")
        selector = budget["spec"]["selector"]["matchLabels"]
        assert selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
        assert 1 <= budget["spec"]["minAvailable"] < replicas
        service = next(o for o in objects if o["kind"] == "Service")
        assert service["spec"]["selector"] == selector
        account = next(o for o in objects if o["kind"] == "ServiceAccount")
        spec = deployment["spec"]["template"]["spec"]
        assert spec["serviceAccountName"] == account["metadata"]["name"]


def test_the_orchestrator_answers_its_admin_host_and_every_demo_host(
    chart_sets: dict[str, list[Obj]],
) -> None:
    routes = [o for o in chart_sets["demo-orchestrator:default"] if o["kind"] == "HTTPRoute"]
    assert sorted(host for r in routes for host in r["spec"]["hostnames"]) == sorted(
        ["demos.example.com", "*.portal.demo.example.com", "*.candidate.demo.example.com"]
    )
    ingresses = [o for o in chart_sets["demo-orchestrator:production"] if o["kind"] == "Ingress"]
    hosts = sorted(rule["host"] for i in ingresses for rule in i["spec"]["rules"])
    assert hosts == sorted(
        [
            "orchestrator.splits.example",
            "*.portal.demos.splits.example",
            "*.candidate.demos.splits.example",
        ]
    )
    # the UI answers only the admin host (DNS rebinding); probes use /healthz, which any name reaches
    for values, admin_host in (
        ("default", "demos.example.com"),
        ("production", "orchestrator.splits.example"),
    ):
        deployment = next(
            o for o in chart_sets[f"demo-orchestrator:{values}"] if o["kind"] == "Deployment"
        )
        env = {
            e["name"]: e.get("value")
            for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        }
        # ... and the in-cluster Service name the demos report engagement to (nothing else)
        allowed = env["DEMO_ALLOWED_HOSTS"].split(",")
        assert allowed[0] == admin_host and len(allowed) == 2
        assert env["DEMO_ACTIVITY_URL"] == f"http://{allowed[1]}"
        assert allowed[1].endswith(".svc")
    for ingress in ingresses:
        tls = ingress["spec"]["tls"][0]
        assert tls["secretName"] == "demos-wildcard-tls"
        assert sorted(tls["hosts"]) == sorted(r["host"] for r in ingress["spec"]["rules"])
