"""Event streams fed by the change feed, their caps, and the create rate, over real HTTP.

The orchestrator runs in this process (real SQLite store, real change feed, uvicorn on a loopback
port; the engine is off and the providers are fakes, since no demo has to run), so a test can
count the store reads each thread makes. The clients are raw sockets speaking HTTP/1.1: closing
one is exactly a browser tab going away.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy.orm import Session

from demo_orchestrator.app import create_app
from demo_orchestrator.bootstrap import Orchestrator, bootstrap
from demo_orchestrator.domain.blueprint import load_blueprint
from demo_orchestrator.engine.service import Principal
from demo_orchestrator.serving.sse import hub_of
from demo_orchestrator.settings import Settings
from tests.fakes.engine import TINY, FakeClock, FakeDatabase, FakeRuntime
from tests.integration.test_router_proxy import ServerThread

pytestmark = pytest.mark.timeout(60)

TOKEN = "test-admin-token-0123456789"
ADMIN = Principal("admin", "admin")
# Threads that read the store on their own schedule, whatever the streams do.
BACKGROUND = {"change-feed", "feed-listen", "request-log"}


@dataclass
class Running:
    orchestrator: Orchestrator
    port: int
    reads: Counter[str] = field(default_factory=Counter)  # store reads by thread name

    def http(self, token: str = TOKEN) -> httpx.Client:
        return httpx.Client(
            base_url=f"http://127.0.0.1:{self.port}",
            headers={"Authorization": f"Bearer {token}"},
            trust_env=False,
            timeout=10,
        )


def _start(tmp_path: Path, **settings: Any) -> Iterator[Running]:
    orchestrator = _orchestrator(tmp_path, **settings)
    orchestrator.start()
    running = Running(orchestrator, 0)
    db = orchestrator.ctx.db
    original = db.read

    def counted() -> AbstractContextManager[Session]:
        running.reads[threading.current_thread().name] += 1
        return original()

    db.read = counted  # type: ignore[method-assign]
    with ServerThread(create_app(orchestrator)) as server:
        running.port = server.port
        yield running
    orchestrator.stop()


def _orchestrator(home: Path, **settings: Any) -> Orchestrator:
    """An API-only orchestrator (engine off, fake providers) on a real store and change feed."""
    blueprint = load_blueprint(TINY)
    values: dict[str, Any] = {
        "home": home,
        "blueprint": "tiny",
        "admin_token": TOKEN,
        "engine": False,
        "prebuild_templates": False,
        "feed_poll_seconds": 0.05,
        **settings,
    }
    return bootstrap(
        Settings(**values),
        runtime=FakeRuntime([], FakeClock()),
        database=FakeDatabase([]),
        blueprints={blueprint.name: blueprint},
    )


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    yield from _start(tmp_path, max_streams_per_user=50, max_streams=100)


class SseClient:
    """One event stream on a raw socket; `events` fills in from a reader thread."""

    def __init__(self, port: int, path: str, token: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            "Accept: text/event-stream\r\n\r\n".encode()
        )
        self.status = 0
        self.head = ""
        self.body = ""
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.got = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        buffer = b""
        try:
            while chunk := self.sock.recv(65536):
                buffer += chunk
                with self.got:
                    if not self.status and b"\r\n\r\n" in buffer:
                        head, _, buffer = buffer.partition(b"\r\n\r\n")
                        self.head = head.decode()
                        self.status = int(self.head.split(" ", 2)[1])
                    self.body += buffer.decode(errors="replace")
                    buffer = b""
                    self.events = _parse(self.body)
                    self.got.notify_all()
        except OSError:
            pass

    def wait_for(self, check: Callable[[SseClient], bool], timeout: float = 10) -> None:
        with self.got:
            assert self.got.wait_for(lambda: check(self), timeout), (self.head, self.body)

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def _parse(text: str) -> list[tuple[str, dict[str, Any]]]:
    """Events of a chunked text/event-stream body (chunk sizes are skipped as non-field lines)."""
    events = []
    kind, data = "", ""
    for line in text.replace("\r\n", "\n").split("\n"):
        if line.startswith("event:"):
            kind = line[6:].strip()
        elif line.startswith("data:"):
            data = line[5:].strip()
        elif not line and data:
            events.append((kind, json.loads(data)))
            kind, data = "", ""
    return events


def _snapshot(client: SseClient) -> bool:
    return any(kind == "snapshot" for kind, _ in client.events)


def _poll(check: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.01)


def _new_instance(running: Running) -> str:
    instance, _ = running.orchestrator.instances.create(ADMIN, _create())
    return str(instance["id"])


def _create() -> Any:
    from demo_orchestrator.engine.service import CreateInstance

    return CreateInstance(scenario="agency", duration_hours=1)


# --- fed by the change feed ---------------------------------------------------------------------


def test_idle_streams_read_nothing_and_a_change_reaches_every_one(running: Running) -> None:
    instance_id = _new_instance(running)
    path = f"/api/v1/demo-instances/{instance_id}/events"
    clients = [SseClient(running.port, path, TOKEN) for _ in range(20)]
    try:
        for client in clients:
            client.wait_for(_snapshot)
        assert all(c.status == 200 and "text/event-stream" in c.head for c in clients)
        running.reads.clear()
        # Several rounds of the feed's own safety-net read go by while the streams are idle.
        _poll(lambda: running.reads["change-feed"] >= 5)
        idle = {name: n for name, n in running.reads.items() if name not in BACKGROUND}
        assert idle == {}, f"idle streams read the store: {idle}"

        running.reads.clear()
        running.orchestrator.instances.extend(ADMIN, instance_id, 1)
        for client in clients:
            client.wait_for(lambda c: any(kind == "expiry" for kind, _ in c.events))
        by_streams = {  # MainThread: the extend itself, made by this test
            name: n for name, n in running.reads.items() if name not in BACKGROUND | {"MainThread"}
        }
        assert by_streams == {}, f"a change made the streams read the store: {by_streams}"
        extended = [data for kind, data in clients[0].events if kind == "expiry"]
        assert extended and extended[0]["id"] > 0  # the wire format: id, kind, at, data
    finally:
        for client in clients:
            client.close()


@pytest.mark.postgres
def test_a_stream_on_one_replica_follows_changes_made_by_another(
    tmp_path: Path, pg_databases: Callable[[], str]
) -> None:
    url = pg_databases()
    key = Fernet.generate_key().decode()  # replicas share the store's key
    # The streams' replica reads its feed on its own only every 30 s: what reaches it sooner
    # came by PostgreSQL's NOTIFY from the other replica's commit.
    started = _start(tmp_path / "a", store_url=url, feed_poll_seconds=30, secret_key=key)
    running = next(started)
    other = _orchestrator(tmp_path / "b", store_url=url, secret_key=key)
    other.start()
    try:
        instance_id = _new_instance(running)
        client = SseClient(running.port, f"/api/v1/demo-instances/{instance_id}/events", TOKEN)
        try:
            client.wait_for(_snapshot)
            other.instances.extend(ADMIN, instance_id, 1)
            client.wait_for(lambda c: any(kind == "expiry" for kind, _ in c.events))
        finally:
            client.close()
    finally:
        other.stop()
        next(started, None)


# --- caps -----------------------------------------------------------------------------------------


@pytest.fixture
def capped(tmp_path: Path) -> Iterator[Running]:
    yield from _start(tmp_path, max_streams_per_user=2, max_streams=3)


def test_stream_caps_per_user_and_in_total_free_up_when_clients_leave(capped: Running) -> None:
    instance_id = _new_instance(capped)
    path = f"/api/v1/demo-instances/{instance_id}/events"
    viewer, _ = capped.orchestrator.accounts.create_token(user="vera", role="viewer")
    caps = hub_of(capped.orchestrator).caps
    mine = [SseClient(capped.port, path, TOKEN) for _ in range(2)]
    others: list[SseClient] = []
    try:
        for client in mine:
            client.wait_for(_snapshot)
        with capped.http() as http:
            refused = http.get(path)
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert int(refused.headers["retry-after"]) >= 1
        assert "DEMO_MAX_STREAMS_PER_USER=2" in refused.json()["detail"]

        others.append(SseClient(capped.port, path, viewer))
        others[0].wait_for(_snapshot)
        with capped.http(viewer) as http:
            full = http.get(path)
        assert full.status_code == 429 and "DEMO_MAX_STREAMS" in full.json()["detail"]
        assert caps.open_count() == 3

        mine[0].close()  # a client going away frees its slot, though its stream was idle
        _poll(lambda: caps.open_count("admin") == 1)
        again = SseClient(capped.port, path, TOKEN)
        mine.append(again)
        again.wait_for(_snapshot)
        assert again.status == 200
    finally:
        for client in mine + others:
            client.close()
    _poll(lambda: caps.open_count() == 0)


# --- create rate ----------------------------------------------------------------------------------


@pytest.fixture
def rated(tmp_path: Path) -> Iterator[Running]:
    yield from _start(tmp_path, create_rate_per_user="3/minute")


def test_creates_past_the_rate_get_429_with_retry_after_per_user(rated: Running) -> None:
    body = {"scenario": "agency", "duration_hours": 1}
    sales, _ = rated.orchestrator.accounts.create_token(user="sam", role="sales")
    with rated.http() as http:
        made = [http.post("/api/v1/demo-instances", json=body) for _ in range(3)]
        assert [r.status_code for r in made] == [202, 202, 202]
        refused = http.post("/api/v1/demo-instances", json=body)
        listed = http.get("/api/v1/demo-instances", params={"limit": 500}).json()["items"]
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    problem = refused.json()
    assert "3/minute" in problem["detail"] and "DEMO_CREATE_RATE_PER_USER" in problem["detail"]
    assert len(listed) == 3  # the refused create made nothing
    with rated.http(sales) as http:  # another user has a rate of their own
        assert http.post("/api/v1/demo-instances", json=body).status_code == 202


def test_a_create_rate_that_is_not_a_rate_is_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a rate"):
        Settings(home=tmp_path, create_rate_per_user="lots")


def test_the_ui_create_form_shares_the_rate(rated: Running) -> None:
    accounts = rated.orchestrator.accounts
    cookie = accounts.start_session(ADMIN)
    found = accounts.session_of(cookie, source=None)
    assert found is not None
    form = {"csrf_token": found[1], "scenario": "agency", "duration_hours": "1"}
    with httpx.Client(
        base_url=f"http://127.0.0.1:{rated.port}",
        cookies={"demo_session": cookie},
        trust_env=False,
        timeout=10,
    ) as browser:
        made = [browser.post("/portal/admin/demo-instances", data=form) for _ in range(2)]
        assert [r.status_code for r in made] == [303, 303]
    with rated.http() as http:  # the API's creates count towards the same user's rate
        assert http.post("/api/v1/demo-instances", json={"duration_hours": 1}).status_code == 202
    with httpx.Client(
        base_url=f"http://127.0.0.1:{rated.port}",
        cookies={"demo_session": cookie},
        trust_env=False,
        timeout=10,
    ) as browser:
        refused = browser.post("/portal/admin/demo-instances", data=form)
    assert refused.status_code == 429
    assert "DEMO_CREATE_RATE_PER_USER" in refused.text and "try again in" in refused.text
