"""Two orchestrator replicas as real `democtl serve` processes on one PostgreSQL store, local
runtime: 50 creates at once spread over both, and a kill -9 of one replica while it holds
demos half-made. The other takes that work over once the dead replica's leases lapse. Every demo
ends ready exactly once (one `ready` event each), and none runs twice: each demo has exactly one
live process (replicas on one machine share its DEMO_HOME, so the survivor finds what the dead
one had started for a demo instead of starting it again). Creates reach either replica as a load
balancer would send them, retried on the other with their idempotency key."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from cryptography.fernet import Fernet

from tests.conftest import Server, demo_processes, lease_owners, until

pytestmark = pytest.mark.postgres

DEMOS = 50


def test_fifty_creates_on_two_replicas_and_a_kill_make_each_demo_once(
    make_server: Any,
    tmp_path: Path,
    store_url: str,
) -> None:
    shared = {
        "DEMO_STORE_URL": store_url,
        "DEMO_SECRET_KEY": Fernet.generate_key().decode(),
        "DEMO_LEASE_SECONDS": "2",
        "DEMO_MAX_INSTANCES": "200",
        "DEMO_MAX_INSTANCES_PER_OWNER": "200",
        "DEMO_IDLE_MINUTES": "0",
    }
    # Replicas on one machine share its folder (DEMO_HOME): whoever finishes a demo finds what
    # the other started for it there.
    one: Server = make_server(tmp_path / "home", **shared).start()
    two: Server = make_server(tmp_path / "home", **shared).start()
    pid = str(one.proc.pid if one.proc else "")

    def create(index: int) -> str:
        """One create as a load balancer would send it: to one replica, to the other when that
        one does not answer, with an idempotency key so a retry never makes a second demo."""
        key = f"replicas-{index}"
        for server in (one, two) if index % 2 == 0 else (two, one):
            try:
                answer = httpx.post(
                    f"{server.url}/api/v1/demo-instances",
                    json={"duration_hours": 1},
                    headers={"Authorization": f"Bearer {server.token}", "Idempotency-Key": key},
                    timeout=30,
                    trust_env=False,
                )
            except httpx.TransportError:
                continue
            assert answer.status_code in {200, 201, 202}, answer.text
            return str(answer.json()["id"])
        raise AssertionError(f"create {index}: no replica answered")

    def one_holds_some() -> bool:
        return any(owner.endswith(f":{pid}") for owner in lease_owners(store_url).values())

    with ThreadPoolExecutor(10) as pool:
        made = [pool.submit(create, n) for n in range(DEMOS)]
        # Killed as soon as replica one holds a demo half-made, while creates still arrive.
        until("replica one at work", one_holds_some, 60)
        held = {i for i, owner in lease_owners(store_url).items() if owner.endswith(f":{pid}")}
        one.kill()  # kill -9, mid-way
        ids = [m.result() for m in made]
    assert len(set(ids)) == DEMOS
    with psycopg.connect(store_url) as store:
        assert {r[0] for r in store.execute("SELECT id FROM instances")} == set(ids)

    until("every demo ready", lambda: all(two.get(i)["status"] == "ready" for i in ids))
    assert held  # replica two finished what replica one held when it died

    with psycopg.connect(store_url) as store:
        readies = store.execute(
            "SELECT instance_id, count(*) FROM events WHERE kind = 'status' "
            "AND data->>'status' = 'ready' GROUP BY instance_id"
        ).fetchall()
    assert dict(readies) == dict.fromkeys(ids, 1)  # ready exactly once each

    running: dict[str, int] = {}
    for instance_id in demo_processes(two.home).values():
        running[instance_id] = running.get(instance_id, 0) + 1
    assert running == dict.fromkeys(ids, 1)  # one process each: none made twice, none lost
    answers = {two.demo(instance_id, "portal").status_code for instance_id in ids}
    assert answers == {200}  # every demo answers through the surviving replica's router
