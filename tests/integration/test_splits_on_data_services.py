"""The reference stack on the real PostgreSQL, Redis and RabbitMQ of this machine: its data in its
own database, its session and cache keys under its prefix, its events through its own vhost; a
reset gives the seeded data back (the database cloned again from its template) under the running
stack, which reloads in place, the prospect woven in again."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
import redis

from tests.conftest import Server
from tests.fakes.data_services import (
    MANAGEMENT,
    PG_ADMIN,
    REDIS_URL,
    leftovers,
    service_env,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.rabbitmq]


def test_the_reference_stack_runs_on_its_own_database_prefix_and_vhost(
    owner: str, make_server: Any, tmp_path: Path
) -> None:
    server: Server = make_server(
        tmp_path / "home",
        DEMO_BLUEPRINT="splits-network",
        DEMO_BLUEPRINT_PATHS="[]",
        DEMO_PREBUILD_TEMPLATES="false",
        **service_env(owner),
    ).start()
    instance = server.create(scenario="agency", prospect={"company": "Initech"})
    ready = server.wait_status(instance["id"], "ready", "failed", timeout=120)
    assert ready["status"] == "ready", ready
    steps = {s["name"]: s for s in ready["steps"]}
    assert steps["cache"]["status"] == steps["broker"]["status"] == "done"
    instance_id = ready["id"]
    database = instance_id.replace("-", "_")

    # data: its own PostgreSQL database holds the seeded scenario, with the prospect woven in
    rep = server.follow(ready["rep_login_url"])  # the rep's session reads the whole demo
    jobs = rep.get("/api/jobs", params={"limit": 500}).json()
    rep.close()
    assert jobs["total"] == 10
    with psycopg.connect(PG_ADMIN.rsplit("/", 1)[0] + f"/{database}", autocommit=True) as pg:
        assert pg.execute("SELECT count(*) FROM jobs").fetchone() == (10,)
        names = [r[0] for r in pg.execute("SELECT name FROM companies").fetchall()]
    assert "Initech" in names

    # cache: signing in keeps the session under the demo's key prefix
    persona = ready["personas"][0]
    link = urlsplit(persona["login_url"])
    host = {"Host": link.netloc}
    with httpx.Client(base_url=server.url, headers=host, trust_env=False, timeout=20) as portal:
        signed = portal.get(f"{link.path}?{link.query}")
        assert signed.status_code in (302, 303), signed.text[:300]
        assert portal.cookies
        apps = portal.get("/api/applications", params={"limit": 500}).json()["items"]
        moving = next(a for a in apps if a["stage"] == "applied")
        moved = portal.post(f"/applications/{moving['id']}/move", data={"stage": "screening"})
        assert moved.status_code in (200, 303)
        outbox = ""
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            outbox = portal.get("/outbox").text
            if re.search(r"application\.moved · via rabbitmq", outbox):
                break
            time.sleep(0.2)
    assert re.search(r"application\.moved · via rabbitmq", outbox), (
        "the event did not go through RabbitMQ"
    )
    keys = redis.Redis.from_url(REDIS_URL).keys(f"{instance_id}:*")
    assert keys and all(k.decode().startswith(f"{instance_id}:") for k in keys)

    # broker: the events went through the demo's own vhost
    with httpx.Client(base_url=MANAGEMENT, auth=("guest", "guest"), trust_env=False) as mgmt:
        exchanges = {e["name"] for e in mgmt.get(f"/api/exchanges/{instance_id}").json()}
        assert "splits.events" in exchanges
        # the demo's notification service listens in its own vhost (stats lag a few seconds)
        consumers: list[Any] = []
        deadline = time.monotonic() + 15
        while not consumers and time.monotonic() < deadline:
            consumers = mgmt.get(f"/api/consumers/{instance_id}").json()
            time.sleep(0.3)
        assert any(c["queue"]["name"] == f"splits.notification.{instance_id}" for c in consumers)
        assert mgmt.get(f"/api/queues/%2F/splits.notification.{instance_id}").status_code == 404

    # reset: the moved application is back where the seed put it, the process is the same one
    runtime_json = server.home / "runtime" / instance_id / "runtime.json"
    pid = json.loads(runtime_json.read_text())["app"]["pid"]
    assert server.http.post(f"/api/v1/demo-instances/{instance_id}/reset").status_code == 202
    after = server.wait_status(instance_id, "ready", "failed", timeout=60)
    assert after["status"] == "ready" and after["urls"] == ready["urls"]
    assert json.loads(runtime_json.read_text())["app"]["pid"] == pid
    with httpx.Client(base_url=server.url, headers=host, trust_env=False, timeout=20) as portal:
        assert portal.get(f"{link.path}?{link.query}").status_code in (302, 303)
        apps = portal.get("/api/applications", params={"limit": 500}).json()["items"]
    assert next(a for a in apps if a["id"] == moving["id"])["stage"] == "applied"
    with psycopg.connect(PG_ADMIN.rsplit("/", 1)[0] + f"/{database}", autocommit=True) as pg:
        assert "Initech" in [r[0] for r in pg.execute("SELECT name FROM companies").fetchall()]

    server.http.delete(f"/api/v1/demo-instances/{instance_id}")
    server.wait_status(instance_id, "deleted", timeout=30)
    left = leftovers(owner, (instance_id,))
    assert set(left) <= {"databases", "roles"}  # only the seeded template and its builder remain
    assert all("_tpl_" in d for d in left.get("databases", [])), left
