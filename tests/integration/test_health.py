"""Health is HTTP, not a pid: the router's total time-out against a hung demo, and healing of a
demo service that is alive but stopped answering (restarted, bounded, then `degraded`)."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import BinaryIO

import httpx
import pytest

from demo_orchestrator.router import HostRouter, RouteDecision, Upstream
from tests.conftest import Server, sign_in
from tests.integration.test_router_proxy import ServerThread, inner_app
from tests.integration.test_router_upstream import Demo

pytestmark = pytest.mark.timeout(120)

DEMO = "demo-hung01"


# --- the router: a total time-out -----------------------------------------------------------------


@pytest.fixture
def hung_demo() -> Iterator[Demo]:
    def hangs(sock: socket.socket, rfile: BinaryIO, index: int, demo: Demo) -> None:
        demo.read(rfile)  # takes the request, then never answers
        demo.stop.wait(60)

    demo = Demo(hangs)
    yield demo
    demo.close()


def test_a_hung_demo_gets_a_504_page_within_the_total_timeout(hung_demo: Demo) -> None:
    async def resolve(instance_id: str, route: str) -> RouteDecision:
        return RouteDecision("proxy", instance_id, Upstream("127.0.0.1", hung_demo.port))

    # The read time-out alone would hold the request for 60 s, past the client's 10 s: only the
    # total time-out can answer in time.
    router = HostRouter(
        inner_app(),
        base_domain="localhost",
        resolve=resolve,
        read_timeout=60,
        total_timeout=0.5,
    )
    with ServerThread(router, router) as front:
        url = f"http://127.0.0.1:{front.port}/slow"
        host = {"Host": f"{DEMO}.portal.localhost"}
        page = httpx.get(url, headers=host, timeout=10, trust_env=False)
        problem = httpx.get(
            url, headers={**host, "Accept": "application/json"}, timeout=10, trust_env=False
        )
    assert page.status_code == 504
    assert "text/html" in page.headers["content-type"]
    assert "took too long" in page.text and DEMO in page.text
    assert problem.status_code == 504
    assert problem.headers["content-type"] == "application/problem+json"
    assert problem.json()["instance_id"] == DEMO
    assert hung_demo.seen == ["GET /slow", "GET /slow"]  # it reached the demo, which hung


# --- healing: a real demo process that is alive but does not answer -------------------------------

HEALING = {
    "DEMO_HEAL_SECONDS": "0.5",
    "DEMO_HEAL_RESTARTS": "2",
    "DEMO_PROBE_TIMEOUT_SECONDS": "0.5",
    "DEMO_ROUTER_READ_TIMEOUT_SECONDS": "1",
    "DEMO_IDLE_MINUTES": "0",
    "DEMO_ADMIN_PASSWORD": "Copper-Lantern-Healing-4821",
}


def _web_pid(server: Server, instance_id: str) -> int | None:
    """The pid of the demo's one service, as the runtime recorded it (None while restarting)."""
    path = server.home / "runtime" / instance_id / "runtime.json"
    try:
        return int(json.loads(path.read_text())["web"]["pid"])
    except (OSError, ValueError, KeyError):
        return None


def _wait(check: Callable[[], bool], timeout: float = 60, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what} never held"
        time.sleep(0.05)


def _answering_again(server: Server, instance_id: str, old_pid: int) -> bool:
    instance = server.get(instance_id)
    pid = _web_pid(server, instance_id)
    return (
        instance["status"] == "ready"
        and pid is not None
        and pid != old_pid
        and server.demo(instance_id, "portal").status_code == 200
    )


@pytest.fixture
def healing(make_server: Callable[..., Server]) -> Iterator[Server]:
    server = make_server(**HEALING).start()
    stopped: list[int] = []
    server.stopped = stopped  # type: ignore[attr-defined]
    yield server
    for pid in stopped:  # whatever is left of them: continue and kill (they are ours)
        for sig in (signal.SIGCONT, signal.SIGKILL):
            try:
                os.killpg(pid, sig)  # a service leads its own process group
            except ProcessLookupError:
                pass


