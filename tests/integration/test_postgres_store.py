"""The orchestrator with its own store on PostgreSQL (DEMO_STORE_URL), as replicas would run it:
the whole lifecycle, and a kill -9 that the next process recovers from."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest
from cryptography.fernet import Fernet

from demo_orchestrator.engine.service import CreateInstance
from tests.conftest import Server, instance_files
from tests.fakes.engine import ADMIN, Rig

pytestmark = pytest.mark.postgres


def test_lifecycle_and_crash_recovery_on_a_postgresql_store(
    make_server: Any, tmp_path: Any, store_url: str
) -> None:
    server: Server = make_server(tmp_path / "home", DEMO_STORE_URL=store_url).start()
    kept = server.create(scenario="agency")["id"]
    gone = server.create(scenario="startup")["id"]
    server.wait_status(kept, "ready")
    server.wait_status(gone, "ready")
    assert server.demo(kept, "portal").json()["total"] == 5
    assert not (server.home / "orchestrator.db").exists()  # the store is PostgreSQL, not SQLite
    with psycopg.connect(store_url) as store:
        rows = dict(store.execute("SELECT id, status FROM instances").fetchall())
        assert rows == {kept: "ready", gone: "ready"}
        revision = store.execute("SELECT version_num FROM alembic_version").fetchone()
        assert revision is not None
    server.kill()
    server.start()
    assert server.wait_status(kept, "ready")["status"] == "ready"
    server.http.delete(f"/api/v1/demo-instances/{gone}")
    server.wait_status(gone, "deleted")
    assert gone not in server.demo_processes().values()
    assert instance_files(server.home, gone) == []
    assert server.demo(kept, "candidate").status_code == 200


def _stream(server: Server, instance_id: str, until: str) -> list[dict[str, Any]]:
    """Every event of the instance's SSE stream (from the start) up to a status `until`,
    which must come within 20 s (a keep-alive comes every 15 s while nothing happens)."""
    import json
    import time

    import httpx

    deadline = time.monotonic() + 20
    events: list[dict[str, Any]] = []
    headers = {"Authorization": f"Bearer {server.token}", "Last-Event-ID": "0"}
    with httpx.stream(
        "GET",
        f"{server.url}/api/v1/demo-instances/{instance_id}/events",
        headers=headers,
        timeout=30,
        trust_env=False,
    ) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            assert time.monotonic() < deadline, f"{until} did not come in time: {events}"
            if not line.startswith("data: "):
                continue
            event = json.loads(line[6:])
            if "kind" not in event:
                continue  # the snapshot
            events.append(event)
            if event["kind"] == "status" and event["status"] == until:
                return events
    raise AssertionError(f"the stream ended before {until}: {events}")


def test_a_second_process_sees_every_change_of_the_first(
    make_server: Any, tmp_path: Any, store_url: str
) -> None:
    """Replica B (API only) follows replica A's changes through PostgreSQL's NOTIFY: its feed's
    own polling is set to 60 s, so nothing else could bring them in time."""
    from cryptography.fernet import Fernet

    shared = {"DEMO_STORE_URL": store_url, "DEMO_SECRET_KEY": Fernet.generate_key().decode()}
    engine: Server = make_server(tmp_path / "a", **shared).start()
    api: Server = make_server(
        tmp_path / "b", DEMO_ENGINE="false", DEMO_FEED_POLL_SECONDS="60", **shared
    ).start()
    instance_id = engine.create()["id"]
    assert api.demo(instance_id, "portal").status_code == 503  # B caches "starting"...
    seen = _stream(api, instance_id, until="ready")
    with psycopg.connect(store_url) as store:
        stored = [
            r[0]
            for r in store.execute(
                "SELECT id FROM events WHERE instance_id = %s ORDER BY id", [instance_id]
            ).fetchall()
        ]
    assert [e["id"] for e in seen] == stored[: len(seen)]  # every change, once, in order
    assert {"status", "step", "routes"} <= {e["kind"] for e in seen}
    answer = api.demo(instance_id, "portal")  # ...and drops it when A's change arrives
    assert answer.status_code == 200 and answer.json()["total"] == 5
    engine.http.delete(f"/api/v1/demo-instances/{instance_id}")
    deleted = _stream(api, instance_id, until="deleted")
    assert deleted[-1]["status"] == "deleted"
    assert api.demo(instance_id, "portal").status_code == 410  # "This demo has ended"


def test_two_replicas_never_claim_one_pool_member_twice(tmp_path: Any, store_url: str) -> None:
    """50 creates at once, through two orchestrators on one PostgreSQL store, against a warm
    pool of 5: each member is claimed exactly once, the rest are plain creates (creates hold the
    quota's advisory lock across replicas; the member row is also taken FOR UPDATE SKIP LOCKED).
    Without the advisory lock this fails."""
    shared = {"store_url": store_url, "secret_key": Fernet.generate_key().decode()}
    limits = {"max_instances": 100, "max_instances_per_owner": 100, **shared}
    one, two = Rig(tmp_path / "one", **limits), Rig(tmp_path / "two", **limits)
    try:
        one.orchestrator.pool.set_target(ADMIN, "agency", 5)
        for _ in range(6):
            one.orchestrator.pool.refill()
            one.settle()
        members = set(one.runtime.owned())
        assert len(members) == 5
        assert two.orchestrator.pool.status()[0]["ready"] == 5  # the other replica sees them

        def create(index: int) -> str:
            replica = (one, two)[index % 2]
            instance, _ = replica.service.create(ADMIN, CreateInstance(scenario="agency"))
            return str(instance["id"])

        with ThreadPoolExecutor(max_workers=10) as threads:
            ids = list(threads.map(create, range(50)))
        assert len(set(ids)) == 50
        assert sorted(i for i in ids if i in members) == sorted(members)  # each claimed once
        status = next(i for i in two.orchestrator.pool.status() if i["scenario"] == "agency")
        assert (status["claims"], status["misses"]) == (5, 45)
    finally:
        one.close()
        two.close()
