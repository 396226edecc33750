"""kill -9 of the orchestrator at any point: after a restart nothing is lost and nothing leaks."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from tests.conftest import Server, instance_files


def test_kill_during_provisioning_then_restart_converges(make_server: Any, tmp_path: Any) -> None:
    # Health fails a few times with back-off, so provisioning lasts long enough to be killed.
    slow = make_server(
        tmp_path / "home",
        DEMO_FAULT_INJECTION="health:50",
        DEMO_RETRY_BASE_SECONDS="0.3",
        DEMO_STEP_RETRIES="60",
    ).start()
    first = slow.create()["id"]
    second = slow.create(scenario="startup")["id"]
    slow.wait_deployed(first)
    slow.wait_deployed(second)
    doomed = slow.create()["id"]
    slow.wait_deployed(doomed)
    assert slow.http.delete(f"/api/v1/demo-instances/{doomed}").status_code == 202
    slow.kill()
    assert {first, second} <= set(slow.demo_processes().values())  # demos outlive the crash

    again: Server = make_server(tmp_path / "home", slow.port).start()
    for instance_id in (first, second):
        ready = again.wait_status(instance_id, "ready", timeout=30)
        assert ready["status"] == "ready"
        assert again.demo(instance_id, "portal").status_code == 200
    again.wait_status(doomed, "deleted", timeout=30)
    owners = list(again.demo_processes().values())
    assert owners.count(first) == 1 and owners.count(second) == 1 and doomed not in owners
    assert instance_files(again.home, doomed) == []
    listed = {i["id"] for i in again.http.get("/api/v1/demo-instances").json()["items"]}
    assert {first, second, doomed} <= listed


def test_kill_while_ready_keeps_demos_and_adopts_their_processes(
    make_server: Any, tmp_path: Any
) -> None:
    server: Server = make_server(tmp_path / "home").start()
    instance_id = server.create()["id"]
    server.wait_status(instance_id, "ready")
    pids_before = {p for p, owner in server.demo_processes().items() if owner == instance_id}
    server.kill()
    server.start()
    after = server.wait_status(instance_id, "ready")
    assert after["status"] == "ready"
    pids_after = {p for p, owner in server.demo_processes().items() if owner == instance_id}
    assert pids_after == pids_before  # adopted, not restarted
    assert server.demo(instance_id, "candidate").status_code == 200
    server.http.delete(f"/api/v1/demo-instances/{instance_id}")
    server.wait_status(instance_id, "deleted")
    assert instance_id not in server.demo_processes().values()


def test_orphans_the_store_does_not_know_are_swept_at_start(
    make_server: Any, tmp_path: Any
) -> None:
    server: Server = make_server(tmp_path / "home").start()
    kept = server.create()["id"]
    orphan = server.create()["id"]
    server.wait_status(kept, "ready")
    server.wait_status(orphan, "ready")
    server.kill()
    # The store forgets one instance (say, restored from an older backup).
    db = sqlite3.connect(server.home / "orchestrator.db")
    db.execute("DELETE FROM steps WHERE instance_id = ?", (orphan,))
    db.execute("DELETE FROM instances WHERE id = ?", (orphan,))
    db.commit()
    db.close()
    assert orphan in server.demo_processes().values()
    server.start()
    deadline = time.monotonic() + 15
    while orphan in server.demo_processes().values() or instance_files(server.home, orphan):
        assert time.monotonic() < deadline, "orphan not swept"
        time.sleep(0.1)
    assert server.get(kept)["status"] == "ready"
    assert kept in server.demo_processes().values()


def test_a_demo_whose_process_dies_is_started_again(make_server: Any) -> None:
    import os
    import signal

    server: Server = make_server(DEMO_HEAL_SECONDS="0.5").start()
    instance_id = server.create()["id"]
    server.wait_status(instance_id, "ready")
    [pid] = [p for p, owner in server.demo_processes().items() if owner == instance_id]
    os.killpg(pid, signal.SIGKILL)  # its group: sandboxed, it is bwrap and the service inside
    deadline = time.monotonic() + 20
    while True:
        pids = [p for p, owner in server.demo_processes().items() if owner == instance_id]
        if pids and pids != [pid] and server.get(instance_id)["status"] == "ready":
            break
        assert time.monotonic() < deadline, "the dead demo was not started again"
        time.sleep(0.1)
    assert server.demo(instance_id, "portal").status_code == 200
    audit = server.http.get(f"/api/v1/demo-instances/{instance_id}/audit").json()["items"]
    assert audit[-1]["action"] == "heal" and "not running" in audit[-1]["detail"]["reason"]
