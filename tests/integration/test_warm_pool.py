"""The warm pool on a real server: targets over the API, claims served ready at once, a prospect's
claim restarting the demo's processes with its environment, and a kill -9 that loses nothing."""

from __future__ import annotations

import time
from typing import Any

from tests.conftest import Server


def _pool(server: Server, scenario: str = "agency") -> dict[str, Any]:
    items = server.http.get("/api/v1/warm-pool").json()["items"]
    return dict(next(i for i in items if i["scenario"] == scenario))


def _wait_ready_members(server: Server, count: int, timeout: float = 40) -> None:
    deadline = time.monotonic() + timeout
    while _pool(server)["ready"] < count:
        assert time.monotonic() < deadline, _pool(server)
        time.sleep(0.1)


def test_targets_claims_and_a_restart_with_pooled_and_claimed_demos(
    make_server: Any, tmp_path: Any
) -> None:
    server: Server = make_server(tmp_path / "home", DEMO_WARM_POOL="agency=2").start()
    assert _pool(server)["target"] == 2
    bad = server.http.put("/api/v1/warm-pool/agency", json={"target": -1})
    assert bad.status_code == 422
    assert server.http.put("/api/v1/warm-pool/nope", json={"target": 1}).status_code == 422
    _wait_ready_members(server, 2)
    assert server.http.get("/api/v1/demo-instances").json()["items"] == []  # not listed
    started = {i: p for p, i in server.demo_processes().items()}
    members = set(started)
    assert len(members) == 2

    plain = server.create()
    assert plain["status"] == "ready" and plain["id"] in members  # served from the pool
    assert server.demo(plain["id"], "portal").json()["total"] == 5
    pid_before = next(p for p, i in server.demo_processes().items() if i == plain["id"])
    personal = server.create(prospect={"company": "Initech"})
    assert personal["id"] in members and personal["status"] == "provisioning"
    server.wait_status(personal["id"], "ready")
    pids = {i: p for p, i in server.demo_processes().items()}
    assert pids[plain["id"]] == pid_before == started[plain["id"]]  # nothing to personalise
    assert pids[personal["id"]] != started[personal["id"]]  # restarted with its prospect
    assert server.demo(personal["id"], "portal").status_code == 200
    assert _pool(server)["claims"] == 2

    _wait_ready_members(server, 2)  # refilled
    server.kill()
    again: Server = make_server(tmp_path / "home", server.port).start()
    assert {i["id"] for i in again.http.get("/api/v1/demo-instances").json()["items"]} == {
        plain["id"],
        personal["id"],
    }
    for instance_id in (plain["id"], personal["id"]):
        assert again.get(instance_id)["status"] == "ready"
        assert again.demo(instance_id, "portal").status_code == 200
    _wait_ready_members(again, 2)
    assert len(set(again.demo_processes().values())) == 4  # two claimed, two members: no orphan
    assert again.http.put("/api/v1/warm-pool/agency", json={"target": 0}).status_code == 200
    deadline = time.monotonic() + 30
    while len(set(again.demo_processes().values())) > 2:
        assert time.monotonic() < deadline, "the pool was not emptied"
        time.sleep(0.1)
