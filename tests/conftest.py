"""Shared fixtures: a real `democtl serve` process on a free port, with its own DEMO_HOME."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from demo_orchestrator.providers import processes

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "tests" / "blueprints" / "tiny.yaml"
DEMOCTL = str(Path(sys.executable).parent / "democtl")
PG_ADMIN = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
pytest_plugins = ["tests.services"]  # service markers: skip with a summary, or fail under CI=true


def tiny_env(home: Path, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEMO_")}
    env.update(
        {
            "DEMO_HOME": str(home),
            "DEMO_PORT": str(port),
            "DEMO_BLUEPRINT": "tiny",
            "DEMO_BLUEPRINT_PATHS": f'["{TINY}"]',
            "DEMO_ADMIN_TOKEN": "test-admin-token-0123456789",
            "DEMO_TICK_SECONDS": "0.2",
            "DEMO_RETRY_BASE_SECONDS": "0.05",
            "DEMO_STOP_GRACE_SECONDS": "1",
            # Tests that make many demos quickly are not about the create rate (test_streams is).
            "DEMO_CREATE_RATE_PER_USER": "10000/minute",
            "DEMO_URL": f"http://127.0.0.1:{port}",
            "DEMO_TOKEN": "test-admin-token-0123456789",
        }
    )
    env.update(extra)
    return env


def sign_in(
    browser: httpx.Client, username: str, password: str, next_path: str | None = None
) -> httpx.Response:
    """Sign in through the form as a browser does: GET /login (its CSRF cookie and hidden
    token), then POST the form with them."""
    form = browser.get("/login")
    found = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert found, "the sign-in form carries no CSRF token"
    data = {"username": username, "password": password, "csrf_token": found.group(1)}
    if next_path is not None:
        data["next"] = next_path
    return browser.post("/login", data=data)


class Server:
    """A `democtl serve` subprocess; `kill()` is kill -9, `start()` starts it again."""

    def __init__(self, home: Path, port: int | None = None, **extra: str) -> None:
        self.home = home
        self.port = port or processes.free_port()
        self.env = tiny_env(home, self.port, **extra)
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = self.env["DEMO_ADMIN_TOKEN"]
        self.proc: subprocess.Popen[bytes] | None = None
        self.http = httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
            trust_env=False,
        )

    def start(self) -> Server:
        self.home.mkdir(parents=True, exist_ok=True)
        log = (self.home / "server.log").open("ab")
        self.proc = subprocess.Popen(
            [DEMOCTL, "serve"], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"server exited: {(self.home / 'server.log').read_text()[-2000:]}"
                )
            time.sleep(0.05)
        raise RuntimeError("server did not start")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def close(self) -> None:
        self.stop()
        self.http.close()
        # Whatever the test did, leave no demo process (nor fork-server) behind on the machine.
        stop_everything_of(self.home)

    def create(self, **body: Any) -> dict[str, Any]:
        body.setdefault("duration_hours", 1)
        response = self.http.post("/api/v1/demo-instances", json=body)
        assert response.status_code == 202, response.text
        return dict(response.json())

    def get(self, instance_id: str) -> dict[str, Any]:
        response = self.http.get(f"/api/v1/demo-instances/{instance_id}")
        assert response.status_code == 200, response.text
        return dict(response.json())

    def wait_status(self, instance_id: str, *statuses: str, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            instance = self.get(instance_id)
            if instance["status"] in statuses:
                return instance
            if time.monotonic() > deadline:
                raise AssertionError(f"{instance_id} stuck in {instance['status']}: {instance}")
            time.sleep(0.05)

    def wait_step(self, instance_id: str, step: str, status: str, timeout: float = 40) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            steps = {s["name"]: s["status"] for s in self.get(instance_id)["steps"]}
            if steps[step] == status:
                return
            time.sleep(0.02)
        raise AssertionError(f"{instance_id}: step {step} never became {status}")

    def wait_deployed(self, instance_id: str, timeout: float = 40) -> None:
        """Until the demo's processes run. Not `wait_step(..., "deploy", "done")`: while health
        keeps failing, each retry rewinds to deploy, so deploy is `done` only for moments."""
        deadline = time.monotonic() + timeout
        while instance_id not in self.demo_processes().values():
            if time.monotonic() > deadline:
                raise AssertionError(f"{instance_id}: no process of it ever ran")
            time.sleep(0.02)

    def demo(self, instance_id: str, route: str, path: str = "/api/items") -> httpx.Response:
        host = f"{instance_id}.{route}.localhost:{self.port}"
        return httpx.get(f"{self.url}{path}", headers={"Host": host}, timeout=10, trust_env=False)

    def follow(self, link: str) -> httpx.Client:
        """A client of the demo host `link` names, signed in through the router by following
        the one-click `link` (a persona's `login_url` or the rep's `rep_login_url`); already
        open, so not for a `with` block: close it when done."""
        parts = urlsplit(link)
        web = httpx.Client(
            base_url=self.url, headers={"Host": parts.netloc}, timeout=20, trust_env=False
        )
        signed = web.get(f"{parts.path}?{parts.query}")
        assert signed.status_code == 303, signed.text[:300]
        return web

    def demo_processes(self) -> dict[int, str]:
        return demo_processes(self.home)


def demo_processes(home: Path) -> dict[int, str]:
    """pid -> instance id of every live demo process of a DEMO_HOME, started with its command
    (marked in its environment) or forked by a fork-server (its pidfile)."""
    found = processes.marked_processes("DEMO_ORCHESTRATOR_HOME", str(home.resolve()))
    found.update(processes.pidfile_processes(home.resolve() / "runtime"))
    # One per process group: a sandboxed service is bwrap and the service inside it.
    leaders: dict[int, int] = {}
    for pid in sorted(found):
        try:
            leaders.setdefault(os.getpgid(pid), pid)
        except ProcessLookupError:
            continue
    return {pid: found[pid] for pid in leaders.values()}


def stop_everything_of(home: Path) -> None:
    """Stop every process a DEMO_HOME's orchestrator started: demos and fork-servers."""
    everything = processes.carrying("DEMO_ORCHESTRATOR_HOME", str(home.resolve()))
    everything |= set(demo_processes(home))
    if everything:
        processes.stop_groups(everything, grace=0.5)


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Any]:
    servers: list[Server] = []

    def make(home: Path | None = None, port: int | None = None, **extra: str) -> Server:
        server = Server(home or tmp_path / f"home{len(servers)}", port, **extra)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()


