"""Watches, on both sides: the fake API server streams watch events the way the real one does
(checked here over raw HTTP), and the `kubernetes` runtime learns a rollout from its watch
(resumed after the server closes it, listed again after 410 Gone), watches a deleted namespace
until gone, keeps its held-back routes across a restart, and replaces a Job whose pod template
changed (the API refuses that change: the field is immutable).
"""

from __future__ import annotations

import http.client
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from demo_orchestrator.domain.blueprint import Blueprint
from demo_orchestrator.providers.kubernetes import rollouts
from demo_orchestrator.providers.kubernetes.cluster import ImmutableField
from demo_orchestrator.providers.kubernetes.runtime import HELD_ROUTES, KubernetesRuntime
from tests.fakes.kube_api import FakeKubeApi
from tests.kubernetes import test_runtime as base
from tests.kubernetes.test_runtime import (
    ID,
    in_two_hours,
    make_runtime,
    ready_once_watched,
    spec_of,
)

fake, blueprint, runtime = base.fake, base.blueprint, base.runtime  # the same fixtures

DEPLOYMENTS = f"/apis/apps/v1/namespaces/{ID}/deployments"
JOB = ("apis/batch/v1", ID, "jobs", "migrate-seed")


def _request(fake: FakeKubeApi, path: str) -> http.client.HTTPResponse:
    where = urlsplit(fake.url)
    connection = http.client.HTTPConnection(where.hostname or "", where.port, timeout=10)
    connection.request("GET", path, headers={"Authorization": f"Bearer {fake.token}"})
    return connection.getresponse()


def _events(fake: FakeKubeApi, path: str) -> list[dict[str, Any]]:
    """Every event of one watch request, read until the server closes it."""
    answer = _request(fake, path)
    assert answer.status == 200
    return [json.loads(line) for line in answer.read().splitlines() if line.strip()]


def _list(fake: FakeKubeApi, path: str) -> dict[str, Any]:
    answer = _request(fake, path)
    assert answer.status == 200
    found: dict[str, Any] = json.loads(answer.read())
    return found


def _deploy(runtime: KubernetesRuntime, blueprint: Blueprint) -> None:
    runtime.ensure(spec=spec_of(blueprint, in_two_hours()))


# -- the fake's watch semantics --------------------------------------------------------------


def test_the_fake_streams_added_modified_deleted_from_a_resource_version(
    fake: FakeKubeApi,
    runtime: KubernetesRuntime,
    blueprint: Blueprint,
) -> None:
    _deploy(runtime, blueprint)
    listed = _list(fake, DEPLOYMENTS)
    version = listed["metadata"]["resourceVersion"]
    assert [i["metadata"]["name"] for i in listed["items"]] == ["app"]
    assert all(i["metadata"]["resourceVersion"] for i in listed["items"])

    # Without a version: the current state as synthetic ADDED events, then the time-out closes it.
    first = _events(fake, f"{DEPLOYMENTS}?watch=true&timeoutSeconds=0")
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in first] == [("ADDED", "app")]

    fake.set_available(ID, "app")
    runtime.cluster.delete({"apiVersion": "apps/v1", "kind": "Deployment"}, "app", ID)
    after = _events(
        fake,
        f"{DEPLOYMENTS}?watch=1&resourceVersion={version}&timeoutSeconds=0"
        "&allowWatchBookmarks=true",
    )
    kinds = [e["type"] for e in after]
    assert kinds == ["MODIFIED", "DELETED", "BOOKMARK"]
    assert after[0]["object"]["status"]["availableReplicas"] == 1
    versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in after]
    assert versions == sorted(versions) and versions[0] > int(version)
    assert versions[2] == versions[1]  # the bookmark: the newest version, nothing else


def test_the_fake_answers_410_gone_for_a_compacted_version_and_selects_by_field(
    fake: FakeKubeApi,
    runtime: KubernetesRuntime,
    blueprint: Blueprint,
) -> None:
    _deploy(runtime, blueprint)
    version = _list(fake, DEPLOYMENTS)["metadata"]["resourceVersion"]
    runtime.set_expiry(instance_id=ID, expires_at=in_two_hours())  # the version moves on
    fake.compact()
    gone = _events(fake, f"{DEPLOYMENTS}?watch=true&resourceVersion={version}&timeoutSeconds=5")
    assert len(gone) == 1 and gone[0]["type"] == "ERROR"
    assert gone[0]["object"]["code"] == 410
    assert "too old resource version" in gone[0]["object"]["message"]

    namespaces = _events(
        fake, f"/api/v1/namespaces?watch=true&fieldSelector=metadata.name%3D{ID}&timeoutSeconds=0"
    )
    assert [e["object"]["metadata"]["name"] for e in namespaces] == [ID]
    refused = _request(fake, "/api/v1/namespaces?watch=true&fieldSelector=spec.x%3Dy")
    assert refused.status == 400


def test_the_fake_refuses_a_change_of_a_jobs_pod_template(
    fake: FakeKubeApi,
    runtime: KubernetesRuntime,
    blueprint: Blueprint,
) -> None:
    _deploy(runtime, blueprint)
    job = fake.get(*JOB)
    assert job is not None
    job.pop("status", None)
    for meta in ("uid", "resourceVersion", "generation", "creationTimestamp"):
        job["metadata"].pop(meta, None)
    job["spec"]["template"]["spec"]["containers"][0]["command"] = ["changed"]
    with pytest.raises(ImmutableField, match="field is immutable"):
        runtime.cluster.apply(job)
    job["spec"]["backoffLimit"] = 9  # what is not the template may change
    job["spec"]["template"] = fake.get(*JOB)["spec"]["template"]  # type: ignore[index]
    runtime.cluster.apply(job)
    assert fake.get(*JOB)["spec"]["backoffLimit"] == 9  # type: ignore[index]


