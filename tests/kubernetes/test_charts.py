"""Both charts lint and render with the real helm 4, and every object they render is valid for
Kubernetes 1.35 (strict: no unknown field) or, for Gateway API objects, for the Gateway API."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.kubernetes import tools

CHARTS = ["splits-network", "demo-orchestrator"]


def test_helm_is_helm_4(helm: Path) -> None:
    result = subprocess.run(
        [str(helm), "version", "--short"], capture_output=True, text=True, check=False
    )
    assert result.stdout.startswith("v4."), result.stdout


@pytest.mark.parametrize("values", ["values.yaml", "values-production.yaml"])
@pytest.mark.parametrize("chart", CHARTS)
def test_chart_lints_strictly(helm: Path, chart: str, values: str) -> None:
    path = tools.ROOT / "charts" / chart
    result = subprocess.run(
        [str(helm), "lint", "--strict", str(path), "--values", str(path / values)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


def test_both_charts_render_with_both_value_sets(
    chart_sets: dict[str, list[dict[str, Any]]],
) -> None:
    assert sorted(chart_sets) == sorted(
        f"{chart}:{values}" for chart in CHARTS for values in ("default", "production")
    )
    kinds = {key: {obj["kind"] for obj in objects} for key, objects in chart_sets.items()}
    assert {"Deployment", "Service", "StatefulSet", "Job", "HTTPRoute"} <= kinds[
        "splits-network:default"
    ]
    assert "Ingress" in kinds["splits-network:production"]
    assert {"Deployment", "ClusterRole", "PodDisruptionBudget", "HTTPRoute"} <= kinds[
        "demo-orchestrator:default"
    ]
    assert "Ingress" in kinds["demo-orchestrator:production"]


@pytest.mark.parametrize("key", [f"{c}:{v}" for c in CHARTS for v in ("default", "production")])
def test_every_chart_object_is_valid_for_kubernetes_1_35(
    chart_sets: dict[str, list[dict[str, Any]]], key: str
) -> None:
    assert tools.kubernetes_errors(chart_sets[key]) == []


def test_chart_gateway_api_objects_are_valid(
    chart_sets: dict[str, list[dict[str, Any]]], gateway_api: Path
) -> None:
    objects = [obj for objects in chart_sets.values() for obj in objects]
    assert sum(tools.is_gateway_api(obj) for obj in objects) >= 4
    assert tools.gateway_api_errors(gateway_api, objects) == []


def test_the_validators_catch_what_they_should(gateway_api: Path) -> None:
    """Negative controls: the checks above would fail on a broken object."""
    bad_field = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "x"},
        "spec": {"ports": [{"port": 80}], "typo": True},
    }
    bad_type = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {"replicas": "two", "selector": {}, "template": {}},
    }
    unknown = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "x"}}
    assert len(tools.kubernetes_errors([bad_field, bad_type, unknown])) == 3
    bad_route = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "x"},
        "spec": {
            "hostnames": ["Not A Host"],
            "rules": [{"backendRefs": [{"name": "a", "port": "80"}]}],
        },
    }
    assert len(tools.gateway_api_errors(gateway_api, [bad_route])) == 1


def test_a_chart_refuses_an_ingress_without_tls(helm: Path) -> None:
    result = subprocess.run(
        [
            str(helm),
            "template",
            "x",
            str(tools.ROOT / "charts" / "splits-network"),
            "--set",
            "routes.kind=ingress",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "needs TLS" in result.stderr
