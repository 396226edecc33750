"""kill -9 of a real `democtl serve` whose demos are forked by the fork-server (blueprint
tiny-fork: `web` forked, `side` started with its command): the fork-server and its children
outlive the crash, the new orchestrator adopts both, forks new demos from the same parent, and
deletes or sweeps forked children it finds only by their pidfiles."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from demo_orchestrator.providers import processes
from tests.conftest import ROOT, Server, instance_files

FORK = ROOT / "tests" / "blueprints" / "tiny_fork.yaml"


def forked_server(make_server: Any, home: Path, port: int | None = None, **extra: str) -> Server:
    server: Server = make_server(
        home,
        port,
        DEMO_BLUEPRINT="tiny-fork",
        DEMO_BLUEPRINT_PATHS=json.dumps([str(FORK)]),
        **extra,
    )
    return server


def fork_server_pids(home: Path) -> set[int]:
    found = set()
    for path in (home / "forkservers").glob("*/server.json"):
        info = json.loads(path.read_text())
        if processes.is_alive(info["pid"], info["started"]):
            found.add(info["pid"])
    return found


def web_pid(server: Server, instance_id: str) -> int:
    runtime = json.loads((server.home / "runtime" / instance_id / "runtime.json").read_text())
    assert runtime["web"]["via"] == "fork"
    return int(runtime["web"]["pid"])


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def test_kill_while_ready_adopts_the_fork_server_and_its_children(
    make_server: Any, tmp_path: Path
) -> None:
    server = forked_server(make_server, tmp_path / "home").start()
    first = server.create()["id"]
    server.wait_status(first, "ready")
    before = {p for p, owner in server.demo_processes().items() if owner == first}
    assert len(before) == 2  # web (forked, found by its pidfile) and side (by its environment)
    [parent] = fork_server_pids(server.home)
    assert parent_of(web_pid(server, first)) == parent
    server.kill()
    assert fork_server_pids(server.home) == {parent}  # it outlives the orchestrator
    server.start()
    assert server.wait_status(first, "ready")["status"] == "ready"
    assert {p for p, owner in server.demo_processes().items() if owner == first} == before
    assert server.demo(first, "portal").json()["instance"] == first  # the forked service
    assert server.demo(first, "candidate").status_code == 200
    second = server.create()["id"]
    server.wait_status(second, "ready")
    assert parent_of(web_pid(server, second)) == parent  # adopted: no second fork-server
    for instance_id in (first, second):
        server.http.delete(f"/api/v1/demo-instances/{instance_id}")
        server.wait_status(instance_id, "deleted")
    assert not set(server.demo_processes().values()) & {first, second}
    assert fork_server_pids(server.home) == {parent}


def test_kill_during_provisioning_then_restart_leaves_one_process_per_service(
    make_server: Any, tmp_path: Path
) -> None:
    slow = forked_server(
        make_server,
        tmp_path / "home",
        DEMO_FAULT_INJECTION="health:50",
        DEMO_RETRY_BASE_SECONDS="0.3",
        DEMO_STEP_RETRIES="60",
    ).start()
    instance_id = slow.create()["id"]
    slow.wait_deployed(instance_id)
    doomed = slow.create()["id"]
    slow.wait_deployed(doomed)
    assert slow.http.delete(f"/api/v1/demo-instances/{doomed}").status_code == 202
    slow.kill()
    again = forked_server(make_server, tmp_path / "home", slow.port).start()
    assert again.wait_status(instance_id, "ready", timeout=30)["status"] == "ready"
    again.wait_status(doomed, "deleted", timeout=30)
    owners = list(again.demo_processes().values())
    assert owners.count(instance_id) == 2 and doomed not in owners
    assert instance_files(again.home, doomed) == []


def test_forked_orphans_the_store_does_not_know_are_swept(make_server: Any, tmp_path: Path) -> None:
    server = forked_server(make_server, tmp_path / "home").start()
    kept, orphan = server.create()["id"], server.create()["id"]
    server.wait_status(kept, "ready")
    server.wait_status(orphan, "ready")
    orphan_web = web_pid(server, orphan)
    server.kill()
    db = sqlite3.connect(server.home / "orchestrator.db")
    db.execute("DELETE FROM steps WHERE instance_id = ?", (orphan,))
    db.execute("DELETE FROM instances WHERE id = ?", (orphan,))
    db.commit()
    db.close()
    server.start()
    deadline = time.monotonic() + 15
    while processes.is_alive(orphan_web, None) or instance_files(server.home, orphan):
        assert time.monotonic() < deadline, "forked orphan not swept"
        time.sleep(0.1)
    assert server.get(kept)["status"] == "ready"
    assert server.demo(kept, "portal").status_code == 200
