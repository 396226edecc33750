"""The real orchestrator on the real PostgreSQL, Redis and RabbitMQ of this machine.

A `democtl serve` runs the tiny-cache blueprint (database, cache and broker) with
DEMO_DATABASE_PROVIDER=postgres, DEMO_REDIS_URL and DEMO_RABBITMQ_URL set. Shown here: a demo
becomes ready and its service sees its own database, key prefix and vhost; delete and expiry
remove every server-side resource; kill -9 mid-provisioning then a restart leaves no orphan on any
server; a server that is down gives retries, then `failed` with a clear error and nothing
half-made; a reset restores the database from its template, empties the cache keys and purges
the queues under the running service, which reloads in place. Each test uses its own owner marker
and purges it afterwards.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import redis

from demo_orchestrator.providers import processes
from demo_orchestrator.providers.ownership import Passwords
from tests.conftest import Server
from tests.fakes.data_services import (
    MANAGEMENT,
    PG_ADMIN,
    REDIS_URL,
    leftovers,
    service_env,
)

TINY_CACHE = Path(__file__).resolve().parents[1] / "blueprints" / "tiny_cache.yaml"
pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.rabbitmq]


def _server(
    make_server: Any, home: Path, owner: str, port: int | None = None, **extra: str
) -> Server:
    env = {
        **service_env(owner),
        "DEMO_BLUEPRINT": "tiny-cache",
        "DEMO_BLUEPRINT_PATHS": json.dumps([str(TINY_CACHE)]),
        **extra,
    }
    server: Server = make_server(home, port, **env)
    return server


def _on_servers(instance_id: str) -> dict[str, bool]:
    """Which of the instance's resources exist on each real server."""
    name = instance_id.replace("-", "_")
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        database = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        role = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name]).fetchone()
    client = redis.Redis.from_url(REDIS_URL)
    try:
        user = client.execute_command("ACL", "GETUSER", instance_id)
        keys = list(client.scan_iter(match=f"{instance_id}:*"))
    finally:
        client.close()
    with httpx.Client(base_url=f"{MANAGEMENT}/api", auth=("guest", "guest"), trust_env=False) as m:
        vhost = m.get(f"/vhosts/{instance_id}").status_code == 200
        rabbit_user = m.get(f"/users/{instance_id}").status_code == 200
    return {
        "database": database is not None,
        "role": role is not None,
        "redis_user": user is not None,
        "redis_keys": bool(keys),
        "vhost": vhost,
        "rabbit_user": rabbit_user,
    }


NOTHING = dict.fromkeys(
    ("database", "role", "redis_user", "redis_keys", "vhost", "rabbit_user"), False
)


def test_ready_on_real_servers_then_delete_and_expiry_remove_everything(
    owner: str, make_server: Any, tmp_path: Path
) -> None:
    server = _server(make_server, tmp_path / "home", owner).start()
    started = time.monotonic()
    deleted_later = server.create()["id"]
    expiring = server.create(scenario="startup", duration_hours=0.002)["id"]  # ~7 s
    ready = server.wait_status(deleted_later, "ready", "failed", timeout=60)
    assert ready["status"] == "ready", ready
    took = time.monotonic() - started
    report = server.demo(deleted_later, "portal", "/api/report").json()
    name = deleted_later.replace("-", "_")
    assert report["database"] == name and report["user"] == name and len(report["items"]) == 5
    assert report["cache"]["boot"] == deleted_later and report["broker"]["events"] == 1
    assert _on_servers(deleted_later) == {k: True for k in NOTHING}
    with httpx.Client(base_url=f"{MANAGEMENT}/api", auth=("guest", "guest"), trust_env=False) as m:
        queues = [q["name"] for q in m.get(f"/queues/{deleted_later}").json()]
    assert queues == ["events"]  # its events went through its own vhost

    # No secret in the instance JSON or the server log.
    password = Passwords((server.home / "data-services.key").read_bytes().strip()).of(
        "postgres", owner, name
    )
    instance_json = json.dumps(server.get(deleted_later))
    seen = instance_json + (server.home / "server.log").read_text()
    assert password not in seen and "DATABASE_URL" not in instance_json

    assert server.http.delete(f"/api/v1/demo-instances/{deleted_later}").status_code == 202
    server.wait_status(deleted_later, "deleted", timeout=30)
    assert _on_servers(deleted_later) == NOTHING
    server.wait_status(expiring, "deleted", timeout=40)
    assert _on_servers(expiring) == NOTHING
    print(f"create->ready on postgres+redis+rabbitmq (cold template): {took:.2f}s")


