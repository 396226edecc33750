"""Quotas and idempotency hold under concurrent requests; expiry happens even across downtime."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx

from tests.conftest import Server, instance_files


def test_quota_holds_under_concurrent_creates(make_server: Any) -> None:
    server: Server = make_server(DEMO_MAX_INSTANCES_PER_OWNER="3").start()

    def create(_: int) -> httpx.Response:
        with httpx.Client(
            base_url=server.url,
            trust_env=False,
            timeout=30,
            headers={"Authorization": f"Bearer {server.token}"},
        ) as client:
            return client.post("/api/v1/demo-instances", json={"duration_hours": 0.5})

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(create, range(8)))
    codes = sorted(a.status_code for a in answers)
    assert codes == [202] * 3 + [429] * 5, codes
    refused = next(a for a in answers if a.status_code == 429)
    assert "delete one" in refused.json()["detail"]
    listed = server.http.get("/api/v1/demo-instances").json()["items"]
    assert len(listed) == 3


def test_concurrent_replays_of_one_idempotency_key_make_one_demo(make_server: Any) -> None:
    server: Server = make_server().start()
    headers = {"Authorization": f"Bearer {server.token}", "Idempotency-Key": "same-key"}

    def create(_: int) -> httpx.Response:
        return httpx.post(
            f"{server.url}/api/v1/demo-instances",
            json={"duration_hours": 1},
            headers=headers,
            trust_env=False,
            timeout=30,
        )

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(create, range(6)))
    assert {a.status_code for a in answers} == {202}
    assert len({a.json()["id"] for a in answers}) == 1
    assert len(server.http.get("/api/v1/demo-instances").json()["items"]) == 1


def test_a_demo_that_expired_while_the_server_was_down_is_torn_down_at_start(
    make_server: Any, tmp_path: Any
) -> None:
    server: Server = make_server(tmp_path / "home").start()
    instance = server.create(duration_hours=0.001)  # 3.6 seconds
    instance_id = instance["id"]
    server.wait_status(instance_id, "ready")
    server.kill()
    expires = datetime.fromisoformat(instance["expires_at"])
    # the server is down at the moment of expiry: nobody is watching
    time.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 0.3)
    assert instance_id in server.demo_processes().values()
    server.start()
    gone = server.wait_status(instance_id, "deleted", timeout=20)
    assert gone["status"] == "deleted"
    assert instance_id not in server.demo_processes().values()
    assert instance_files(server.home, instance_id) == []
