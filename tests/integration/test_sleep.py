"""Sleep and wake on a real server: processes stop and data stays; the first request wakes the
demo and is held until it answers, saying so in `Server-Timing`; idle demos sleep by themselves."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from tests.conftest import Server


def _items(server: Server, instance_id: str) -> int:
    path = server.home / "databases" / f"{instance_id}.db"
    return int(sqlite3.connect(path).execute("SELECT count(*) FROM items").fetchone()[0])


def test_sleep_stops_the_processes_keeps_the_data_and_a_request_wakes_it(
    make_server: Any,
) -> None:
    server: Server = make_server(DEMO_IDLE_MINUTES="0").start()
    instance_id = server.create()["id"]
    server.wait_status(instance_id, "ready")
    with sqlite3.connect(server.home / "databases" / f"{instance_id}.db") as db:
        db.execute("INSERT INTO items (name) VALUES ('made during the demo')")
    assert server.demo(instance_id, "portal").json()["total"] == 6
    asleep = server.http.post(f"/api/v1/demo-instances/{instance_id}/sleep")
    assert asleep.status_code == 202
    instance = server.wait_status(instance_id, "sleeping")
    assert instance_id not in server.demo_processes().values()
    assert {s["name"]: s["status"] for s in instance["steps"]}["deploy"] == "pending"
    assert _items(server, instance_id) == 6  # the data stays
    again = server.http.post(f"/api/v1/demo-instances/{instance_id}/sleep")
    assert again.status_code == 202  # asking twice is fine

    started = time.monotonic()
    woken = server.demo(instance_id, "portal")  # held while the demo wakes, then answered
    took = time.monotonic() - started
    assert woken.status_code == 200 and woken.json()["total"] == 6
    timing = woken.headers["server-timing"]
    assert timing.startswith("wake;dur=") and 'desc="cold start"' in timing
    assert float(timing.split("dur=")[1].split(";")[0]) <= took * 1000 + 1
    assert server.get(instance_id)["status"] == "ready"
    assert "server-timing" not in server.demo(instance_id, "portal").headers  # only the first
    actions = [
        a["action"]
        for a in server.http.get(f"/api/v1/demo-instances/{instance_id}/audit").json()["items"]
    ]
    assert actions[-2:] == ["sleep", "wake"]


def test_sleep_and_wake_by_hand_and_their_conflicts(make_server: Any) -> None:
    server: Server = make_server(DEMO_IDLE_MINUTES="0").start()
    instance_id = server.create()["id"]
    early = server.http.post(f"/api/v1/demo-instances/{instance_id}/wake")
    assert early.status_code == 409 and "only a sleeping demo" in early.json()["detail"]
    server.wait_status(instance_id, "ready")
    assert server.http.post(f"/api/v1/demo-instances/{instance_id}/sleep").status_code == 202
    server.wait_status(instance_id, "sleeping")
    cost = server.get(instance_id)["cost"]
    assert 0 < cost["sleeping_hourly_usd"] < cost["hourly_usd"]
    assert server.http.post(f"/api/v1/demo-instances/{instance_id}/wake").status_code == 202
    server.wait_status(instance_id, "ready")
    assert server.demo(instance_id, "portal").status_code == 200
    assert server.http.delete(f"/api/v1/demo-instances/{instance_id}").status_code == 202
    server.wait_status(instance_id, "deleted")
    gone = server.http.post(f"/api/v1/demo-instances/{instance_id}/sleep")
    assert gone.status_code == 409


def test_an_idle_demo_sleeps_by_itself_and_a_used_one_does_not(make_server: Any) -> None:
    server: Server = make_server(DEMO_IDLE_MINUTES="0.04", DEMO_HEAL_SECONDS="0.3").start()
    idle = server.create()["id"]
    used = server.create()["id"]
    server.wait_status(idle, "ready")
    server.wait_status(used, "ready")
    deadline = time.monotonic() + 20
    while server.get(idle)["status"] != "sleeping":
        assert server.demo(used, "portal").status_code == 200  # keeps `used` busy
        assert time.monotonic() < deadline, "the idle demo never went to sleep"
        time.sleep(0.2)
    assert server.get(used)["status"] == "ready"
    assert idle not in server.demo_processes().values()
    audit = server.http.get(f"/api/v1/demo-instances/{idle}/audit").json()["items"]
    assert audit[-1]["action"] == "sleep" and "idle" in audit[-1]["detail"]["reason"]
    assert server.demo(idle, "candidate").status_code == 200  # and a visit wakes it


def test_kill_with_a_sleeping_and_a_waking_demo_then_restart_loses_nothing(
    make_server: Any, tmp_path: Any
) -> None:
    server: Server = make_server(tmp_path / "home", DEMO_IDLE_MINUTES="0").start()
    asleep, waking = server.create()["id"], server.create(scenario="startup")["id"]
    totals = {}
    for instance_id in (asleep, waking):
        server.wait_status(instance_id, "ready")
        with sqlite3.connect(server.home / "databases" / f"{instance_id}.db") as db:
            db.execute("INSERT INTO items (name) VALUES ('made before the crash')")
        totals[instance_id] = server.demo(instance_id, "portal").json()["total"]
        assert server.http.post(f"/api/v1/demo-instances/{instance_id}/sleep").status_code == 202
        server.wait_status(instance_id, "sleeping")
    assert server.http.post(f"/api/v1/demo-instances/{waking}/wake").status_code == 202
    server.kill()  # the wake may be anywhere: asked for, half done or done

    again: Server = make_server(tmp_path / "home", server.port).start()
    assert again.get(asleep)["status"] == "sleeping"
    assert asleep not in again.demo_processes().values()  # nothing started behind its back
    assert again.wait_status(waking, "ready")["status"] == "ready"
    assert again.demo(waking, "portal").json()["total"] == totals[waking]
    woken = again.demo(asleep, "portal")  # a request still wakes it after the restart
    assert woken.status_code == 200 and woken.json()["total"] == totals[asleep]
    owners = list(again.demo_processes().values())
    assert owners.count(asleep) == 1 and owners.count(waking) == 1  # no orphan, no double
    for instance_id in (asleep, waking):
        assert again.http.delete(f"/api/v1/demo-instances/{instance_id}").status_code == 202
        again.wait_status(instance_id, "deleted")
    assert set(again.demo_processes().values()) == set()


def test_a_pages_own_background_requests_neither_wake_nor_keep_a_demo_awake(
    make_server: Any,
) -> None:
    """An open tab polls `/__demo/lifetime` and reconnects its event stream: that must not undo a
    sleep (it did within seconds) nor count as a visit; a real page request still wakes it."""
    server: Server = make_server(DEMO_IDLE_MINUTES="0").start()
    instance_id = server.create()["id"]
    server.wait_status(instance_id, "ready")
    assert server.http.post(f"/api/v1/demo-instances/{instance_id}/sleep").status_code == 202
    server.wait_status(instance_id, "sleeping")
    for path in ("/__demo/lifetime", "/__demo/events", "/__demo/anything"):
        answer = server.demo(instance_id, "portal", path)
        assert answer.status_code == 503, (path, answer.status_code)  # the "starting" answer
    time.sleep(1.0)  # a wake would have begun by now
    assert server.get(instance_id)["status"] == "sleeping"
    assert instance_id not in server.demo_processes().values()
    woken = server.demo(instance_id, "portal")
    assert woken.status_code == 200
    assert server.get(instance_id)["status"] == "ready"
