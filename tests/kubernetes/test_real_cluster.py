"""The whole lifecycle of one demo on a real cluster (the rollout learnt through a watch, the
deleted namespace watched until gone): opt-in, only when KUBECONFIG is set (kind or
k3d on a laptop; see the README's Kubernetes section for the steps). Skipped otherwise: no cluster
runs on the machines the rest of the suite runs on.

The stack image must be pullable by the cluster (`DEMO_KUBERNETES_IMAGE`, e.g. loaded with
`kind load docker-image splits-stack:0.1.0`); the demo's namespace is deleted at the end, also
when the test fails.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from demo_orchestrator.domain.blueprint import load_blueprint
from demo_orchestrator.domain.errors import TemporaryError
from demo_orchestrator.providers.base import InstanceSpec
from demo_orchestrator.providers.kubernetes.runtime import KubernetesRuntime
from demo_orchestrator.providers.kubernetes.settings import KubernetesSettings, SharedDataServers
from tests.kubernetes import tools

pytestmark = pytest.mark.skipif(
    not os.environ.get("KUBECONFIG"),
    reason="opt-in: set KUBECONFIG to a test cluster (kind, k3d) to run the real-cluster lifecycle",
)
READY_WITHIN_SECONDS = float(os.environ.get("TEST_KUBERNETES_READY_SECONDS", "300"))
GONE_WITHIN_SECONDS = 120.0


@pytest.fixture
def runtime(helm: Path) -> Iterator[KubernetesRuntime]:
    provider = KubernetesRuntime(
        settings=KubernetesSettings(kubeconfig=Path(os.environ["KUBECONFIG"]), helm=str(helm)),
        servers=SharedDataServers(),
        base_domain=os.environ.get("DEMO_BASE_DOMAIN", "demo.example.com"),
        owner="e2e" + secrets.token_hex(2),
        secret_key=secrets.token_hex(16),
        max_hours=1,
    )
    yield provider
    provider.close()


def _until(what: str, seconds: float, check: object) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if callable(check) and check():
                return
        except TemporaryError as exc:  # NotReady included: what the engine would ask again
            last = exc.detail
        else:
            last = "not yet"
        assert time.monotonic() < deadline, f"{what} not within {seconds:g} s: {last}"
        time.sleep(2)


def test_a_demo_on_a_real_cluster_from_create_to_gone(runtime: KubernetesRuntime) -> None:
    blueprint = load_blueprint(tools.ROOT / "blueprints" / "splits-network.yaml")
    scenario = blueprint.scenario("agency")
    assert scenario is not None
    instance_id = f"demo-{secrets.token_hex(3)}"
    expires = datetime.now(UTC) + timedelta(hours=1)
    spec = InstanceSpec(
        instance_id=instance_id,
        blueprint=blueprint,
        scenario=scenario,
        env={"DEMO_EXPIRES_AT": expires.isoformat()},
    )
    woken: list[str] = []
    runtime.on_change(woken.append)  # the engine's hook: what the rollout watch reports
    try:
        runtime.ensure(spec=spec)
        assert instance_id in runtime.owned()
        first = runtime.check_ready(instance_id=instance_id)  # starts the watch
        if not first.healthy:
            assert runtime.rollouts.watching() == {instance_id}
        _until(
            "Deployments available and routes applied",
            READY_WITHIN_SECONDS,
            lambda: runtime.check_ready(instance_id=instance_id).healthy,
        )
        # Readiness came from the watch (its LIST, then its events), which ends once ready.
        assert woken and set(woken) == {instance_id}
        assert runtime.rollouts.watching() == set()
        runtime.set_expiry(instance_id=instance_id, expires_at=expires + timedelta(minutes=30))
        runtime.ensure(spec=spec)  # again: idempotent, nothing pruned
    finally:

        def gone() -> bool:
            runtime.destroy(instance_id=instance_id)
            return True

        _until("namespace gone", GONE_WITHIN_SECONDS, gone)
    assert instance_id not in runtime.owned()