@pytest.fixture
def owner(tmp_path: Path) -> Iterator[str]:
    """A fresh resource-owner marker for tests on the real data servers, purged afterwards.

    Request it before `make_server`, so the servers stop before their resources are purged.
    """
    from tests.fakes.data_services import fresh_owner

    yield from fresh_owner(tmp_path)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One shared server for a module's tests that do not restart it."""
    srv = Server(tmp_path_factory.mktemp("shared")).start()
    yield srv
    srv.close()


def splits_server(home: Path, **extra: str) -> Server:
    """A server of the Splits Network reference stack (not started), its scenarios seeded on
    demand rather than prebuilt at start."""
    return Server(
        home,
        DEMO_BLUEPRINT="splits-network",
        DEMO_BLUEPRINT_PATHS="[]",
        DEMO_PREBUILD_TEMPLATES="false",
        **extra,
    )


def until(what: str, check: Callable[[], Any], seconds: float = 240) -> None:
    """Wait for `check()` to hold, failing with `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"{what}: not within {seconds:g} s"
        time.sleep(0.02)


@pytest.fixture
def store_url() -> Iterator[str]:
    """A fresh PostgreSQL database for an orchestrator store (replicas share it), dropped after."""
    import psycopg
    from psycopg import sql

    name = f"orchestrator_store_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
        finally:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def lease_owners(store_url: str) -> dict[str, str]:
    """instance id -> the replica holding its lease, from the shared store."""
    import psycopg

    with psycopg.connect(store_url) as store:
        rows = store.execute(
            "SELECT id, lease_owner FROM instances WHERE lease_owner IS NOT NULL"
        ).fetchall()
    return {r[0]: r[1] for r in rows}


def instance_files(home: Path, instance_id: str) -> list[Path]:
    """Every file or folder that still carries the instance's id under DEMO_HOME."""
    return [p for p in home.rglob(f"*{instance_id}*")]


@pytest.fixture(scope="module")
def pg_databases(request: pytest.FixtureRequest) -> Iterator[Callable[[], str]]:
    """Makes uniquely named scratch databases on the local server (named after the test module);
    drops them all at the end of the module."""
    import psycopg
    from sqlalchemy.engine import make_url

    prefix = "demo_test_" + request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")[:20]
    admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    made: list[str] = []

    def make() -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        admin.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        return make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)

    try:
        yield make
    finally:
        for name in made:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(scope="session")
def safe_servers() -> Iterator[Any]:
    """Private PostgreSQL (initdb --auth=scram-sha-256) and Redis (`default` user off) servers,
    configured the safe way, for the whole session (tests/fakes/safe_servers.py)."""
    from tests.fakes.safe_servers import postgres_bin, start_safe_servers, stop_safe_servers

    if postgres_bin() is None:
        pytest.skip("no PostgreSQL server binaries under /usr/lib/postgresql (initdb)")
    servers, folder = start_safe_servers()
    yield servers
    stop_safe_servers(servers, folder)