# -- the runtime's watches -------------------------------------------------------------------


def test_the_rollout_watch_resumes_after_the_server_closes_it_and_relists_after_410(
    fake: FakeKubeApi,
    blueprint: Blueprint,
    helm: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(rollouts, "SERVER_TIMEOUT_SECONDS", 1)
    runtime = make_runtime(fake.kubeconfig(tmp_path / "kubeconfig"), helm)
    woken: list[str] = []
    runtime.on_change(woken.append)
    try:
        _deploy(runtime, blueprint)
        assert not runtime.check_ready(instance_id=ID).healthy
        assert runtime.rollouts.watching() == {ID}
        # The server ends each watch request after timeoutSeconds; the runtime resumes it from
        # the last version it saw (no new LIST).
        served = fake.watches_served
        _until(lambda: fake.watches_served >= served + 2)
        resumed = [r for r in fake.requests if r[1] == DEPLOYMENTS and "watch" in r[2]][-1]
        assert resumed[2]["resourceVersion"] != ["0"]
        # Versions compacted away meanwhile: the next resume is 410 Gone, so it lists afresh,
        # and a change made then is still seen.
        lists = _lists(fake)
        # a change elsewhere moves the server's version on, then etcd compacts
        runtime.set_expiry(instance_id=ID, expires_at=in_two_hours())
        fake.compact()
        _until(lambda: _lists(fake) > lists)
        before = len(woken)
        fake.set_available(ID, "app")
        _until(lambda: len(woken) > before)
        assert woken[-1] == ID
        assert ready_once_watched(runtime).healthy
        assert runtime.rollouts.watching() == set()  # ready: no more watching
    finally:
        runtime.close()


def _lists(fake: FakeKubeApi) -> int:
    return len([r for r in fake.requests if r[1] == DEPLOYMENTS and "watch" not in r[2]])


def _until(condition: Any, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not within the bound"
        time.sleep(0.02)


def test_held_routes_survive_a_restart_between_deploy_and_health(
    fake: FakeKubeApi, blueprint: Blueprint, helm: Path, tmp_path: Path
) -> None:
    kubeconfig = fake.kubeconfig(tmp_path / "kubeconfig")
    first = make_runtime(kubeconfig, helm)
    try:
        _deploy(first, blueprint)
    finally:
        first.close()  # the orchestrator dies after deploying
    assert ("configmaps", HELD_ROUTES) in fake.names(ID)
    assert not [n for n in fake.names(ID) if n[0] == "httproutes"]
    fake.set_available(ID, "app")
    patches = len([r for r in fake.requests if r[0] == "PATCH"])

    second = make_runtime(kubeconfig, helm)  # a new process: nothing in memory
    try:
        health = second.check_ready(instance_id=ID)
        assert health.healthy, health.detail
    finally:
        second.close()
    assert {n for n in fake.names(ID) if n[0] == "httproutes"} == {
        ("httproutes", "portal"),
        ("httproutes", "candidate"),
    }
    # Only the routes were written: the stack was not deployed again.
    written = [r[1] for r in fake.requests if r[0] == "PATCH"][patches:]
    assert written and all("/httproutes/" in path for path in written), written


def test_a_changed_job_is_deleted_in_the_background_and_created_again(
    fake: FakeKubeApi,
    runtime: KubernetesRuntime,
    blueprint: Blueprint,
) -> None:
    _deploy(runtime, blueprint)
    before = fake.get(*JOB)
    assert before is not None
    # As applied by an earlier version of the orchestrator, with another pod template.
    fake.objects[JOB]["spec"]["template"]["spec"]["containers"][0]["command"] = ["old", "seed"]

    _deploy(runtime, blueprint)
    after = fake.get(*JOB)
    assert after is not None
    assert after["metadata"]["uid"] != before["metadata"]["uid"]  # a new Job
    assert after["spec"]["template"] == before["spec"]["template"]
    assert [(p, policy) for p, policy, _ in fake.deletes if p.endswith("/jobs/migrate-seed")] == [
        (f"/apis/batch/v1/namespaces/{ID}/jobs/migrate-seed", "Background")
    ]

    # Applying the same again changes nothing: no delete, the same Job.
    _deploy(runtime, blueprint)
    assert fake.get(*JOB)["metadata"]["uid"] == after["metadata"]["uid"]  # type: ignore[index]
    assert len(fake.deletes) == 1


def test_teardown_watches_for_a_bounded_time_then_lets_the_engine_ask_again(
    fake: FakeKubeApi,
    runtime: KubernetesRuntime,
    blueprint: Blueprint,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from demo_orchestrator.domain.errors import NotReady
    from demo_orchestrator.providers.kubernetes import runtime as module

    monkeypatch.setattr(module, "TEARDOWN_WATCH_SECONDS", 0.3)
    _deploy(runtime, blueprint)
    fake.terminating_seconds = 3600  # far longer than the watch may hold a worker
    with pytest.raises(NotReady, match=f"namespace {ID} is terminating"):
        runtime.destroy(instance_id=ID)
    assert fake.get("api/v1", "", "namespaces", ID) is not None
    fake.terminate_now(ID)  # the namespace controller catches up
    runtime.destroy(instance_id=ID)
    assert fake.get("api/v1", "", "namespaces", ID) is None
