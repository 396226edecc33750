"""Fixtures for the Splits Network stack: seeded template databases (SQLite and PostgreSQL) and
real `python -m splits_stack serve` processes, one per (backend, scenario) for the whole session.

Like the orchestrator, each server gets a COPY of a seeded template, so tests that write (move a
card, apply) never disturb the templates.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from splits_stack.db import make_engine
from splits_stack.devserver import StackProcess
from splits_stack.seed.run import seed

ROOT = Path(__file__).resolve().parents[2]
BLUEPRINT = ROOT / "blueprints" / "splits-network.yaml"
PG_ADMIN = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SCENARIOS = ("agency", "enterprise", "startup")
PERSONA_LINK = r'data-persona="([^"]+)" href="([^"]+)"'  # one sign-in link of the picker


def blueprint() -> dict[str, Any]:
    return yaml.safe_load(BLUEPRINT.read_text())  # type: ignore[no-any-return]


def scenario_seed(name: str) -> int:
    return int(next(s["seed"] for s in blueprint()["scenarios"] if s["name"] == name))


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("templates")
    out = {}
    for name in SCENARIOS:
        path = folder / f"{name}.db"
        engine = make_engine(f"sqlite:///{path}")
        seed(engine, name, scenario_seed(name))
        engine.dispose()
        out[name] = path
    return out


@pytest.fixture(scope="session")
def pg_url() -> Iterator[Callable[[], str]]:
    """Factory of scratch PostgreSQL databases, all dropped at the end of the session
    (tests that use it carry the `postgres` marker)."""
    import psycopg

    admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    created: list[str] = []
    base = PG_ADMIN.rsplit("/", 1)[0]

    def make() -> str:
        name = f"splits_test_{uuid.uuid4().hex[:10]}"
        admin.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        return f"{base}/{name}"

    yield make
    for name in created:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


@pytest.fixture(scope="session")
def stacks(
    templates: dict[str, Path],
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Iterator[Callable[..., StackProcess]]:
    """`stacks(scenario, backend="sqlite", **env)`: a running stack, shared per arguments."""
    running: dict[tuple[Any, ...], StackProcess] = {}
    folder = tmp_path_factory.mktemp("stacks")

    def get(scenario: str, backend: str = "sqlite", **env: str) -> StackProcess:
        key = (scenario, backend, tuple(sorted(env.items())))
        if key not in running:
            tag = f"{scenario}-{backend}-{len(running)}"
            if backend == "sqlite":
                copy = folder / f"{tag}.db"
                shutil.copyfile(templates[scenario], copy)
                url = f"sqlite:///{copy}"
            else:
                url = request.getfixturevalue("pg_url")()
                engine = make_engine(url.replace("postgresql://", "postgresql+psycopg://"))
                seed(engine, scenario, scenario_seed(scenario))
                engine.dispose()
            env = {
                "DEMO_INSTANCE_ID": f"demo-{uuid.uuid4().hex[:6]}",
                "DEMO_LOGIN_SECRET": "test-secret",
                **env,
            }
            running[key] = StackProcess(url, env=env, log_path=folder / f"{tag}.log").start()
        return running[key]

    yield get
    for proc in running.values():  # signal all first, then wait: shutdowns overlap
        if proc.proc and proc.proc.poll() is None:
            proc.proc.terminate()
    for proc in running.values():
        proc.stop()


def client(stack: StackProcess, site: str = "portal") -> httpx.Client:
    host = f"{stack.env.get('DEMO_INSTANCE_ID', 'demo-test')}.{site}.localhost:{stack.port}"
    return httpx.Client(
        base_url=stack.base, headers={"Host": host}, timeout=10, follow_redirects=False
    )


@contextmanager
def as_rep(stack: StackProcess, site: str = "portal") -> Iterator[httpx.Client]:
    """A client signed in as the rep (the whole demo) through the rep's one-click link."""
    from splits_stack.services.identity import rep_token

    instance = stack.env.get("DEMO_INSTANCE_ID", "standalone")
    secret = stack.env.get("DEMO_LOGIN_SECRET", "test-secret")
    with client(stack, site) as http:
        resp = http.get("/auth/rep-login", params={"token": rep_token(secret, instance)})
        assert resp.status_code == 303, resp.text
        yield http


@contextmanager
def sign_in(stack: StackProcess, email: str, site: str = "portal") -> Iterator[httpx.Client]:
    """A client signed in as `email` through the one-click link."""
    from splits_stack.services.identity import login_token

    with client(stack, site) as http:
        resp = http.get(
            "/auth/demo-login", params={"email": email, "token": login_token("test-secret", email)}
        )
        assert resp.status_code == 303, resp.text
        yield http
