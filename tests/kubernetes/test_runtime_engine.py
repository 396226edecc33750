"""The engine driving the `kubernetes` runtime against the fake API server: a demo created
through the service becomes ready (fence, stack, then routes once the stack is available), a
temporary API failure is retried, an orchestrator restarted mid-plan resumes, and delete removes
the namespace. The other slots (database, cache, broker) are the engine's fakes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from demo_orchestrator.bootstrap import Orchestrator, bootstrap
from demo_orchestrator.domain.blueprint import load_blueprint
from demo_orchestrator.domain.errors import Conflict
from demo_orchestrator.engine.service import CreateInstance
from demo_orchestrator.providers.kubernetes.runtime import KubernetesRuntime
from demo_orchestrator.providers.kubernetes.settings import KubernetesSettings, SharedDataServers
from demo_orchestrator.settings import Settings
from tests.fakes.engine import (
    ADMIN,
    FakeClock,
    FakeDatabase,
    FakeService,
    InlineExecutor,
    Journal,
    _migrated_store,
)
from tests.fakes.kube_api import FakeKubeApi
from tests.kubernetes import tools


class KubeRig:
    """An in-process orchestrator whose runtime is the real provider on the fake API server."""

    def __init__(self, home: Path, fake: FakeKubeApi, helm: Path, clock: FakeClock) -> None:
        self.clock = clock
        self.journal: Journal = []
        self.runtime = KubernetesRuntime(
            settings=KubernetesSettings(
                kubeconfig=fake.kubeconfig(home / "kubeconfig"), helm=str(helm)
            ),
            servers=SharedDataServers(),
            base_domain="demo.example.com",
            owner="rig",
            secret_key="engine-test-secret-key-0123",
            max_hours=8,
        )
        blueprint = load_blueprint(tools.ROOT / "blueprints" / "splits-network.yaml")
        self.orchestrator: Orchestrator = bootstrap(
            Settings(
                home=home,
                blueprint=blueprint.name,
                retry_base_seconds=0.2,
                step_retries=3,
                health_timeout_seconds=30.0,
                prebuild_templates=False,
                admin_token="test-admin-token-0123456789",
            ),
            runtime=self.runtime,
            database=FakeDatabase(self.journal),
            cache=FakeService(self.journal, "cache"),
            broker=FakeService(self.journal, "broker"),
            blueprints={blueprint.name: blueprint},
            clock=clock,
            executor=InlineExecutor(),
        )
        _migrated_store(home, self.orchestrator)

    def create(self) -> str:
        instance, _ = self.orchestrator.instances.create(ADMIN, CreateInstance(duration_hours=1))
        return str(instance["id"])

    def get(self, instance_id: str) -> dict[str, Any]:
        return self.orchestrator.instances.get(ADMIN, instance_id)

    def settle(self, seconds: float = 60.0) -> None:
        reconciler = self.orchestrator.reconciler
        deadline = self.clock() + timedelta(seconds=seconds)
        reconciler.run_until_idle()
        while True:
            due = reconciler.next_due()
            if due is None or due > deadline:
                reconciler.run_until_idle()
                return
            self.clock.now = max(self.clock.now, due)
            reconciler.run_until_idle()

    def close(self) -> None:
        self.orchestrator.reconciler.stop()
        self.orchestrator.ctx.db.dispose()
        self.runtime.close()


@pytest.fixture
def fake() -> Iterator[FakeKubeApi]:
    api = FakeKubeApi(terminating_seconds=0, auto_available=True)
    api.start()
    yield api
    api.stop()


@pytest.fixture
def rig(tmp_path: Path, fake: FakeKubeApi, helm: Path) -> Iterator[KubeRig]:
    made = KubeRig(tmp_path, fake, helm, FakeClock())
    yield made
    made.close()


def test_a_created_demo_becomes_ready_in_its_namespace_then_delete_removes_it(
    rig: KubeRig, fake: FakeKubeApi
) -> None:
    instance_id = rig.create()
    rig.settle()
    instance = rig.get(instance_id)
    assert instance["status"] == "ready", instance
    names = fake.names(instance_id)
    assert {("deployments", "app"), ("httproutes", "portal"), ("httproutes", "candidate")} <= names
    namespace = fake.get("api/v1", "", "namespaces", instance_id)
    assert namespace is not None and "janitor/expires" in namespace["metadata"]["annotations"]
    assert rig.runtime.owned() == {instance_id}

    rig.orchestrator.instances.delete(ADMIN, instance_id)
    rig.settle()
    assert rig.get(instance_id)["status"] == "deleted"
    assert fake.get("api/v1", "", "namespaces", instance_id) is None
    assert fake.names(instance_id) == set()


def test_a_temporary_api_failure_is_retried(rig: KubeRig, fake: FakeKubeApi) -> None:
    fake.fail(503, method="PATCH", path_contains="/deployments/", times=1)
    instance_id = rig.create()
    rig.settle()
    instance = rig.get(instance_id)
    assert instance["status"] == "ready", instance
    deploy = next(s for s in instance["steps"] if s["name"] == "deploy")
    assert deploy["status"] == "done"


def test_a_restart_while_waiting_for_the_rollout_resumes_and_applies_the_routes(
    tmp_path: Path, fake: FakeKubeApi, helm: Path
) -> None:
    fake.auto_available = False
    clock = FakeClock()
    first = KubeRig(tmp_path, fake, helm, clock)
    instance_id = first.create()
    first.settle(seconds=1)
    assert first.get(instance_id)["status"] == "provisioning"
    assert not [n for n in fake.names(instance_id) if n[0] == "httproutes"]
    first.close()  # the orchestrator dies while the health gate waits

    fake.set_available(instance_id, "app")
    second = KubeRig(tmp_path, fake, helm, clock)  # same store: a restart
    try:
        second.settle()
        assert second.get(instance_id)["status"] == "ready"
        assert ("httproutes", "portal") in fake.names(instance_id)
    finally:
        second.close()


def test_reset_answers_409_saying_why(rig: KubeRig) -> None:
    instance_id = rig.create()
    rig.settle()
    with pytest.raises(Conflict) as refused:
        rig.orchestrator.instances.reset(ADMIN, instance_id)
    assert refused.value.status == 409
    assert f"reset of {instance_id} is not available with the kubernetes runtime" in (
        refused.value.detail
    )
    assert rig.get(instance_id)["status"] == "ready"


def test_sleep_scales_to_zero_keeping_the_data_and_wake_brings_it_back(
    rig: KubeRig, fake: FakeKubeApi
) -> None:
    instance_id = rig.create()
    rig.settle()
    before = fake.names(instance_id)
    kept = {
        (plural, name) for plural, name in before if plural not in {"deployments", "httproutes"}
    }
    assert ("deployments", "app") in before and ("httproutes", "portal") in before
    # the in-namespace data stores, their secrets and the seed Job are what a sleep keeps
    assert {
        ("statefulsets", "postgresql"),
        ("secrets", "postgresql"),
        ("jobs", "migrate-seed"),
    } <= kept

    rig.orchestrator.instances.sleep(ADMIN, instance_id)
    rig.settle()
    assert rig.get(instance_id)["status"] == "sleeping"
    asleep = fake.names(instance_id)
    # nothing serves it (its hosts fall to the orchestrator's wildcard route, which wakes it) ...
    assert not {n for n in asleep if n[0] in {"deployments", "httproutes", "ingresses"}}
    # ... and everything else is still there: namespace, secrets, data stores, the seed Job
    assert kept <= asleep
    assert fake.get("api/v1", "", "namespaces", instance_id) is not None

    rig.orchestrator.instances.wake(ADMIN, instance_id)
    rig.settle()
    assert rig.get(instance_id)["status"] == "ready"
    assert before <= fake.names(instance_id)


def test_idle_demos_are_not_put_to_sleep(rig: KubeRig, fake: FakeKubeApi) -> None:
    """No request reaches the orchestrator's router for a demo the Gateway routes to directly:
    it cannot be seen idle, so it only sleeps when asked."""
    instance_id = rig.create()
    rig.settle()
    rig.clock.advance(30 * 60)  # twice DEMO_IDLE_MINUTES, within the hour it lives
    assert rig.orchestrator.reconciler.sleeper.idle(set()) == []  # the upkeep's idle look
    rig.settle()
    assert rig.get(instance_id)["status"] == "ready"
    assert fake.get("api/v1", "", "namespaces", instance_id) is not None


def test_healthz_answers_503_naming_the_cluster_while_its_api_cannot_be_reached(
    rig: KubeRig, fake: FakeKubeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    from starlette.testclient import TestClient

    from demo_orchestrator.app import create_app
    from demo_orchestrator.providers.kubernetes import runtime

    monkeypatch.setattr(runtime, "REACHABLE_CACHE_SECONDS", 0.0)  # look every time

    with TestClient(create_app(rig.orchestrator), base_url="http://localhost:8000") as client:
        ok = client.get("/healthz")
        assert ok.status_code == 200, ok.text
        fake.stop()
        down = client.get("/healthz")
    assert down.status_code == 503
    assert down.headers["content-type"].startswith("application/problem+json")
    detail = down.json()["detail"]
    assert detail.startswith("kubernetes runtime: ")
    assert f"cluster fake ({fake.url})" in detail and "cannot be reached" in detail


def test_a_create_waits_out_a_cluster_outage_and_healing_leaves_demos_alone(
    rig: KubeRig, fake: FakeKubeApi
) -> None:
    ready = rig.create()
    rig.settle()
    port = int(fake.url.rsplit(":", 1)[1])
    fake.stop()
    # Healing does not restart a demo because the control plane is away.
    assert rig.orchestrator.reconciler.heal() == []
    waiting = rig.create()
    rig.settle(seconds=30)
    instance = rig.get(waiting)
    assert instance["status"] == "provisioning", instance
    deploy = next(s for s in instance["steps"] if s["name"] == "deploy")
    assert "deploying waits for the cluster" in (deploy["message"] or ""), deploy
    assert deploy["retries"] == 0
    fake.start(port)  # the API is back
    rig.settle(seconds=30)
    assert rig.get(waiting)["status"] == "ready"
    assert rig.get(ready)["status"] == "ready"


def _annotation_becomes(fake: FakeKubeApi, instance_id: str, expected: str) -> None:
    deadline = time.monotonic() + 10
    while True:
        namespace = fake.get("api/v1", "", "namespaces", instance_id)
        assert namespace is not None
        found = namespace["metadata"]["annotations"]["janitor/expires"]
        if found == expected:
            return
        assert time.monotonic() < deadline, f"janitor/expires is {found}, not {expected}"
        time.sleep(0.02)


def _stamp(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_the_namespace_expiry_follows_the_demo_when_ready_and_after_each_extend(
    rig: KubeRig, fake: FakeKubeApi
) -> None:
    instance_id = rig.create()
    rig.settle()
    rig.orchestrator.feed.read_now()  # what the feed's reader thread does after each commit
    _annotation_becomes(fake, instance_id, _stamp(rig.get(instance_id)["expires_at"]))

    extended = rig.orchestrator.instances.extend(ADMIN, instance_id, 2)
    rig.orchestrator.feed.read_now()
    _annotation_becomes(fake, instance_id, _stamp(extended["expires_at"]))


def test_the_start_says_in_one_line_that_the_cluster_cannot_be_reached(
    rig: KubeRig, fake: FakeKubeApi, caplog: pytest.LogCaptureFixture
) -> None:
    fake.stop()
    caplog.set_level("WARNING", logger="demo_orchestrator.bootstrap")
    rig.orchestrator.start()
    rig.orchestrator.stop()
    lines = [r.getMessage() for r in caplog.records if r.name == "demo_orchestrator.bootstrap"]
    assert len(lines) == 1, lines
    assert lines[0].startswith("kubernetes runtime: ")
    assert "cluster fake" in lines[0] and "cannot be reached" in lines[0]


def test_a_watched_rollout_wakes_the_waiting_health_step_at_once(
    tmp_path: Path, fake: FakeKubeApi, helm: Path
) -> None:
    """The health gate waits on the watch: when the Deployment becomes available the engine's
    waiting step is due at once (its poll date moves to now), before any poll delay passes."""
    fake.auto_available = False
    rig = KubeRig(tmp_path, fake, helm, FakeClock())
    try:
        instance_id = rig.create()
        rig.settle(seconds=0)  # up to the health gate, which waits (the clock stands still)
        reconciler = rig.orchestrator.reconciler
        assert rig.get(instance_id)["status"] == "provisioning"
        assert rig.runtime.rollouts.watching() == {instance_id}
        due = reconciler._polls[instance_id]
        assert due > rig.clock()  # a poll later, as the engine would without the watch

        fake.set_available(instance_id, "app")
        deadline = time.monotonic() + 10
        while reconciler._polls.get(instance_id, due) > rig.clock():
            assert time.monotonic() < deadline, "the watch did not wake the step"
            time.sleep(0.01)
        reconciler.run_until_idle()  # the clock has not moved: it ran because it was woken
        assert rig.get(instance_id)["status"] == "ready"
        assert ("httproutes", "portal") in fake.names(instance_id)
        assert rig.runtime.rollouts.watching() == set()
    finally:
        rig.close()


def _api(rig: KubeRig) -> Any:
    from starlette.testclient import TestClient

    from demo_orchestrator.app import create_app

    rig.orchestrator.accounts.bootstrap()  # the admin token of the settings (what start does)
    return TestClient(
        create_app(rig.orchestrator),
        base_url="http://localhost:8000",
        headers={"Authorization": "Bearer test-admin-token-0123456789"},
    )


@pytest.mark.parametrize(
    ("method", "action", "body", "says"),
    [
        ("POST", "reset", None, "reset of {id} is not available with the kubernetes runtime"),
        (
            "POST",
            "rotate-links",
            None,
            "rotate-links of {id} is not available with the kubernetes runtime",
        ),
        (
            "POST",
            "share",
            {"mode": "read_only"},
            "sharing {id} is not available with the kubernetes runtime",
        ),
        (
            "DELETE",
            "share",
            None,
            "sharing {id} is not available with the kubernetes runtime",
        ),
    ],
)
def test_what_the_runtime_cannot_do_yet_answers_409_saying_what_to_do_instead(
    rig: KubeRig,
    fake: FakeKubeApi,
    method: str,
    action: str,
    body: dict[str, str] | None,
    says: str,
) -> None:
    instance_id = rig.create()
    rig.settle()
    before = fake.get("apis/apps/v1", instance_id, "deployments", "app")
    with _api(rig) as client:
        answer = client.request(method, f"/api/v1/demo-instances/{instance_id}/{action}", json=body)
    assert answer.status_code == 409, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    detail = answer.json()["detail"]
    assert says.format(id=instance_id) in detail
    assert "delete the demo and create a new one" in detail  # what to do instead
    # Nothing was half done: the demo is ready and untouched.
    assert rig.get(instance_id)["status"] == "ready"
    after = fake.get("apis/apps/v1", instance_id, "deployments", "app")
    assert after is not None and before is not None
    assert after["metadata"]["generation"] == before["metadata"]["generation"]


def test_a_warm_pool_demo_claimed_for_a_prospect_is_personalised_by_rolling_its_pods(
    rig: KubeRig, fake: FakeKubeApi
) -> None:
    from demo_orchestrator.providers.kubernetes.render import ENV_CHECKSUM

    rig.orchestrator.pool.set_target(ADMIN, "agency", 1)
    rig.orchestrator.pool.refill()
    rig.settle()
    (member,) = rig.runtime.owned()
    before = fake.get("apis/apps/v1", member, "deployments", "app")
    assert before is not None
    seed_job = fake.get("apis/batch/v1", member, "jobs", "migrate-seed")

    instance, _ = rig.orchestrator.instances.create(
        ADMIN,
        CreateInstance(duration_hours=1, prospect={"company": "Globex", "industry": "Energy"}),
    )
    assert instance["id"] == member  # claimed from the pool
    rig.settle()
    assert rig.get(member)["status"] == "ready"
    env = fake.get("api/v1", member, "configmaps", "demo-env")
    assert env is not None
    assert env["data"]["DEMO_PROSPECT_COMPANY"] == "Globex"
    after = fake.get("apis/apps/v1", member, "deployments", "app")
    assert after is not None
    # The new environment changed the pod template: the Deployment rolled (the stack weaves
    # the prospect in at start) ...
    old = before["spec"]["template"]["metadata"]["annotations"][ENV_CHECKSUM]
    assert after["spec"]["template"]["metadata"]["annotations"][ENV_CHECKSUM] != old
    assert after["metadata"]["generation"] > before["metadata"]["generation"]
    # ... and the seeded data was kept: the seed Job is the same one.
    job = fake.get("apis/batch/v1", member, "jobs", "migrate-seed")
    assert seed_job is not None and job is not None
    assert job["metadata"]["uid"] == seed_job["metadata"]["uid"]
