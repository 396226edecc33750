"""A real stack process reports its engagement to the orchestrator URL in its environment: the
persona's sign-in and page views as route patterns, never the query string, with the demo's
activity token; refused, redirected and asset requests are not counted."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.stack.conftest import as_rep, sign_in


class Orchestrator:
    """Stands in for the orchestrator's activity endpoint: keeps every report it is sent."""

    def __init__(self) -> None:
        self.reports: list[tuple[str, str, bytes]] = []
        received = self.reports

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                received.append((self.path, self.headers.get("authorization", ""), body))
                self.send_response(202)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> list[dict[str, Any]]:
        return [e for _, _, body in self.reports for e in json.loads(body)["events"]]

    def wait_for(self, wanted: Any, timeout: float = 20) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if wanted(self.events()):
                return self.events()
            time.sleep(0.1)
        raise AssertionError(f"never reported: {self.events()}")


@pytest.fixture(scope="module")
def orchestrator() -> Iterator[Orchestrator]:
    made = Orchestrator()
    yield made
    made.server.shutdown()
    made.server.server_close()


def _count(events: list[dict[str, Any]], persona: str | None, path: str) -> int:
    return sum(e["requests"] for e in events if e["persona"] == persona and e["path"] == path)


def test_page_views_are_reported_as_patterns_with_the_persona(
    stacks: Any, orchestrator: Orchestrator
) -> None:
    stack = stacks(
        "agency",
        DEMO_ORCHESTRATOR_URL=orchestrator.url,
        DEMO_ACTIVITY_TOKEN="token-of-this-demo",
    )
    instance = stack.env["DEMO_INSTANCE_ID"]
    # First, so that their counts (if any) are sent no later than Jordan's last page below.
    with as_rep(stack) as rep:
        assert rep.get("/").status_code == 303  # the rep alone is sent to the picker
        assert rep.get("/jobs").status_code == 303
    with sign_in(stack, "jordan.reyes@northbridge.example") as jordan:
        assert jordan.get("/jobs/1", params={"x": "secret-query"}).status_code == 200
        assert jordan.get("/jobs/2").status_code == 200
        assert jordan.get("/").status_code == 200
        assert jordan.get("/static/app.css").status_code in {200, 404}
        assert jordan.get("/jobs/999999").status_code == 404  # refused: not counted

    def complete(events: list[dict[str, Any]]) -> bool:
        return _count(events, "Jordan Reyes", "/") >= 1 and (
            _count(events, "Jordan Reyes", "/jobs/{job_id}") >= 2
        )

    events = orchestrator.wait_for(complete)
    assert _count(events, "Jordan Reyes", "/auth/demo-login") == 1  # the sign-in itself
    assert _count(events, "Jordan Reyes", "/jobs/{job_id}") == 2
    assert _count(events, "Jordan Reyes", "/") == 1
    assert {e["page"] for e in events if e["path"] == "/jobs/{job_id}"} == {"/jobs/1", "/jobs/2"}
    assert {e["route"] for e in events} == {"portal"}
    assert not any(e["persona"] is None for e in events)  # redirects are no page views
    assert not any(e["path"].startswith("/static") for e in events)
    for path, authorization, body in orchestrator.reports:
        assert path == f"/api/v1/demo-instances/{instance}/activity"
        assert authorization == "Bearer token-of-this-demo"
        assert b"secret-query" not in body and b"?" not in body
