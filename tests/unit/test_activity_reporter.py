"""The stack's engagement reporter (splits_stack/services/activity.py) against a real HTTP
receiver: visits are counted per (minute, persona, route, pattern, page) and sent as one batch
with the demo's token; a failed report keeps its counts for the next one, a refused one drops
them; a stack without an orchestrator records nothing."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from splits_stack.services.activity import MAX_KEYS, ActivityReporter, reporter_for

MINUTE = 1_800_000_000.0  # 2027-01-15T08:00:00Z, a whole minute


class Receiver:
    """Answers each POST with the next queued status (204 when none are queued)."""

    def __init__(self) -> None:
        self.posts: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                status = receiver.statuses.pop(0) if receiver.statuses else 202
                if status < 300:
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    headers[":path"] = self.path
                    receiver.posts.append((headers, json.loads(body)))
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.server.shutdown()
    made.server.server_close()


def _reporter(receiver: Receiver, now: list[float]) -> ActivityReporter:
    made = reporter_for(receiver.url, "demo-abc123", "the-demo-token")
    made._clock = lambda: now[0]  # the reporter's own clock hook: no waiting for a minute
    return made


def test_visits_are_counted_per_minute_and_key_and_sent_as_one_batch(receiver: Receiver) -> None:
    now = [MINUTE + 5]
    reporter = _reporter(receiver, now)
    for _ in range(3):
        reporter.record(
            persona="Jordan Reyes", route="portal", path="/jobs/{job_id}", page="/jobs/1"
        )
    reporter.record(persona=None, route="portal", path="/", page="/")
    now[0] = MINUTE + 65  # the next minute: a key of its own
    reporter.record(persona="Jordan Reyes", route="portal", path="/jobs/{job_id}", page="/jobs/1")
    assert reporter.flush() == 3
    assert reporter.pending() == 0
    ((headers, body),) = receiver.posts
    assert headers["authorization"] == "Bearer the-demo-token"
    assert headers[":path"] == "/api/v1/demo-instances/demo-abc123/activity"
    got = sorted(
        ((e["at"], e["persona"], e["path"], e["page"], e["requests"]) for e in body["events"]),
        key=str,
    )
    assert got == [
        ("2027-01-15T08:00:00Z", "Jordan Reyes", "/jobs/{job_id}", "/jobs/1", 3),
        ("2027-01-15T08:00:00Z", None, "/", "/", 1),
        ("2027-01-15T08:01:00Z", "Jordan Reyes", "/jobs/{job_id}", "/jobs/1", 1),
    ]
    assert {e["route"] for e in body["events"]} == {"portal"}
    assert reporter.flush() == 0 and len(receiver.posts) == 1  # nothing new: nothing sent


def test_a_failed_report_is_kept_and_a_refused_one_dropped(receiver: Receiver) -> None:
    now = [MINUTE]
    reporter = _reporter(receiver, now)
    reporter.record(persona="Priya Nair", route="portal", path="/outbox", page="/outbox")
    receiver.statuses = [503]
    assert reporter.flush() == 0 and reporter.pending() == 1  # kept for the next one
    reporter.record(persona="Priya Nair", route="portal", path="/outbox", page="/outbox")
    assert reporter.flush() == 1
    assert receiver.posts[-1][1]["events"][0]["requests"] == 2  # merged, not lost
    reporter.record(persona="Priya Nair", route="portal", path="/outbox", page="/outbox")
    receiver.statuses = [422]
    reporter.flush()
    assert reporter.pending() == 0 and len(receiver.posts) == 1  # refused: dropped, not retried


def test_batches_are_bounded_and_the_background_thread_sends_at_close(receiver: Receiver) -> None:
    now = [MINUTE]
    reporter = _reporter(receiver, now)
    reporter.start()
    for n in range(MAX_KEYS + 10):
        reporter.record(persona=None, route="portal", path="/jobs/{job_id}", page=f"/jobs/{n}")
    reporter.close()
    sizes = sorted(len(body["events"]) for _, body in receiver.posts)
    assert sum(sizes) == MAX_KEYS + 10 and max(sizes) <= MAX_KEYS


def test_without_an_orchestrator_nothing_is_recorded() -> None:
    reporter = reporter_for("", "standalone", "")
    reporter.record(persona="Jordan Reyes", route="portal", path="/", page="/")
    assert not reporter.enabled and reporter.pending() == 0 and reporter.flush() == 0
