"""The `kubernetes` runtime provider against the fake API server (tests/fakes/kube_api.py),
reached over real HTTP through a kubeconfig file, as a cluster would be: a demo becomes its
namespace with fence and stack, routes come once the stack is available, extend moves the
expiry annotation, teardown removes everything (or reports a namespace stuck in Terminating),
the orphan sweep finds our namespaces, and API errors map to temporary or permanent ones.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from demo_orchestrator.domain.blueprint import Blueprint, load_blueprint
from demo_orchestrator.domain.errors import NotFound, NotReady, PermanentError, TemporaryError
from demo_orchestrator.providers.base import Health, InstanceSpec, RuntimeProvider
from demo_orchestrator.providers.kubernetes.cluster import FIELD_MANAGER, ClusterUnreachable
from demo_orchestrator.providers.kubernetes.runtime import KubernetesRuntime
from demo_orchestrator.providers.kubernetes.settings import KubernetesSettings, SharedDataServers
from demo_orchestrator.providers.registry import provider_classes
from tests.fakes.kube_api import ApiAnswer, FakeKubeApi
from tests.kubernetes import tools

ID = "demo-abc123"
OWNER = "tst"
NS = ("api/v1", "", "namespaces", ID)


@pytest.fixture
def fake() -> Iterator[FakeKubeApi]:
    api = FakeKubeApi(terminating_seconds=0.05)
    api.start()
    yield api
    api.stop()


@pytest.fixture(scope="module")
def blueprint() -> Blueprint:
    return load_blueprint(tools.ROOT / "blueprints" / "splits-network.yaml")


def make_runtime(kubeconfig: Path, helm: Path, **settings: object) -> KubernetesRuntime:
    return KubernetesRuntime(
        settings=KubernetesSettings(kubeconfig=kubeconfig, helm=str(helm), **settings),
        servers=SharedDataServers(),
        base_domain="demo.example.com",
        owner=OWNER,
        secret_key="test-secret-key-for-derived-passwords",
        max_hours=8,
    )


@pytest.fixture
def runtime(fake: FakeKubeApi, helm: Path, tmp_path: Path) -> Iterator[KubernetesRuntime]:
    provider = make_runtime(fake.kubeconfig(tmp_path / "kubeconfig"), helm)
    yield provider
    provider.close()


def spec_of(blueprint: Blueprint, expires: datetime, instance_id: str = ID) -> InstanceSpec:
    scenario = blueprint.scenario("agency")
    assert scenario is not None
    return InstanceSpec(
        instance_id=instance_id,
        blueprint=blueprint,
        scenario=scenario,
        env={"DEMO_EXPIRES_AT": expires.isoformat()},
    )


def in_two_hours() -> datetime:
    return (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)


def stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def ready_once_watched(runtime: KubernetesRuntime, instance_id: str = ID) -> Health:
    """`check_ready` once the watch has delivered the change (it streams, it is not read
    back at each call): healthy within a few seconds, or the last answer."""
    deadline = time.monotonic() + 5
    while True:
        health = runtime.check_ready(instance_id=instance_id)
        if health.healthy or time.monotonic() > deadline:
            return health
        time.sleep(0.01)


def destroy_until_gone(runtime: KubernetesRuntime, instance_id: str = ID) -> None:
    deadline = time.monotonic() + 5
    while True:
        try:
            runtime.destroy(instance_id=instance_id)
            return
        except NotReady:
            assert time.monotonic() < deadline, "namespace still terminating after 5 s"
            time.sleep(0.02)


def test_is_registered_as_a_runtime_provider() -> None:
    classes, broken = provider_classes()
    assert "kubernetes" not in broken, broken.get("kubernetes")
    assert classes["kubernetes"] is KubernetesRuntime
    assert issubclass(KubernetesRuntime, RuntimeProvider)
    assert KubernetesRuntime.kind == "runtime"


def test_a_demo_becomes_its_fenced_namespace_with_the_stack(
    fake: FakeKubeApi, runtime: KubernetesRuntime, blueprint: Blueprint
) -> None:
    expires = in_two_hours()
    outputs = runtime.ensure(spec=spec_of(blueprint, expires))

    namespace = fake.get(*NS)
    assert namespace is not None
    labels = namespace["metadata"]["labels"]
    assert labels["app.kubernetes.io/managed-by"] == "demo-orchestrator"
    assert labels["demo-orchestrator/instance"] == ID
    assert labels["demo-orchestrator/owner"] == OWNER
    assert namespace["metadata"]["annotations"]["janitor/expires"] == stamp(expires)
    names = fake.names(ID)
    for fence in [
        ("resourcequotas", "demo-quota"),
        ("limitranges", "demo-limits"),
        ("networkpolicies", "default-deny"),
        ("networkpolicies", "allow-dns"),
    ]:
        assert fence in names
    for stack in [("deployments", "app"), ("services", "app"), ("secrets", "postgresql")]:
        assert stack in names
    # Routes wait for the stack to be available.
    assert not {n for n in names if n[0] == "httproutes"}
    assert outputs.state["services"]["portal"] == {
        "host": f"app.{ID}.svc.cluster.local",
        "port": 8080,
    }
    # Every write was a server-side apply under our own field manager.
    patches = [r for r in fake.requests if r[0] == "PATCH"]
    assert patches
    for _, _, query, content_type in patches:
        assert content_type.startswith("application/apply-patch+yaml")
        assert query["fieldManager"] == [FIELD_MANAGER]
    assert not [r for r in fake.requests if r[0] in ("POST", "PUT")]


def test_routes_are_applied_only_once_the_deployments_are_available(
    fake: FakeKubeApi, runtime: KubernetesRuntime, blueprint: Blueprint
) -> None:
    runtime.ensure(spec=spec_of(blueprint, in_two_hours()))
    health = runtime.check_ready(instance_id=ID)
    assert not health.healthy
    assert "app 0/1 available" in health.detail
    assert not [n for n in fake.names(ID) if n[0] == "httproutes"]

    lists = _deployment_lists(fake)
    fake.set_available(ID, "app")
    health = ready_once_watched(runtime)
    assert health.healthy, health.detail
    # The health gate learnt it from the watch: no LIST of Deployments after the first look.
    assert _deployment_lists(fake) == lists
    assert {n for n in fake.names(ID) if n[0] == "httproutes"} == {
        ("httproutes", "portal"),
        ("httproutes", "candidate"),
    }
    route = fake.get("apis/gateway.networking.k8s.io/v1", ID, "httproutes", "portal")
    assert route is not None
    assert route["spec"]["hostnames"] == [f"{ID}.portal.demo.example.com"]


def _deployment_lists(fake: FakeKubeApi) -> int:
    return len(
        [
            r
            for r in fake.requests
            if r[0] == "GET" and r[1].endswith(f"/{ID}/deployments") and "watch" not in r[2]
        ]
    )


def test_a_failed_rollout_is_a_temporary_error(
    fake: FakeKubeApi, runtime: KubernetesRuntime, blueprint: Blueprint
) -> None:
    runtime.ensure(spec=spec_of(blueprint, in_two_hours()))
    key = ("apis/apps/v1", ID, "deployments", "app")
    fake.objects[key]["status"]["conditions"] = [
        {
            "type": "Progressing",
            "status": "False",
            "reason": "ProgressDeadlineExceeded",
            "message": 'ReplicaSet "app-1" has timed out progressing.',
        }
    ]
    with pytest.raises(TemporaryError, match="Deployment demo-abc123/app did not roll out"):
        runtime.check_ready(instance_id=ID)


def test_ensure_again_is_idempotent_and_prunes_what_is_no_longer_rendered(
    fake: FakeKubeApi, runtime: KubernetesRuntime, blueprint: Blueprint
) -> None:
    spec = spec_of(blueprint, in_two_hours())
    runtime.ensure(spec=spec)
    before = fake.names(ID)
    # Something of ours the chart no longer renders (an old release's object) ...
    fake.objects[("api/v1", ID, "configmaps", "leftover")] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "leftover",
            "namespace": ID,
            "labels": {"demo-orchestrator/instance": ID},
        },
    }
    # ... and something someone else put there without our label.
    fake.objects[("api/v1", ID, "configmaps", "theirs")] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "theirs", "namespace": ID, "labels": {}},
    }
    outputs = runtime.ensure(spec=spec)
    assert "pruned 1" in outputs.message
    assert fake.names(ID) == before | {("configmaps", "theirs")}


def test_our_fields_win_over_another_managers_edit(
    fake: FakeKubeApi, runtime: KubernetesRuntime, blueprint: Blueprint
) -> None:
    spec = spec_of(blueprint, in_two_hours())
    runtime.ensure(spec=spec)
    key = ("apis/apps/v1", ID, "deployments", "app")
    # Someone applies replicas: 3 by hand with --force-conflicts, taking spec.replicas over.
    status, _ = fake.handle(
        "PATCH",
        f"/apis/apps/v1/namespaces/{ID}/deployments/app?fieldManager=kubectl&force=true",
        "application/apply-patch+yaml",
        b'{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "app"}, '
        b'"spec": {"replicas": 3}}',
        f"Bearer {fake.token}",
    )
    assert status == 200
    assert fake.objects[key]["spec"]["replicas"] == 3
    runtime.ensure(spec=spec)
    assert fake.objects[key]["spec"]["replicas"] == 1


def test_the_fake_answers_a_conflict_without_force(fake: FakeKubeApi) -> None:
    """Server-side apply semantics the runtime relies on: a field owned by another manager with
    another value is a 409 unless forced."""
    body = b'{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x", "labels": {"a": "%s"}}}'
    auth = f"Bearer {fake.token}"
    path = "/api/v1/namespaces/x?fieldManager="
    assert (
        fake.handle("PATCH", path + "one", "application/apply-patch+yaml", body % b"1", auth)[0]
        == 201
    )
    with pytest.raises(ApiAnswer) as conflict:
        fake.handle("PATCH", path + "two", "application/apply-patch+yaml", body % b"2", auth)
    assert conflict.value.code == 409
    assert 'conflict with "one"' in conflict.value.message
    code, obj = fake.handle(
        "PATCH", path + "two&force=true", "application/apply-patch+yaml", body % b"2", auth
    )
    assert code == 200 and obj["metadata"]["labels"]["a"] == "2"


def test_extend_moves_the_expiry_annotation(
    fake: FakeKubeApi, runtime: KubernetesRuntime, blueprint: Blueprint
) -> None:
    runtime.ensure(spec=spec_of(blueprint, in_two_hours()))
    later = in_two_hours() + timedelta(hours=3)
    runtime.set_expiry(instance_id=ID, expires_at=later)
    namespace = fake.get(*NS)
    assert namespace is not None
    assert namespace["metadata"]["annotations"]["janitor/expires"] == stamp(later)
    # The labels the apply set are untouched.
    assert namespace["metadata"]["labels"]["demo-orchestrator/instance"] == ID


def test_teardown_deletes_the_namespace_and_everything_in_it(
    fake: FakeKubeApi, runtime: KubernetesRuntime, blueprint: Blueprint
) -> None:
    runtime.ensure(spec=spec_of(blueprint, in_two_hours()))
    fake.set_available(ID, "app")
    assert runtime.check_ready(instance_id=ID).healthy
    fake.terminating_seconds = 0.5
    watches = fake.watches_served
    runtime.destroy(instance_id=ID)  # watched until gone: no second look needed
    assert fake.watches_served > watches
    assert fake.get(*NS) is None
    assert fake.names(ID) == set()
    runtime.destroy(instance_id=ID)  # already gone is success
    assert runtime.owned() == set()


def test_a_namespace_stuck_in_terminating_is_reported_with_its_conditions(
    fake: FakeKubeApi, runtime: KubernetesRuntime, blueprint: Blueprint
) -> None:
    runtime.ensure(spec=spec_of(blueprint, in_two_hours()))
    fake.stick(ID, finalizer="example.com/backup")
    fake.terminating_seconds = 0.5
    # The watch of the deleted namespace sees the namespace controller give its reasons.
    with pytest.raises(TemporaryError) as stuck:
        runtime.destroy(instance_id=ID)
    assert not isinstance(stuck.value, NotReady)
    assert f"namespace {ID} is stuck in Terminating" in stuck.value.detail
    assert "NamespaceFinalizersRemaining" in stuck.value.detail
    assert "example.com/backup" in stuck.value.detail
    # It stays ours for the orphan sweep, and a new demo cannot reuse it meanwhile.
    assert runtime.owned() == {ID}
    with pytest.raises(TemporaryError, match="stuck in Terminating"):
        runtime.ensure(spec=spec_of(blueprint, in_two_hours()))
    fake.unstick(ID)
    destroy_until_gone(runtime)


def test_orphan_sweep_lists_only_our_namespaces(
    fake: FakeKubeApi, runtime: KubernetesRuntime, blueprint: Blueprint, helm: Path, tmp_path: Path
) -> None:
    runtime.ensure(spec=spec_of(blueprint, in_two_hours()))
    runtime.ensure(spec=spec_of(blueprint, in_two_hours(), instance_id="demo-zzz999"))
    other = make_runtime(fake.kubeconfig(tmp_path / "other"), helm)
    other.owner = "someone"
    try:
        assert other.owned() == set()
    finally:
        other.close()
    assert runtime.owned() == {ID, "demo-zzz999"}
    destroy_until_gone(runtime, "demo-zzz999")
    assert runtime.owned() == {ID}


@pytest.mark.parametrize(
    ("code", "error", "temporary"),
    [
        (409, "Conflict", True),
        (429, "TooManyRequests", True),
        (500, "InternalError", True),
        (503, "ServiceUnavailable", True),
        (403, "Forbidden", False),
        (422, "Invalid", False),
    ],
)
def test_api_errors_map_to_temporary_or_permanent_naming_the_object(
    fake: FakeKubeApi,
    runtime: KubernetesRuntime,
    blueprint: Blueprint,
    code: int,
    error: str,
    temporary: bool,
) -> None:
    fake.fail(code, method="PATCH", path_contains="/resourcequotas/", retry_after=7)
    with pytest.raises((TemporaryError, PermanentError)) as raised:
        runtime.ensure(spec=spec_of(blueprint, in_two_hours()))
    assert isinstance(raised.value, TemporaryError) is temporary
    assert f"ResourceQuota {ID}/demo-quota" in raised.value.detail
    assert f"{code} {error}" in raised.value.detail
    if code == 429:
        assert isinstance(raised.value, TemporaryError) and raised.value.delay == 7
    runtime.ensure(spec=spec_of(blueprint, in_two_hours()))  # the next attempt goes through


def test_an_unreachable_cluster_is_a_temporary_error_naming_it(
    blueprint: Blueprint, helm: Path, tmp_path: Path
) -> None:
    dead = FakeKubeApi()
    dead.start()
    kubeconfig = dead.kubeconfig(tmp_path / "kubeconfig", context="gone-cluster")
    dead.stop()
    provider = make_runtime(kubeconfig, helm, api_timeout_seconds=2)
    try:
        with pytest.raises(ClusterUnreachable, match="gone-cluster"):
            provider.owned()
    finally:
        provider.close()


def test_a_missing_kubeconfig_is_a_permanent_error_saying_what_to_set(
    blueprint: Blueprint, helm: Path, tmp_path: Path
) -> None:
    provider = make_runtime(tmp_path / "nothing-here", helm)
    try:
        with pytest.raises(PermanentError, match="DEMO_KUBERNETES_KUBECONFIG"):
            provider.owned()
    finally:
        provider.close()


def test_a_cluster_without_the_gateway_api_is_a_permanent_error_saying_what_to_do(
    fake: FakeKubeApi, runtime: KubernetesRuntime, blueprint: Blueprint
) -> None:
    runtime.ensure(spec=spec_of(blueprint, in_two_hours()))
    fake.set_available(ID, "app")
    fake.fail(
        404,
        method="PATCH",
        path_contains="/httproutes/",
        message="the server could not find the requested resource",
    )
    with pytest.raises(PermanentError, match="DEMO_KUBERNETES_ROUTE_KIND=ingress") as refused:
        runtime.check_ready(instance_id=ID)
    assert f"HTTPRoute {ID}/portal" in refused.value.detail


def test_extend_of_a_namespace_that_is_gone_is_a_permanent_error(
    runtime: KubernetesRuntime,
) -> None:
    with pytest.raises(PermanentError, match=f"Namespace {ID}"):
        runtime.set_expiry(instance_id=ID, expires_at=in_two_hours())


@pytest.mark.parametrize("dies_at", [1, 2, 5, 12, 20])
def test_a_deploy_cut_short_at_any_write_is_finished_by_the_next_process(
    fake: FakeKubeApi, blueprint: Blueprint, helm: Path, tmp_path: Path, dies_at: int
) -> None:
    """The orchestrator dies after `dies_at` writes of a deploy; a new process (nothing in
    memory) runs the step again and the demo ends as if nothing had happened."""
    kubeconfig = fake.kubeconfig(tmp_path / "kubeconfig")
    spec = spec_of(blueprint, in_two_hours())
    reference = FakeKubeApi()
    reference.start()
    clean = make_runtime(reference.kubeconfig(tmp_path / "reference"), helm)
    try:
        clean.ensure(spec=spec)
        expected = reference.names(ID)
    finally:
        clean.close()
        reference.stop()

    first = make_runtime(kubeconfig, helm)
    writes = 0
    apply = first.cluster.apply

    def dying_apply(obj: dict[str, object], *, force: bool = True) -> dict[str, object]:
        nonlocal writes
        writes += 1
        if writes > dies_at:
            raise SystemExit("kill -9")  # escapes every handler, like the process ending
        return apply(obj, force=force)

    first.cluster.apply = dying_apply  # type: ignore[method-assign]
    try:
        with pytest.raises(SystemExit):
            first.ensure(spec=spec)
    finally:
        first.close()
    assert fake.names(ID) < expected  # part of the demo only

    second = make_runtime(kubeconfig, helm)
    try:
        second.ensure(spec=spec)
        assert fake.names(ID) == expected
        fake.set_available(ID, "app")
        assert second.check_ready(instance_id=ID).healthy
        destroy_until_gone(second)
        assert fake.names(ID) == set()
    finally:
        second.close()


def test_logs_are_the_newest_pod_of_the_service(
    fake: FakeKubeApi, runtime: KubernetesRuntime, blueprint: Blueprint
) -> None:
    runtime.ensure(spec=spec_of(blueprint, in_two_hours()))
    labels = {"demo-orchestrator/instance": ID, "app.kubernetes.io/name": "app"}
    for pod, created in (("app-old", "2026-11-27T10:00:00Z"), ("app-new", "2026-11-27T11:00:00Z")):
        fake.objects[("api/v1", ID, "pods", pod)] = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": pod,
                "namespace": ID,
                "labels": labels,
                "creationTimestamp": created,
            },
        }
    fake.pod_logs[(ID, "app-old")] = "old\n"
    fake.pod_logs[(ID, "app-new")] = "one\ntwo\nthree\n"
    assert runtime.logs(instance_id=ID, service="app", tail=2) == "two\nthree\n"
    with pytest.raises(NotFound, match="no pod of service 'worker'.*services: app"):
        runtime.logs(instance_id=ID, service="worker", tail=10)


def test_the_demo_gets_the_orchestrators_sign_in_key_and_its_prospect(
    fake: FakeKubeApi, runtime: KubernetesRuntime, blueprint: Blueprint
) -> None:
    """The persona and rep sign-in links the orchestrator signs must work in the pods, and the
    prospect given on create is woven in as with the local runtime."""
    spec = spec_of(blueprint, in_two_hours())
    env = {
        **spec.env,
        "DEMO_LOGIN_SECRET": "key-the-orchestrator-signs-links-with",
        "DEMO_PROSPECT_COMPANY": "Acme Robotics",
        "DEMO_PROSPECT_INDUSTRY": "Manufacturing",
        "DATABASE_URL": "sqlite:////not/for/the/cluster.db",
    }
    runtime.ensure(spec=InstanceSpec(ID, spec.blueprint, spec.scenario, env))
    secret = fake.get("api/v1", ID, "secrets", "demo-secrets")
    assert secret is not None
    values = secret.get("stringData") or {}
    assert values["DEMO_LOGIN_SECRET"] == "key-the-orchestrator-signs-links-with"
    config = fake.get("api/v1", ID, "configmaps", "demo-env")
    assert config is not None
    assert config["data"]["DEMO_PROSPECT_COMPANY"] == "Acme Robotics"
    assert config["data"]["DEMO_PROSPECT_INDUSTRY"] == "Manufacturing"
    assert "DATABASE_URL" not in config["data"]


# -- engagement reports (engine/activity_log.py): the URL in the ConfigMap, the token in the
# Secret, and one NetworkPolicy out to the orchestrator's namespace on its port, only when asked.

ORCHESTRATOR_URL = "http://demo-orchestrator.demo-orchestrator.svc"


def _activity_policy(fake: FakeKubeApi) -> dict[str, Any] | None:
    return fake.get("apis/networking.k8s.io/v1", ID, "networkpolicies", "allow-activity-reports")


def test_a_reporting_demo_gets_the_url_its_token_and_a_way_out_to_the_orchestrator(
    fake: FakeKubeApi,
    runtime: KubernetesRuntime,
    blueprint: Blueprint,
) -> None:
    spec = spec_of(blueprint, in_two_hours())
    env = {
        **spec.env,
        "DEMO_ORCHESTRATOR_URL": ORCHESTRATOR_URL,
        "DEMO_ACTIVITY_TOKEN": "token-of-the-demo",
    }
    runtime.ensure(spec=InstanceSpec(ID, spec.blueprint, spec.scenario, env))
    config = fake.get("api/v1", ID, "configmaps", "demo-env")
    assert config is not None and config["data"]["DEMO_ORCHESTRATOR_URL"] == ORCHESTRATOR_URL
    assert "DEMO_ACTIVITY_TOKEN" not in config["data"]
    secret = fake.get("api/v1", ID, "secrets", "demo-secrets")
    assert secret is not None
    assert (secret.get("stringData") or {})["DEMO_ACTIVITY_TOKEN"] == "token-of-the-demo"
    assert ("networkpolicies", "allow-activity-reports") in fake.names(ID)
    policy = _activity_policy(fake)
    assert policy is not None
    assert policy["spec"]["egress"] == [
        {
            "to": [
                {
                    "namespaceSelector": {
                        "matchLabels": {"kubernetes.io/metadata.name": "demo-orchestrator"}
                    }
                }
            ],
            "ports": [{"protocol": "TCP", "port": 8000}],
        }
    ]


def test_a_demo_that_does_not_report_gets_no_way_out(
    fake: FakeKubeApi,
    runtime: KubernetesRuntime,
    blueprint: Blueprint,
) -> None:
    spec = spec_of(blueprint, in_two_hours())
    runtime.ensure(spec=spec)
    names = fake.names(ID)
    assert ("networkpolicies", "default-deny") in names
    assert ("networkpolicies", "allow-activity-reports") not in names
    assert _activity_policy(fake) is None
