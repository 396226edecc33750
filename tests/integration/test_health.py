"""Health is HTTP, not a pid: the router's total time-out against a hung demo, and healing of a
demo service that is alive but stopped answering (restarted, bounded, then `degraded`)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import BinaryIO

import httpx
import pytest

from demo_orchestrator.router import HostRouter, RouteDecision, Upstream
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
