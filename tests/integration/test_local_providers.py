"""The embedded providers' own behaviour: a SQLite clone is a byte copy of the seeded template,
and the local runtime adopts live processes after a restart and starts dead ones again. What
every provider keeps is proven in test_provider_contract.py."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from pathlib import Path

from demo_orchestrator.domain.blueprint import load_blueprint
from demo_orchestrator.providers.base import InstanceSpec
from demo_orchestrator.providers.local_runtime import LocalRuntime
from demo_orchestrator.providers.sqlite_db import SqliteDatabase

TINY = Path(__file__).resolve().parents[1] / "blueprints" / "tiny.yaml"


def _spec(instance_id: str, database: SqliteDatabase) -> InstanceSpec:
    blueprint = load_blueprint(TINY)
    scenario = blueprint.scenarios[0]
    env = database.ensure(
        spec=InstanceSpec(instance_id=instance_id, blueprint=blueprint, scenario=scenario)
    ).env
    return InstanceSpec(instance_id=instance_id, blueprint=blueprint, scenario=scenario, env=env)


def test_sqlite_clone_is_a_copy_of_the_seeded_template(tmp_path: Path) -> None:
    database = SqliteDatabase(home=tmp_path)
    spec = _spec("demo-bbbbbb", database)
    path = Path(spec.env["DATABASE_URL"].removeprefix("sqlite:///"))
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM items").fetchone()[0] == 5
    template = database.template_path(spec.blueprint, spec.scenario)
    assert template.is_file() and template.read_bytes() == path.read_bytes()
    database.destroy(instance_id="demo-bbbbbb")
    assert not path.exists()


def test_local_runtime_adopts_live_processes_and_restarts_dead_ones(tmp_path: Path) -> None:
    database = SqliteDatabase(home=tmp_path)
    runtime = LocalRuntime(home=tmp_path, stop_grace=1)
    try:
        spec = _spec("demo-cccccc", database)
        first = runtime.ensure(spec=spec)
        runtime.wait_healthy(instance_id="demo-cccccc", timeout=20)
        again = LocalRuntime(home=tmp_path, stop_grace=1)  # as after an orchestrator restart
        adopted = again.ensure(spec=spec)
        assert adopted.message == "adopted running processes" and adopted.state == first.state
        again.close()
        pid = first.state["services"]["web"]["pid"]
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5  # until it is gone, not merely slow to answer
        while runtime.alive(instance_id="demo-cccccc").healthy and time.monotonic() < deadline:
            time.sleep(0.02)
        restarted = runtime.ensure(spec=spec)
        assert restarted.state["services"]["web"]["pid"] != pid
        assert runtime.wait_healthy(instance_id="demo-cccccc", timeout=20).healthy
    finally:
        runtime.destroy(instance_id="demo-cccccc")
        runtime.close()
