"""Harness of the `kubernetes` runtime: against the fake API server (tests/fakes/kube_api.py),
one per test, reached through a kubeconfig file; Deployments become available at once, and a
deleted namespace is gone at the next request (the runtime's own tests cover the waits)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from demo_orchestrator.domain.blueprint import load_blueprint
from demo_orchestrator.providers.base import InstanceSpec, Outputs, Provider
from demo_orchestrator.providers.kubernetes.runtime import KubernetesRuntime
from demo_orchestrator.providers.kubernetes.settings import KubernetesSettings
from tests.fakes.kube_api import FakeKubeApi
from tests.integration.harnesses.base import (
    OTHER,
    SECRET,
    Foreign,
    Harness,
    World,
    closed_port,
)
from tests.kubernetes import tools

OURS = "demo-orchestrator/owner"


def _fake(world: World) -> FakeKubeApi:
    if "kube fake" not in world.seen:
        fake = FakeKubeApi(terminating_seconds=0, auto_available=True)
        fake.start()
        world.seen["kube fake"] = fake
    fake = world.seen["kube fake"]
    assert isinstance(fake, FakeKubeApi)
    return fake


def _build(world: World, kubeconfig: Path | None = None) -> Provider:
    if kubeconfig is None:
        world.home.mkdir(parents=True, exist_ok=True)
        kubeconfig = _fake(world).kubeconfig(world.home / "kubeconfig")
    own = KubernetesSettings(
        kubeconfig=kubeconfig, helm=str(tools.install_helm()), api_timeout_seconds=2
    )
    return world.keep(KubernetesRuntime.from_settings(world.core(), own))


def _spec(world: World, instance_id: str) -> InstanceSpec:
    """The built-in blueprint: its chart is what the runtime applies."""
    blueprint = load_blueprint(tools.ROOT / "blueprints" / "splits-network.yaml")
    scenario = blueprint.scenario("agency")
    assert scenario is not None
    return InstanceSpec(instance_id=instance_id, blueprint=blueprint, scenario=scenario)


def _namespace_holds_the_stack(world: World, instance_id: str, out: Outputs) -> None:
    fake = _fake(world)
    names = fake.names(instance_id)
    assert {("deployments", "app"), ("resourcequotas", "demo-quota")} <= names
    assert out.state["namespace"] == instance_id


def _demo_writes(world: World, instance_id: str, out: Outputs) -> None:
    fake = _fake(world)
    fake.objects[("api/v1", instance_id, "configmaps", "written-by-the-demo")] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "written-by-the-demo", "namespace": instance_id},
    }


def _fresh_namespace(world: World, instance_id: str, before: Outputs, after: Outputs) -> None:
    assert ("configmaps", "written-by-the-demo") not in _fake(world).names(instance_id)
    _namespace_holds_the_stack(world, instance_id, after)


@contextmanager
def _foreign_namespaces(world: World) -> Iterator[Foreign]:
    """Namespaces with demo-like names: another orchestrator's, and one nobody labelled."""
    fake = _fake(world)
    ids = {world.id("foreign 1"), world.id("foreign 2")}
    labels = [
        {"app.kubernetes.io/managed-by": "demo-orchestrator", OURS: OTHER},
        {},
    ]
    for instance_id, label in zip(sorted(ids), labels, strict=True):
        fake.handle(
            "PATCH",
            f"/api/v1/namespaces/{instance_id}?fieldManager=someone",
            "application/apply-patch+yaml",
            (
                '{"apiVersion": "v1", "kind": "Namespace", "metadata": '
                f'{{"name": "{instance_id}", "labels": {dict(label)!r}}}}}'.replace("'", '"')
            ).encode(),
            f"Bearer {fake.token}",
        )

    def intact() -> None:
        for instance_id in ids:
            found = fake.get("api/v1", "", "namespaces", instance_id)
            assert found is not None and not found["metadata"].get("deletionTimestamp")
            assert ("deployments", "app") not in fake.names(instance_id)

    yield Foreign(ids, intact)


def _unreachable(world: World) -> Provider:
    world.home.mkdir(parents=True, exist_ok=True)
    kubeconfig = world.home / "unreachable-kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: gone\n"
        f"clusters: [{{name: gone, cluster: {{server: 'http://127.0.0.1:{closed_port()}'}}}}]\n"
        f"users: [{{name: gone, user: {{token: {SECRET}}}}}]\n"
        "contexts: [{name: gone, context: {cluster: gone, user: gone}}]\n"
    )
    return _build(world, kubeconfig)


def _cleanup(world: World) -> None:
    fake = world.seen.get("kube fake")
    if not isinstance(fake, FakeKubeApi):
        return
    for key in [k for k, o in fake.objects.items() if _is_ours(world, o)]:
        fake.objects.pop(key, None)


def _is_ours(world: World, obj: dict[str, object]) -> bool:
    meta = obj.get("metadata")
    labels = meta.get("labels") if isinstance(meta, dict) else None
    return isinstance(labels, dict) and labels.get(OURS) == world.owner


def _leftovers(world: World) -> dict[str, list[str]]:
    fake = world.seen.get("kube fake")
    if not isinstance(fake, FakeKubeApi):
        return {}
    try:
        left = sorted(
            k[3] for k, o in fake.objects.items() if k[2] == "namespaces" and _is_ours(world, o)
        )
    finally:
        fake.stop()
    return {"namespaces": left} if left else {}


KUBERNETES = Harness(
    name="kubernetes",
    marks=(),
    build=_build,
    spec=_spec,
    works=_namespace_holds_the_stack,
    write=_demo_writes,
    pristine=_fresh_namespace,
    foreign=_foreign_namespaces,
    unreachable=_unreachable,
    cleanup=_cleanup,
    leftovers=_leftovers,
)
