"""Save-as-template benchmark through the database providers; prints JSON.

Per provider: a demo's database of a scenario, then `save_template` of it N times (each to a new
name, dropped afterwards): how long a rep waits for the save, and, on PostgreSQL, what the demo
sees: a session it held open is ended by the save (the brief pause that `CREATE DATABASE ...
TEMPLATE` needs) and a new session opens at once. Counts are those of the copy.

    .venv/bin/python bench/save_template.py                   # splits-network agency, 5 runs
    .venv/bin/python bench/save_template.py --runs 10 --no-postgres

Everything it makes carries a fresh owner marker (PostgreSQL) or lives in a temporary
DEMO_HOME (SQLite), and is removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from demo_orchestrator.domain.blueprint import load_blueprint
from demo_orchestrator.providers.base import DatabaseProvider, InstanceSpec
from demo_orchestrator.providers.ownership import Passwords
from demo_orchestrator.providers.postgres import PostgresDatabase
from demo_orchestrator.providers.sqlite_db import SqliteDatabase

PG_ADMIN = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
BLUEPRINT = ROOT / "blueprints" / "splits-network.yaml"


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "median_s": round(statistics.median(ordered), 4),
        "p95_s": round(p95, 4),
        "min_s": round(ordered[0], 4),
        "max_s": round(ordered[-1], 4),
    }


def run(
    provider: DatabaseProvider, scenario: str, runs: int, *, hold: Any = None
) -> dict[str, Any]:
    blueprint = load_blueprint(BLUEPRINT)
    base = blueprint.scenario(scenario)
    assert base is not None, scenario
    instance_id = "demo-bn" + secrets.token_hex(2)  # demo- + 6, like every instance id
    spec = InstanceSpec(instance_id=instance_id, blueprint=blueprint, scenario=base)
    out = provider.ensure(spec=spec)
    seconds: list[float] = []
    ended = 0
    counts: dict[str, int] = {}
    try:
        for i in range(runs):
            session = hold(out.env["DATABASE_URL"]) if hold else None
            started = time.perf_counter()
            counts = provider.save_template(
                instance_id=instance_id, blueprint=blueprint, base=base, name=f"bench-save-{i}"
            )
            seconds.append(time.perf_counter() - started)
            if session is not None:
                try:
                    session.execute("SELECT 1")
                except psycopg.OperationalError:
                    ended += 1
                session.close()
                with psycopg.connect(out.env["DATABASE_URL"], connect_timeout=3) as again:
                    again.execute("SELECT 1")  # the demo reconnects at once
            provider.drop_saved_template(blueprint=blueprint.name, name=f"bench-save-{i}")
    finally:
        provider.destroy(instance_id=instance_id)
    result: dict[str, Any] = {"scenario": scenario, "runs": runs, "save": summary(seconds)}
    result["rows"] = sum(counts.values())
    if hold is not None:
        result["demo_sessions_ended"] = ended
        result["demo_reconnected"] = True
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--scenario", default="agency")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    report: dict[str, Any] = {"bench": "save_template"}
    with tempfile.TemporaryDirectory(prefix="bench-save-") as home:
        report["sqlite"] = run(SqliteDatabase(home=Path(home)), args.scenario, args.runs)
        if not args.no_postgres:
            owner = "b" + secrets.token_hex(4)
            postgres = PostgresDatabase(
                admin_url=PG_ADMIN,
                home=Path(home),
                owner=owner,
                passwords=Passwords(secrets.token_bytes(32)),
            )
            try:
                report["postgres"] = run(
                    postgres,
                    args.scenario,
                    args.runs,
                    hold=lambda url: psycopg.connect(url, autocommit=True, connect_timeout=3),
                )
            finally:
                postgres.remove_templates()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
