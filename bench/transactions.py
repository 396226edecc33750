"""Store write transactions per create: how many the orchestrator commits to take one demo from
the POST to `ready`, counted in-process on the embedded default (SQLite store, local runtime)
with a SQLAlchemy event listener on every engine (reads end in a rollback, so only writes count).
Prints JSON.

Runs against whichever `demo_orchestrator` is first on `sys.path`, so `bench/compare.py` can point
it at an older commit (PYTHONPATH) and measure both side by side.

    .venv/bin/python bench/transactions.py --count 10 --blueprint tiny
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "blueprints" / "tiny.yaml"


class Counter:
    def __init__(self) -> None:
        self.commits = 0

    def install(self) -> None:
        event.listen(Engine, "commit", self._commit)

    def _commit(self, *_: Any) -> None:
        self.commits += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--blueprint", default="tiny", choices=["tiny", "splits-network"])
    args = parser.parse_args()

    from demo_orchestrator.bootstrap import bootstrap
    from demo_orchestrator.engine.service import CreateInstance, Principal
    from demo_orchestrator.settings import Settings

    home = Path(tempfile.mkdtemp(prefix="bench-tx-"))
    extra: dict[str, Any] = {}
    if args.blueprint == "tiny":
        extra["blueprint_paths"] = [TINY]
    settings = Settings(
        home=home,
        blueprint=args.blueprint,
        admin_token="bench-admin-token-0123456789",
        prebuild_templates=False,
        sweep_seconds=3600,
        heal_seconds=3600,
        **extra,
    )
    orchestrator = bootstrap(settings)
    orchestrator.start()
    admin = Principal("admin", "admin")
    counter = Counter()
    try:
        warm, _ = orchestrator.instances.create(admin, CreateInstance(duration_hours=1))
        _wait_ready(orchestrator, admin, warm["id"])  # builds the seeded template: not counted
        counter.install()
        per_create: list[tuple[int, float]] = []
        for _ in range(args.count):
            commits, started = counter.commits, time.monotonic()
            instance, _ = orchestrator.instances.create(admin, CreateInstance(duration_hours=1))
            _wait_ready(orchestrator, admin, instance["id"])
            per_create.append((counter.commits - commits, time.monotonic() - started))
    finally:
        orchestrator.stop()
    commits = [c for c, _ in per_create]
    print(
        json.dumps(
            {
                "code": str(Path(sys.modules["demo_orchestrator"].__file__ or "").parent),
                "blueprint": args.blueprint,
                "count": args.count,
                "write_transactions_per_create": {
                    "median": statistics.median(commits),
                    "max": max(commits),
                },
                "create_to_ready_seconds_median": round(
                    statistics.median(s for _, s in per_create), 3
                ),
            },
            indent=2,
        )
    )


def _wait_ready(orchestrator: Any, admin: Any, instance_id: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = orchestrator.instances.get(admin, instance_id)["status"]
        if status == "ready":
            return
        if status == "failed":
            raise SystemExit(f"{instance_id} failed")
        time.sleep(0.02)
    raise SystemExit(f"{instance_id} not ready in 120 s")


if __name__ == "__main__":
    main()
