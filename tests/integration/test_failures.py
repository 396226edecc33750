"""Retries, give-up and rollback: a step that fails twice then passes ends ready; one that always
fails ends `failed` with its error on the step and nothing left behind."""

from __future__ import annotations

from typing import Any

from tests.conftest import Server, instance_files


def test_a_step_failing_twice_then_passing_ends_ready(make_server: Any) -> None:
    server: Server = make_server(DEMO_FAULT_INJECTION="deploy:2").start()
    instance = server.create()
    ready = server.wait_status(instance["id"], "ready", "failed")
    assert ready["status"] == "ready"
    deploy = next(s for s in ready["steps"] if s["name"] == "deploy")
    assert deploy["retries"] == 2 and deploy["status"] == "done" and deploy["error"] is None
    assert server.demo(instance["id"], "portal").status_code == 200
    assert list(server.demo_processes().values()).count(instance["id"]) == 1


def test_a_step_that_always_fails_ends_failed_and_leaves_nothing(make_server: Any) -> None:
    server: Server = make_server(
        DEMO_FAULT_INJECTION="routes:always", DEMO_STEP_RETRIES="2"
    ).start()
    instance = server.create()
    failed = server.wait_status(instance["id"], "failed", timeout=30)
    routes = next(s for s in failed["steps"] if s["name"] == "routes")
    assert routes["status"] == "failed" and routes["retries"] == 2
    assert "injected fault in step routes" in routes["error"]
    assert failed["error"].startswith("routes: injected fault")
    deploy = next(s for s in failed["steps"] if s["name"] == "deploy")
    assert deploy["status"] == "torn_down"
    assert instance["id"] not in server.demo_processes().values()
    assert instance_files(server.home, instance["id"]) == []
    assert server.demo(instance["id"], "portal").status_code == 502  # the failed page
    # a failed demo can still be deleted, and ends deleted
    assert server.http.delete(f"/api/v1/demo-instances/{instance['id']}").status_code == 202
    server.wait_status(instance["id"], "deleted")


def test_a_service_that_cannot_start_fails_with_its_output(make_server: Any) -> None:
    server: Server = make_server(DEMO_STEP_RETRIES="1").start()
    instance = server.create(scenario="broken")
    failed = server.wait_status(instance["id"], "failed", timeout=30)
    health = next(s for s in failed["steps"] if s["name"] == "health")
    assert health["status"] == "failed"
    assert "exited during start-up" in health["error"] and "refusing to start" in health["error"]
    assert instance["id"] not in server.demo_processes().values()
    assert instance_files(server.home, instance["id"]) == []
