"""Benchmark the Splits Network stack's data path; prints one JSON document.

For each scenario and backend (SQLite file, PostgreSQL scratch database when the server answers):
migrate+seed seconds (median of --repeat runs), the freshen step on a template copy, and the time
from spawning `python -m splits_stack serve` to the first 200 on /healthz.

    .venv/bin/python bench/seed.py [--repeat 3] [--postgres postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from splits_stack.config import normalise_database_url
from splits_stack.db import make_engine
from splits_stack.devserver import StackProcess
from splits_stack.seed.run import seed
from splits_stack.services.freshen import freshen

SCENARIOS = {"agency": 42, "enterprise": 7, "startup": 11}


def _seed_seconds(url: str, scenario: str, repeat: int) -> tuple[float, dict[str, int]]:
    times, rows = [], {}
    for _ in range(repeat):
        engine = make_engine(normalise_database_url(url))
        started = time.perf_counter()
        rows = seed(engine, scenario, SCENARIOS[scenario])
        times.append(time.perf_counter() - started)
        engine.dispose()
    return statistics.median(times), rows


def _serve_ready(url: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        proc = StackProcess(url).start()
        times.append(proc.ready_s)
        proc.stop()
    return statistics.median(times)


def bench_sqlite(folder: Path, repeat: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for scenario in SCENARIOS:
        path = folder / f"{scenario}.db"
        seconds, rows = _seed_seconds(f"sqlite:///{path}", scenario, repeat)
        copy = folder / f"{scenario}-copy.db"
        shutil.copyfile(path, copy)
        engine = make_engine(f"sqlite:///{copy}")
        started = time.perf_counter()
        freshen(engine, company="Acme Robotics", industry="Robotics", now=time.time() + 3 * 86400)
        fresh = time.perf_counter() - started
        engine.dispose()
        out[scenario] = {
            "seed_s": round(seconds, 3),
            "freshen_s": round(fresh, 4),
            "serve_ready_s": round(_serve_ready(f"sqlite:///{copy}", repeat), 3),
            "rows": sum(rows.values()),
        }
    return out


def bench_postgres(admin_url: str, repeat: int) -> dict[str, Any]:
    import psycopg

    try:
        admin = psycopg.connect(admin_url, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        return {"skipped": f"PostgreSQL does not answer: {exc}"}
    name = f"splits_bench_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{admin_url.rsplit('/', 1)[0]}/{name}"
    out: dict[str, Any] = {}
    try:
        for scenario in SCENARIOS:
            seconds, rows = _seed_seconds(url, scenario, repeat)
            out[scenario] = {"seed_s": round(seconds, 3), "rows": sum(rows.values())}
        out["serve_ready_s"] = round(_serve_ready(url, repeat), 3)
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = {
            "sqlite": bench_sqlite(Path(tmp), args.repeat),
            "postgresql": bench_postgres(args.postgres, args.repeat),
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
