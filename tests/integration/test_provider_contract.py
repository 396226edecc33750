"""One contract every provider keeps, run against each implementation: `ensure` is idempotent,
`destroy` is idempotent ("already gone" is success), `owned` tells the truth."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from demo_orchestrator.domain.blueprint import load_blueprint
from demo_orchestrator.providers.base import InstanceSpec, Provider
from demo_orchestrator.providers.local_runtime import LocalRuntime
from demo_orchestrator.providers.processes import marked_processes
from demo_orchestrator.providers.sqlite_db import SqliteDatabase

TINY = Path(__file__).resolve().parents[1] / "blueprints" / "tiny.yaml"


def _spec(home: Path, instance_id: str, database: SqliteDatabase) -> InstanceSpec:
    blueprint = load_blueprint(TINY)
    scenario = blueprint.scenarios[0]
    env = database.ensure(
        spec=InstanceSpec(instance_id=instance_id, blueprint=blueprint, scenario=scenario)
    ).env
    return InstanceSpec(instance_id=instance_id, blueprint=blueprint, scenario=scenario, env=env)


@pytest.fixture(params=["sqlite", "local"])
def provider(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Provider, SqliteDatabase, Path]]:
    database = SqliteDatabase(home=tmp_path)
    impl: Provider = (
        database if request.param == "sqlite" else LocalRuntime(home=tmp_path, stop_grace=1)
    )
    yield impl, database, tmp_path
    for instance_id in impl.owned():
        impl.destroy(instance_id=instance_id)
    impl.close()


def test_ensure_is_idempotent_and_destroy_removes_everything(
    provider: tuple[Provider, SqliteDatabase, Path],
) -> None:
    impl, database, home = provider
    spec = _spec(home, "demo-aaaaaa", database)
    first = impl.ensure(spec=spec)
    second = impl.ensure(spec=spec)
    assert first.env == second.env and first.state == second.state
    assert "demo-aaaaaa" in impl.owned()
    if isinstance(impl, LocalRuntime):
        assert impl.wait_healthy(instance_id="demo-aaaaaa", timeout=20).healthy
        assert impl.probe(instance_id="demo-aaaaaa").healthy
        assert (
            "demo-aaaaaa"
            in marked_processes("DEMO_ORCHESTRATOR_HOME", str(home.resolve())).values()
        )
    impl.destroy(instance_id="demo-aaaaaa")
    impl.destroy(instance_id="demo-aaaaaa")  # already gone is success
    assert "demo-aaaaaa" not in impl.owned()
    assert not impl.probe(instance_id="demo-aaaaaa").healthy or isinstance(impl, SqliteDatabase)
    assert not list(home.rglob("*demo-aaaaaa*")) or isinstance(impl, LocalRuntime)


def test_destroy_of_something_never_made_is_success(
    provider: tuple[Provider, SqliteDatabase, Path],
) -> None:
    impl, _, _ = provider
    impl.destroy(instance_id="demo-zzzzzz")
    assert "demo-zzzzzz" not in impl.owned()


def test_sqlite_clone_is_a_copy_of_the_seeded_template(tmp_path: Path) -> None:
    import sqlite3

    database = SqliteDatabase(home=tmp_path)
    spec = _spec(tmp_path, "demo-bbbbbb", database)
    path = Path(spec.env["DATABASE_URL"].removeprefix("sqlite:///"))
    rows = sqlite3.connect(path).execute("SELECT count(*) FROM items").fetchone()[0]
    assert rows == 5
    blueprint = spec.blueprint
    template = database.template_path(blueprint, spec.scenario)
    assert template.is_file() and template.read_bytes() == path.read_bytes()
    database.destroy(instance_id="demo-bbbbbb")
    assert not path.exists()


def test_local_runtime_adopts_live_processes_and_restarts_dead_ones(tmp_path: Path) -> None:
    import os
    import signal
    import time

    database = SqliteDatabase(home=tmp_path)
    runtime = LocalRuntime(home=tmp_path, stop_grace=1)
    try:
        spec = _spec(tmp_path, "demo-cccccc", database)
        first = runtime.ensure(spec=spec)
        runtime.wait_healthy(instance_id="demo-cccccc", timeout=20)
        again = LocalRuntime(home=tmp_path, stop_grace=1)  # as after an orchestrator restart
        adopted = again.ensure(spec=spec)
        assert adopted.message == "adopted running processes" and adopted.state == first.state
        again.close()
        pid = first.state["services"]["web"]["pid"]
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while runtime.probe(instance_id="demo-cccccc").healthy and time.monotonic() < deadline:
            time.sleep(0.02)
        restarted = runtime.ensure(spec=spec)
        assert restarted.state["services"]["web"]["pid"] != pid
        assert runtime.wait_healthy(instance_id="demo-cccccc", timeout=20).healthy
    finally:
        runtime.destroy(instance_id="demo-cccccc")
        runtime.close()