def _hang(server: Server, pid: int) -> None:
    """The service stays alive (its pid runs) but answers nothing: SIGSTOP to its process group
    (a sandboxed service is bubblewrap's child in the group of the recorded pid)."""
    os.killpg(os.getpgid(pid), signal.SIGSTOP)
    server.stopped.append(pid)  # type: ignore[attr-defined]


def test_a_hung_service_is_restarted_and_the_demo_answers_again(healing: Server) -> None:
    server = healing
    instance_id = server.create()["id"]
    ready = server.wait_status(instance_id, "ready", "failed")
    assert ready["status"] == "ready"
    assert ready["health"]["state"] == "ok" and ready["health"]["reason"] is None
    pid = _web_pid(server, instance_id)
    assert pid is not None
    _hang(server, pid)
    _wait(lambda: _answering_again(server, instance_id, pid), what="restart")
    healed = server.get(instance_id)
    assert healed["health"]["state"] == "ok"
    assert not processes_alive(pid)  # the hung process was stopped, not left behind
    audit = server.http.get(f"/api/v1/demo-instances/{instance_id}/audit").json()["items"]
    heals = [a for a in audit if a["action"] == "heal"]
    assert heals and "does not answer /healthz" in heals[0]["detail"]["reason"]
    assert "restart 1 of 2" in heals[0]["detail"]["reason"]


def test_a_service_that_keeps_hanging_is_restarted_a_bounded_number_of_times_then_degraded(
    healing: Server,
) -> None:
    server = healing
    instance_id = server.create()["id"]
    assert server.wait_status(instance_id, "ready", "failed")["status"] == "ready"
    hung: list[int] = []

    def hang_whatever_runs() -> bool:
        """Hang each new process as soon as it is ready; done once the demo shows degraded."""
        instance = server.get(instance_id)
        if instance["health"]["state"] == "degraded":
            return True
        pid = _web_pid(server, instance_id)
        fresh = instance["status"] == "ready" and pid is not None and pid not in hung
        if fresh and pid is not None and server.demo(instance_id, "portal").status_code == 200:
            hung.append(pid)
            _hang(server, pid)
        return False

    _wait(hang_whatever_runs, timeout=90, what="degraded")
    degraded = server.get(instance_id)
    assert degraded["status"] == "ready"  # a field, not a new status
    health = degraded["health"]
    assert health["state"] == "degraded"
    assert "does not answer /healthz" in health["reason"]
    assert "restarted 2 time(s)" in health["reason"]
    assert datetime.fromisoformat(health["since"]) >= datetime.fromisoformat(degraded["created_at"])
    assert len(hung) == 3  # the first process and the two restarts: bounded
    audit = server.http.get(f"/api/v1/demo-instances/{instance_id}/audit").json()["items"]
    assert [a["action"] for a in audit].count("heal") == 2
    assert "health.degraded" in [a["action"] for a in audit]
    # The list shows it too, and requests to the hung demo end in a 504, not a hung request.
    listed = server.http.get("/api/v1/demo-instances", params={"limit": 500}).json()["items"]
    assert next(i for i in listed if i["id"] == instance_id)["health"] == health
    assert server.demo(instance_id, "portal").status_code == 504
    metrics = httpx.get(f"{server.url}/metrics", timeout=10, trust_env=False).text
    assert 'demo_health_changes_total{state="degraded"} 1.0' in metrics
    # The admin's detail page says so.
    with httpx.Client(base_url=server.url, trust_env=False) as browser:
        signed = sign_in(browser, "admin", HEALING["DEMO_ADMIN_PASSWORD"])
        assert signed.status_code == 303
        page = browser.get(f"/portal/admin/demo-instances/{instance_id}")
    assert page.status_code == 200 and 'id="health"' in page.text and "Degraded" in page.text
    # No restart is made while degraded; once the service answers again, the demo is ok again.
    os.killpg(hung[-1], signal.SIGCONT)
    _wait(lambda: server.get(instance_id)["health"]["state"] == "ok", what="ok again")
    assert _web_pid(server, instance_id) == hung[-1]
    again = server.get(instance_id)["health"]
    assert again["reason"] is None and again["since"] > health["since"]


def processes_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
