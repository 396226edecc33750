"""Two orchestrator replicas (real `democtl serve` processes on one PostgreSQL store) driving the
`kubernetes` runtime against one fake API server (a real HTTP server in this process): creates
in flight on both, a kill -9 of one while its demos wait for their rollout, and the other takes
its work over once its leases lapse. Every demo ends ready exactly once; the API server's record
shows no namespace created twice, and no object written by both replicas differently (every
object is at its first generation, and no apply met a conflict).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cryptography.fernet import Fernet

from tests.conftest import Server, lease_owners, until
from tests.fakes.kube_api import FakeKubeApi
from tests.kubernetes import tools

pytestmark = pytest.mark.postgres

DEMOS = 16


@pytest.fixture
def fake() -> Iterator[FakeKubeApi]:
    api = FakeKubeApi(terminating_seconds=0, auto_available=False)
    api.start()
    yield api
    api.stop()


def test_two_replicas_on_the_fake_api_provision_each_demo_once_across_a_kill(
    make_server: Any, tmp_path: Path, store_url: str, fake: FakeKubeApi, helm: Path
) -> None:
    shared = {
        "DEMO_STORE_URL": store_url,
        "DEMO_SECRET_KEY": Fernet.generate_key().decode(),
        "DEMO_RUNTIME": "kubernetes",
        "DEMO_KUBERNETES_KUBECONFIG": str(fake.kubeconfig(tmp_path / "kubeconfig")),
        "DEMO_KUBERNETES_HELM": str(helm),
        "DEMO_BLUEPRINT": "splits-network",
        "DEMO_BLUEPRINT_PATHS": json.dumps([str(tools.ROOT / "blueprints")]),
        "DEMO_LEASE_SECONDS": "2",
        # What replicas share in a cluster (the orchestrator chart sets it): the URL demos report
        # to. Left to its default it would name each replica's own port, and a demo deployed by
        # one and taken over by the other would be rolled for that difference.
        "DEMO_ACTIVITY_URL": "http://demo-orchestrator.demo-orchestrator.svc:8000",
        "DEMO_HEALTH_TIMEOUT_SECONDS": "300",
        "DEMO_MAX_INSTANCES_PER_OWNER": "1000",
    }
    one: Server = make_server(tmp_path / "one", **shared).start()
    two: Server = make_server(tmp_path / "two", **shared).start()

    def create(index: int) -> str:
        return str((one, two)[index % 2].create(scenario="agency")["id"])

    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(create, range(DEMOS)))
    assert len(set(ids)) == DEMOS

    # Replica one works on some demos: deployed, it holds their leases while the health gate
    # waits on the rollout (the fake makes no Deployment available yet).
    pid = str(one.proc.pid if one.proc else "")

    def one_waits_on_some() -> bool:
        held = [i for i, owner in lease_owners(store_url).items() if owner.endswith(f":{pid}")]
        return len([i for i in held if ("deployments", "app") in fake.names(i)]) >= 2

    until("replica one deploying", one_waits_on_some)
    orphaned = {i for i, owner in lease_owners(store_url).items() if owner.endswith(f":{pid}")}
    one.kill()  # kill -9, mid-way

    fake.auto_available = True
    for namespace in fake.namespaces():
        if ("deployments", "app") in fake.names(namespace):
            fake.set_available(namespace, "app")

    until("every demo ready", lambda: all(two.get(i)["status"] == "ready" for i in ids))

    # Replica two took over what replica one held, once its leases lapsed.
    assert orphaned
    with psycopg.connect(store_url) as store:
        readies = store.execute(
            "SELECT instance_id, count(*) FROM events WHERE kind = 'status' "
            "AND data->>'status' = 'ready' GROUP BY instance_id"
        ).fetchall()
    assert dict(readies) == dict.fromkeys(ids, 1)  # ready exactly once each

    # The API server's record: each namespace created once, never deleted; no conflict; no
    # object changed by a second, different apply (all at generation 1).
    created: dict[str, int] = {}
    for _, kind, key, _obj in fake.history:
        if key[2] == "namespaces":
            assert kind != "DELETED", key
            if kind == "ADDED":
                created[key[3]] = created.get(key[3], 0) + 1
    assert created == dict.fromkeys(ids, 1)
    assert [a for a in fake.answers if a[2] == 409] == []
    for key, obj in fake.objects.items():
        if key[2] in ("deployments", "statefulsets", "jobs"):
            assert obj["metadata"]["generation"] == 1, key
