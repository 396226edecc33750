"""`DEMO_TOUR` (domain/tour.py) reaches a Kubernetes demo the way its prospect does: in the demo's
ConfigMap, which every service's container reads (`envFrom`), as the same JSON the local runtime
writes into its settings file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from demo_orchestrator.domain.blueprint import load_blueprint
from demo_orchestrator.domain.tour import TOUR_ENV, tour_env
from demo_orchestrator.providers.base import InstanceSpec
from demo_orchestrator.providers.kubernetes.runtime import KubernetesRuntime
from demo_orchestrator.providers.kubernetes.settings import KubernetesSettings, SharedDataServers
from tests.fakes.kube_api import FakeKubeApi
from tests.kubernetes import tools

ID = "demo-tour01"


@pytest.fixture
def fake() -> Iterator[FakeKubeApi]:
    api = FakeKubeApi(terminating_seconds=0.05)
    api.start()
    yield api
    api.stop()


def test_the_tour_is_in_the_demos_config_map(fake: FakeKubeApi, helm: Path, tmp_path: Path) -> None:
    blueprint = load_blueprint(tools.ROOT / "blueprints" / "splits-network.yaml")
    scenario = blueprint.scenario("agency")
    assert scenario is not None
    runtime = KubernetesRuntime(
        settings=KubernetesSettings(
            kubeconfig=fake.kubeconfig(tmp_path / "kubeconfig"), helm=str(helm)
        ),
        servers=SharedDataServers(),
        base_domain="demo.example.com",
        owner="tst",
        secret_key="test-secret-key-for-derived-passwords",
        max_hours=8,
    )
    try:
        expires = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
        env = {"DEMO_EXPIRES_AT": expires.isoformat(), **tour_env(blueprint, scenario)}
        runtime.ensure(spec=InstanceSpec(ID, blueprint, scenario, env))
        config = fake.get("api/v1", ID, "configmaps", "demo-env")
        assert config is not None
        tour = json.loads(config["data"][TOUR_ENV])
        assert tour == json.loads(env[TOUR_ENV])
        assert tour[0]["step"] == 1 and tour[0]["talking_point"]
        assert {s["route"] for s in tour} <= set(blueprint.routes)
    finally:
        runtime.close()
