"""API latency benchmark: the list of N instances (DESIGN target: 1,000 instances, p99 <= 50 ms).

The store is filled directly with N instance records (no processes are started: this measures the
API and the store, not provisioning), then a real `democtl serve` answers repeated
`GET /api/v1/demo-instances` pages of each size over HTTP; prints JSON.

    .venv/bin/python bench/api_list.py --instances 1000 --requests 200
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from demo_orchestrator.domain.instance import new_instance_id
from demo_orchestrator.domain.plan import PlannedStep
from demo_orchestrator.providers.processes import free_port
from demo_orchestrator.settings import Settings
from demo_orchestrator.store import repository as repo
from demo_orchestrator.store.crypto import SecretBox, load_or_create_key
from demo_orchestrator.store.database import Database
from demo_orchestrator.store.models import InstanceRow

TOKEN = "bench-admin-token-0123456789"
TINY = ROOT / "tests" / "blueprints" / "tiny.yaml"


PLAN = [
    PlannedStep(name, provider)
    for name, provider in [
        ("database", "sqlite"),
        ("cache", None),
        ("broker", None),
        ("seed", "sqlite"),
        ("deploy", "local"),
        ("routes", "local"),
        ("health", "local"),
    ]
]


def fill(home: Path, count: int) -> None:
    settings = Settings(home=home)
    database = Database(settings.resolved_store_url())
    database.upgrade()
    box = SecretBox(load_or_create_key(home, None))
    now = datetime.now(UTC)
    with database.write() as session:
        for index in range(count):
            created = now - timedelta(seconds=index)
            row = InstanceRow(
                id=new_instance_id(),
                blueprint="tiny",
                scenario=("agency", "startup")[index % 2],
                owner=("admin", "alice", "bob")[index % 3],
                name=f"bench demo {index}",
                prospect={"company": f"Prospect {index}"},
                notes=None,
                status="ready",
                desired="ready",
                created_at=created,
                started_at=created,
                ready_at=created,
                expires_at=created + timedelta(hours=2),
                duration_hours=2.0,
                hourly_usd=0.16,
                generation=0,
                applied_generation=0,
                version=0,
                outputs={"routes": {"portal": {"host": "127.0.0.1", "port": 9}}},
                secrets=box.seal({"login_secret": "x" * 64}),
            )
            repo.add_instance(session, row, PLAN)
    database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bench-api-"))
    fill(home, args.instances)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEMO_")}
    env.update(
        DEMO_HOME=str(home),
        DEMO_PORT=str(port),
        DEMO_ADMIN_TOKEN=TOKEN,
        DEMO_BLUEPRINT="tiny",
        DEMO_BLUEPRINT_PATHS=json.dumps([str(TINY)]),
        DEMO_ENGINE="false",
    )  # API only: the fake records have no processes
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "democtl"), "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    results: dict[str, object] = {"instances": args.instances, "requests": args.requests}
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("server did not start")
            time.sleep(0.05)
        with httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, trust_env=False
        ) as client:
            for limit in (50, 500):
                client.get("/api/v1/demo-instances", params={"limit": limit})  # warm up
                timings = []
                for _ in range(args.requests):
                    started = time.perf_counter()
                    answer = client.get("/api/v1/demo-instances", params={"limit": limit})
                    timings.append((time.perf_counter() - started) * 1000)
                    assert answer.status_code == 200 and len(answer.json()["items"]) == limit
                timings.sort()
                results[f"list_limit_{limit}_ms"] = {
                    "median": round(statistics.median(timings), 2),
                    "p99": round(timings[min(len(timings) - 1, int(0.99 * len(timings)))], 2),
                }
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
