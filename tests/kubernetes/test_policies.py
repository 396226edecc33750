"""Policies on everything that would go into a demo's namespace: the rendered demos (every
scenario and route kind) and the charts. Each test fails if the fence, the sizing, the security
context, the secrecy or the hosts of a demo broke. The orchestrator's own chart: see
test_orchestrator_chart.py."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest

from demo_orchestrator.domain.blueprint import load_blueprint
from demo_orchestrator.engine.views import demo_urls
from demo_orchestrator.providers.kubernetes.redaction import secret_values
from demo_orchestrator.settings import Settings
from tests.kubernetes import tools
from tests.kubernetes.conftest import (
    DOMAIN,
    INGRESS_ISSUER,
    INGRESS_TLS,
    INSTANCE,
    ROUTE_KINDS,
    Rendered,
    RenderFn,
)

Obj = dict[str, Any]
WORKLOADS = {"Deployment": "replicas", "StatefulSet": "replicas", "Job": "parallelism"}
BLUEPRINT = load_blueprint(tools.ROOT / "blueprints" / "splits-network.yaml")


def pods(objects: list[Obj]) -> Iterator[tuple[Obj, Obj, int]]:
    """(workload, pod spec, pods it runs) of every workload."""
    for obj in objects:
        if obj["kind"] in WORKLOADS:
            count = obj["spec"].get(WORKLOADS[obj["kind"]], 1)
            yield obj, obj["spec"]["template"]["spec"], count


def containers(spec: Obj) -> Iterator[tuple[Obj, bool]]:
    for container in spec.get("initContainers", []):
        yield container, True
    for container in spec["containers"]:
        yield container, False


def all_sets(
    matrix: dict[tuple[str, str], Rendered], chart_sets: dict[str, list[Obj]]
) -> dict[str, list[Obj]]:
    rendered = {f"render:{s}:{k}": r.objects for (s, k), r in matrix.items()}
    return rendered | chart_sets


# -- the fence --------------------------------------------------------------------------------


def test_every_demo_namespace_is_fenced(matrix: dict[tuple[str, str], Rendered]) -> None:
    for key, rendered in matrix.items():
        objects = rendered.objects
        namespaces = [obj for obj in objects if obj["kind"] == "Namespace"]
        assert [ns["metadata"]["name"] for ns in namespaces] == [INSTANCE], key
        labels = namespaces[0]["metadata"]["labels"]
        assert labels["app.kubernetes.io/managed-by"] == "demo-orchestrator"
        assert labels["demo-orchestrator/instance"] == INSTANCE
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
        assert namespaces[0]["metadata"]["annotations"]["janitor/expires"].endswith("Z")
        for obj in objects[1:]:
            assert obj["metadata"]["namespace"] == INSTANCE, (key, obj["kind"])
            assert obj["metadata"]["labels"]["demo-orchestrator/instance"] == INSTANCE
            assert obj["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "demo-orchestrator"
        kinds = [obj["kind"] for obj in objects]
        assert kinds.count("ResourceQuota") == 1 and kinds.count("LimitRange") == 1, key
        # The fence is applied before anything that could run in the namespace.
        first_workload = min(kinds.index(k) for k in WORKLOADS if k in kinds)
        assert kinds.index("NetworkPolicy") < first_workload
        assert kinds.index("ResourceQuota") < first_workload


def _policies(objects: list[Obj]) -> dict[str, Obj]:
    return {
        obj["metadata"]["name"]: obj["spec"] for obj in objects if obj["kind"] == "NetworkPolicy"
    }


def test_network_policies_deny_by_default_and_open_only_the_listed_ways(
    matrix: dict[tuple[str, str], Rendered],
) -> None:
    for (_, kind), rendered in matrix.items():
        policies = _policies(rendered.objects)
        deny = policies["default-deny"]
        assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
        sources = {
            peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
            for spec in policies.values()
            for rule in spec.get("ingress", [])
            for peer in rule.get("from", [])
            if "namespaceSelector" in peer
        }
        gateway = "gateway-system" if kind == "httproute" else "ingress-nginx"
        assert sources == {gateway, "demo-orchestrator"}
        # Out: the namespace itself and the cluster DNS; nothing else without data servers.
        egress_peers = [
            peer
            for spec in policies.values()
            for rule in spec.get("egress", [])
            for peer in rule.get("to", [])
        ]
        assert {"podSelector": {}} in egress_peers
        dns = [p for p in egress_peers if "namespaceSelector" in p]
        assert dns == [
            {
                "namespaceSelector": {
                    "matchLabels": {"kubernetes.io/metadata.name": "kube-system"}
                },
                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
            }
        ]
        assert not any("ipBlock" in p for p in egress_peers)
        assert "allow-data-services" not in policies
        # Only pods that serve a route are open to the gateway, on their port.
        inbound = policies["allow-from-gateway-and-orchestrator"]
        assert inbound["podSelector"]["matchExpressions"][0]["values"] == ["app"]
        assert inbound["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 8080}]


# -- containers and sizes ----------------------------------------------------------------------


def test_every_container_is_sized_non_root_and_probed(
    matrix: dict[tuple[str, str], Rendered], chart_sets: dict[str, list[Obj]]
) -> None:
    checked = 0
    for key, objects in all_sets(matrix, chart_sets).items():
        for workload, spec, _ in pods(objects):
            pod_context = spec.get("securityContext", {})
            assert pod_context.get("runAsNonRoot") is True, (key, workload["metadata"]["name"])
            assert pod_context.get("runAsUser", 0) != 0
            assert pod_context.get("seccompProfile") == {"type": "RuntimeDefault"}
            for container, init in containers(spec):
                where = (key, workload["metadata"]["name"], container["name"])
                resources = container.get("resources", {})
                for bound in ("requests", "limits"):
                    assert set(resources.get(bound, {})) >= {"cpu", "memory"}, where
                context = container.get("securityContext", {})
                assert context.get("allowPrivilegeEscalation") is False, where
                assert context.get("capabilities", {}).get("drop") == ["ALL"], where
                assert context.get("runAsUser", 1) != 0 and context.get("privileged") is not True
                long_running = workload["kind"] != "Job" and not init
                if long_running:
                    assert "readinessProbe" in container and "livenessProbe" in container, where
                checked += 1
    assert checked > 60


def _cpu(value: str) -> float:
    return float(value[:-1]) / 1000 if value.endswith("m") else float(value)


def _memory(value: str) -> float:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    return float(value[:-2]) * units[value[-2:]] if value[-2:] in units else float(value)


def _pod_needs(spec: Obj, bound: str) -> tuple[float, float]:
    def total(items: list[Obj]) -> tuple[float, float]:
        cpu = sum(_cpu(c["resources"][bound]["cpu"]) for c in items)
        memory = sum(_memory(c["resources"][bound]["memory"]) for c in items)
        return cpu, memory

    main = total(spec["containers"])
    init = [total([c]) for c in spec.get("initContainers", [])]
    return max([main[0], *(i[0] for i in init)]), max([main[1], *(i[1] for i in init)])


def test_the_demo_fits_its_quota_and_limit_range(matrix: dict[tuple[str, str], Rendered]) -> None:
    for key, rendered in matrix.items():
        objects = rendered.objects
        quota = next(o for o in objects if o["kind"] == "ResourceQuota")["spec"]["hard"]
        limits = next(o for o in objects if o["kind"] == "LimitRange")["spec"]["limits"][0]
        all_pods = list(pods(objects))
        # One surge pod of the largest Deployment during a rolling update.
        surge = max(
            (spec for workload, spec, _ in all_pods if workload["kind"] == "Deployment"),
            key=lambda spec: _pod_needs(spec, "limits"),
        )
        assert sum(n for _, _, n in all_pods) + 1 <= int(quota["pods"]), key
        for bound in ("requests", "limits"):
            cpu = sum(_pod_needs(spec, bound)[0] * n for _, spec, n in all_pods)
            memory = sum(_pod_needs(spec, bound)[1] * n for _, spec, n in all_pods)
            cpu += _pod_needs(surge, bound)[0]
            memory += _pod_needs(surge, bound)[1]
            assert cpu <= _cpu(quota[f"{bound}.cpu"]), (key, bound, cpu)
            assert memory <= _memory(quota[f"{bound}.memory"]), (key, bound, memory)
        services = sum(o["kind"] == "Service" for o in objects)
        assert services <= int(quota["services"])
        for _, spec, _ in all_pods:
            for container, _ in containers(spec):
                assert _cpu(container["resources"]["limits"]["cpu"]) <= _cpu(limits["max"]["cpu"])
                assert _memory(container["resources"]["limits"]["memory"]) <= _memory(
                    limits["max"]["memory"]
                )


def test_quota_and_limits_come_from_the_blueprint(
    matrix: dict[tuple[str, str], Rendered],
) -> None:
    objects = matrix[("agency", "httproute")].objects
    quota = next(o for o in objects if o["kind"] == "ResourceQuota")["spec"]["hard"]
    sizes = BLUEPRINT.sizes
    assert quota["limits.cpu"] == f"{sizes.limits_cpu_m}m"
    assert quota["requests.memory"] == f"{sizes.requests_memory_mb}Mi"
    assert quota["persistentvolumeclaims"] == str(sizes.persistent_volume_claims)
    app = next(o for o in objects if o["kind"] == "Deployment")
    resources = app["spec"]["template"]["spec"]["containers"][0]["resources"]
    service = BLUEPRINT.services[0]
    assert resources == {
        "requests": {
            "cpu": f"{service.cpu_request_m}m",
            "memory": f"{service.memory_request_mb}Mi",
        },
        "limits": {"cpu": f"{service.cpu_limit_m}m", "memory": f"{service.memory_mb}Mi"},
    }


# -- secrets -----------------------------------------------------------------------------------


def _literals(objects: list[Obj]) -> list[str]:
    """Every place a value could leak besides a Secret: ConfigMaps, env literals, commands,
    annotations."""
    found: list[str] = []
    for obj in objects:
        if obj["kind"] == "ConfigMap":
            found += [str(v) for v in obj.get("data", {}).values()]
        found += [str(v) for v in obj["metadata"].get("annotations", {}).values()]
    for _, spec, _ in pods(objects):
        for container, _ in containers(spec):
            found += [str(e["value"]) for e in container.get("env", []) if "value" in e]
            found += [str(a) for a in container.get("command", []) + container.get("args", [])]
    return found


@pytest.mark.parametrize("kind", list(ROUTE_KINDS))
def test_no_secret_value_leaves_its_secret(render: RenderFn, kind: str) -> None:
    env = ROUTE_KINDS[kind]
    shown = render("--id", INSTANCE, env=env, show_secrets=True)
    values = [v for v in secret_values(shown.objects) if not v.startswith("<copied")]
    assert len(values) >= 8  # login key, three URLs, three passwords, redis.conf...
    literals = _literals(shown.objects)
    redacted = render("--id", INSTANCE, env=env)
    for value in values:
        assert not any(value in literal for literal in literals), value
        assert value not in redacted.stdout and value not in redacted.stderr
        assert base64.b64encode(value.encode()).decode() not in redacted.stdout
    secrets = [o for o in redacted.objects if o["kind"] == "Secret"]
    assert secrets and all(
        set(s["stringData"].values()) == {"<redacted>"} for s in secrets if "stringData" in s
    )
    # The same demo renders the same credentials (derived from DEMO_SECRET_KEY).
    again = render("--id", INSTANCE, "--hours", "1", env=env, show_secrets=True)
    assert secret_values(again.objects) == secret_values(shown.objects)


# -- hosts and TLS -------------------------------------------------------------------------------


def test_demo_hosts_are_the_engines_hosts(matrix: dict[tuple[str, str], Rendered]) -> None:
    settings = Settings(base_domain=DOMAIN, public_scheme="https", public_port=443)
    expected = {
        route: url.removeprefix("https://")
        for route, url in demo_urls(settings, BLUEPRINT, INSTANCE).items()
    }
    assert expected == {
        "portal": f"{INSTANCE}.portal.{DOMAIN}",
        "candidate": f"{INSTANCE}.candidate.{DOMAIN}",
    }
    for (_, kind), rendered in matrix.items():
        objects = rendered.objects
        config = next(o for o in objects if o["kind"] == "ConfigMap")["data"]
        assert config["DEMO_URL_PORTAL"] == f"https://{expected['portal']}"
        assert config["DEMO_URL_CANDIDATE"] == f"https://{expected['candidate']}"
        if kind == "httproute":
            routes = {o["metadata"]["name"]: o["spec"] for o in objects if o["kind"] == "HTTPRoute"}
            assert {name: spec["hostnames"] for name, spec in routes.items()} == {
                route: [host] for route, host in expected.items()
            }
            for spec in routes.values():
                assert spec["parentRefs"] == [
                    {
                        "group": "gateway.networking.k8s.io",
                        "kind": "Gateway",
                        "namespace": "gateway-system",
                        "name": "demo-gateway",
                    }
                ]
                assert spec["rules"][0]["backendRefs"] == [{"name": "app", "port": 8080}]
            continue
        ingresses = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Ingress"}
        assert set(ingresses) == set(expected)
        for route, ingress in ingresses.items():
            spec = ingress["spec"]
            assert [rule["host"] for rule in spec["rules"]] == [expected[route]]
            assert spec["tls"][0]["hosts"] == [expected[route]]
            annotations = ingress["metadata"].get("annotations", {})
            if kind == "ingress-cert-manager":
                assert annotations == {
                    "cert-manager.io/cluster-issuer": INGRESS_ISSUER[
                        "DEMO_KUBERNETES_CLUSTER_ISSUER"
                    ]
                }
                assert spec["tls"][0]["secretName"] == f"{route}-tls"
            else:
                assert annotations == {}
                copy = next(o for o in objects if o.get("type") == "kubernetes.io/tls")
                assert spec["tls"][0]["secretName"] == copy["metadata"]["name"]
                assert copy["metadata"]["annotations"]["demo-orchestrator/copied-from"].endswith(
                    INGRESS_TLS["DEMO_KUBERNETES_TLS_SECRET"]
                )