def test_kill_mid_provisioning_then_restart_leaves_no_orphan_anywhere(
    owner: str, make_server: Any, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    slow = _server(
        make_server,
        home,
        owner,
        DEMO_FAULT_INJECTION="health:50",
        DEMO_RETRY_BASE_SECONDS="0.3",
        DEMO_STEP_RETRIES="60",
    ).start()
    kept = slow.create()["id"]
    forgotten = slow.create()["id"]
    for instance_id in (kept, forgotten):
        slow.wait_deployed(instance_id)
    slow.kill()
    assert _on_servers(forgotten)["database"] and _on_servers(forgotten)["vhost"]
    store = sqlite3.connect(home / "orchestrator.db")  # the store forgets one instance
    store.execute("DELETE FROM steps WHERE instance_id = ?", (forgotten,))
    store.execute("DELETE FROM events WHERE instance_id = ?", (forgotten,))
    store.execute("DELETE FROM instances WHERE id = ?", (forgotten,))
    store.commit()
    store.close()
    for pid, instance_id in slow.demo_processes().items():
        if instance_id == forgotten:  # its processes are the local runtime's orphans
            processes.stop_groups({pid: instance_id}, grace=0.5)

    again = _server(make_server, home, owner, slow.port).start()
    assert again.wait_status(kept, "ready", "failed", timeout=60)["status"] == "ready"
    deadline = time.monotonic() + 20
    while _on_servers(forgotten) != NOTHING:
        assert time.monotonic() < deadline, f"orphan not swept: {_on_servers(forgotten)}"
        time.sleep(0.2)
    assert _on_servers(kept)["database"]
    again.http.delete(f"/api/v1/demo-instances/{kept}")
    again.wait_status(kept, "deleted", timeout=30)
    assert _on_servers(kept) == NOTHING


def test_a_server_that_is_down_fails_clearly_and_leaves_nothing(
    owner: str, make_server: Any, tmp_path: Path
) -> None:
    closed = processes.free_port()
    server = _server(
        make_server,
        tmp_path / "home",
        owner,
        DEMO_REDIS_URL=f"redis://admin:s3cret-pw@127.0.0.1:{closed}/0",
        DEMO_STEP_RETRIES="3",
        DEMO_RETRY_BASE_SECONDS="0.05",
    ).start()
    instance_id = server.create()["id"]
    failed = server.wait_status(instance_id, "failed", "ready", timeout=60)
    assert failed["status"] == "failed"
    cache = next(s for s in failed["steps"] if s["name"] == "cache")
    assert cache["status"] == "failed" and cache["retries"] == 3
    # the server is named, its password never (the error is redacted before it is stored)
    assert f"Redis at redis://admin:[redacted]@127.0.0.1:{closed}/0" in cache["error"]
    assert "gave up after 3 retries" in cache["error"]
    assert "s3cret-pw" not in json.dumps(failed) + (server.home / "server.log").read_text()
    assert _on_servers(instance_id) == NOTHING  # the database made before it was torn down
    # The server comes back: a restart pointed at it sweeps nothing of this demo and it stays failed.
    server.stop()
    again = _server(make_server, tmp_path / "home", owner, server.port).start()
    assert again.get(instance_id)["status"] == "failed"
    assert _on_servers(instance_id) == NOTHING
    assert set(leftovers(owner)) <= {"databases", "roles"}  # only the seeded templates remain


def test_reset_restores_the_data_empties_the_cache_keys_and_purges_the_queues(
    owner: str, make_server: Any, tmp_path: Path
) -> None:
    server = _server(make_server, tmp_path / "home", owner).start()
    instance_id = server.create()["id"]
    assert server.wait_status(instance_id, "ready", "failed", timeout=60)["status"] == "ready"
    for _ in range(3):
        report = server.demo(instance_id, "portal", "/api/report").json()
    assert report["cache"]["hits"] == 4 and report["broker"]["events"] == 1  # boot + 3 reports
    # The demo is used: rows added, keys written, messages left on its queue.
    name = instance_id.replace("-", "_")
    with psycopg.connect(PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", autocommit=True) as conn:
        conn.execute("INSERT INTO items (name) VALUES ('added during the demo')")
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.set(f"{instance_id}:cart", "3 items")
    finally:
        client.close()
    with httpx.Client(base_url=f"{MANAGEMENT}/api", auth=("guest", "guest"), trust_env=False) as m:
        for n in range(4):
            published = m.post(
                f"/exchanges/{instance_id}/amq.default/publish",
                json={
                    "properties": {},
                    "routing_key": "events",
                    "payload": f"left {n}",
                    "payload_encoding": "string",
                },
            )
            assert published.json()["routed"] is True
    used = server.demo(instance_id, "portal", "/api/report").json()
    assert len(used["items"]) == 6 and used["broker"]["events"] == 5

    before = server.get(instance_id)
    runtime_json = server.home / "runtime" / instance_id / "runtime.json"
    pid = json.loads(runtime_json.read_text())["web"]["pid"]
    assert server.http.post(f"/api/v1/demo-instances/{instance_id}/reset").status_code == 202
    after = server.wait_status(instance_id, "ready", "failed", timeout=60)
    assert after["status"] == "ready" and after["urls"] == before["urls"]
    assert after["expires_at"] == before["expires_at"]
    fresh = server.demo(instance_id, "portal", "/api/report").json()
    assert len(fresh["items"]) == 5 and "added during the demo" not in fresh["items"]
    assert fresh["cache"] == {"boot": instance_id, "hits": 2}  # a fresh boot, then this report
    assert fresh["broker"]["events"] == 1  # the four left over were purged; one boot event
    # Restored underneath the running service, which reloaded in place (its `reload_path`).
    assert json.loads(runtime_json.read_text())["web"]["pid"] == pid
    client = redis.Redis.from_url(REDIS_URL)
    try:
        assert client.get(f"{instance_id}:cart") is None
    finally:
        client.close()
    server.http.delete(f"/api/v1/demo-instances/{instance_id}")
    server.wait_status(instance_id, "deleted", timeout=30)
    assert _on_servers(instance_id) == NOTHING
