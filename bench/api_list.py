"""API latency benchmark: the list of N instances (DESIGN target: 1,000 instances, p99 <= 50 ms).

The store is filled directly with instance records (no processes are started: this measures the
API and the store, not provisioning): `--instances` ready demos, `--sleeping` sleeping ones and
`--pool` warm-pool members (which the list hides), each with a finished seven-step plan. Then a
real `democtl serve` answers `GET /api/v1/demo-instances` over HTTP, pages of 50 and 500, with
no filter, each filter (status, scenario, owner, search `q`) and on a second page (cursor);
p50/p95/p99 in ms per case; prints JSON.

`--store postgres` puts the store in a scratch PostgreSQL database (dropped afterwards).
`--baseline REV` also serves the same data from an older commit's `src` (exported with
`git archive`, put first on PYTHONPATH, same virtualenv), the two servers' requests interleaved
so that the noise of this shared machine falls on both alike; figures side by side.

    .venv/bin/python bench/api_list.py --instances 1000 --requests 200
    .venv/bin/python bench/api_list.py --instances 1000 --sleeping 1000 --pool 50 --baseline main
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from io import BytesIO
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "bench-admin-token-0123456789"
TINY = ROOT / "tests" / "blueprints" / "tiny.yaml"
PG_ADMIN = os.environ.get("DEMO_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
STEPS = [
    ("database", "sqlite"),
    ("cache", None),
    ("broker", None),
    ("seed", "sqlite"),
    ("deploy", "local"),
    ("routes", "local"),
    ("health", "local"),
]
CASES: dict[str, dict[str, str]] = {
    "all": {},
    "status": {"status": "ready"},
    "scenario": {"scenario": "agency"},
    "owner": {"owner": "alice"},
    "search": {"q": "prospect 1"},
}


def fill(store_url: str, home: Path, instances: int, sleeping: int, pool: int) -> None:
    """Runs in a child process, against whichever `demo_orchestrator` is first on sys.path."""
    from datetime import UTC, datetime, timedelta

    from demo_orchestrator.domain.instance import new_instance_id
    from demo_orchestrator.store.crypto import SecretBox, load_or_create_key
    from demo_orchestrator.store.database import Database
    from demo_orchestrator.store.models import InstanceRow, StepRow

    database = Database(store_url)
    database.upgrade()
    box = SecretBox(load_or_create_key(home, None))
    now = datetime.now(UTC)
    kinds = ["ready"] * instances + ["sleeping"] * sleeping + ["pooled"] * pool
    with database.write() as session:
        for index, kind in enumerate(kinds):
            created = now - timedelta(seconds=index * 7)
            instance_id = new_instance_id()
            session.add(
                InstanceRow(
                    id=instance_id,
                    blueprint="tiny",
                    scenario=("agency", "startup")[index % 2],
                    owner="" if kind == "pooled" else ("admin", "alice", "bob")[index % 3],
                    name=f"bench demo {index}",
                    prospect=None if kind == "pooled" else {"company": f"Prospect {index}"},
                    notes=None,
                    status="ready" if kind == "pooled" else kind,
                    desired="ready" if kind == "pooled" else kind,
                    created_at=created,
                    started_at=created,
                    ready_at=created + timedelta(seconds=1),
                    expires_at=created + timedelta(hours=2),
                    duration_hours=2.0,
                    hourly_usd=0.16,
                    sleeping_hourly_usd=0.01,
                    slept_seconds=0.0,
                    sleeping_since=created + timedelta(seconds=60) if kind == "sleeping" else None,
                    generation=0,
                    applied_generation=0,
                    version=0,
                    pooled=kind == "pooled",
                    outputs={"routes": {"portal": {"host": "127.0.0.1", "port": 9}}},
                    secrets=box.seal({"login_secret": secrets.token_hex(32)}),
                )
            )
            session.flush()
            for position, (name, provider) in enumerate(STEPS):
                started = created + timedelta(milliseconds=100 * position)
                session.add(
                    StepRow(
                        instance_id=instance_id,
                        name=name,
                        position=position,
                        provider=provider,
                        status="done" if provider else "skipped",
                        started_at=started,
                        finished_at=started + timedelta(milliseconds=87),
                        retries=0,
                        message="ok",
                        error=None,
                    )
                )
    database.dispose()


def export(revision: str) -> Path:
    archive = subprocess.run(
        ["git", "archive", revision, "src"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    folder = Path(tempfile.mkdtemp(prefix=f"bench-{revision[:8]}-"))
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder / "src"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def store(kind: str, home: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{home / 'orchestrator.db'}"
        return
    import psycopg

    name = f"bench_api_list_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def server(src: Path, args: argparse.Namespace) -> Iterator[httpx.Client]:
    """A filled store and a `democtl serve` on it, running the code in `src`."""
    home = Path(tempfile.mkdtemp(prefix="bench-api-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEMO_")}
    env["PYTHONPATH"] = str(src)
    with store(args.store, home) as url:
        subprocess.run(
            [
                sys.executable,
                __file__,
                "--fill",
                url,
                str(home),
                str(args.instances),
                str(args.sleeping),
                str(args.pool),
            ],
            env=env,
            check=True,
        )
        port = free_port()
        env.update(
            DEMO_HOME=str(home),
            DEMO_PORT=str(port),
            DEMO_STORE_URL=url,
            DEMO_ADMIN_TOKEN=TOKEN,
            DEMO_BLUEPRINT="tiny",
            DEMO_BLUEPRINT_PATHS=json.dumps([str(TINY)]),
            DEMO_ENGINE="false",  # API only: the fake records have no processes
        )
        log = (home / "serve.log").open("wb")
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "democtl"), "serve"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/healthz", timeout=1, trust_env=False).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("server did not start")
                time.sleep(0.05)
            with httpx.Client(
                base_url=base,
                headers={"Authorization": f"Bearer {TOKEN}"},
                trust_env=False,
                timeout=60,
            ) as client:
                yield client
        except BaseException:
            print(f"server log: {home / 'serve.log'}", file=sys.stderr)
            raise
        finally:
            process.terminate()
            process.wait(timeout=30)
            log.close()


def percentiles(timings: list[float]) -> dict[str, float]:
    ordered = sorted(timings)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)

    return {"p50": at(0.50), "p95": at(0.95), "p99": at(0.99)}


def measure(clients: dict[str, httpx.Client], requests: int) -> dict[str, Any]:
    """Every case on every server, the servers' requests interleaved; per page size and case,
    each server's p50/p95/p99 in ms side by side, and how many items the page had."""
    results: dict[str, Any] = {}
    for limit in (50, 500):
        cases: dict[str, dict[str, dict[str, Any]]] = {}
        for name, client in clients.items():
            first = client.get("/api/v1/demo-instances", params={"limit": limit}).json()
            # The second page: this server's own cursor, from its first page.
            cases[name] = {**CASES, "page_2": {"cursor": first["next_cursor"] or ""}}
        timings: dict[str, dict[str, list[float]]] = {case: {} for case in cases["current"]}
        items: dict[str, int] = {}
        for _ in range(requests):
            for name, client in clients.items():
                for case, params in cases[name].items():
                    started = time.perf_counter()
                    answer = client.get("/api/v1/demo-instances", params={"limit": limit, **params})
                    timings[case].setdefault(name, []).append(
                        (time.perf_counter() - started) * 1000
                    )
                    if answer.status_code != 200:
                        raise SystemExit(f"{name} {case}: {answer.status_code} {answer.text[:300]}")
                    items[case] = len(answer.json()["items"])
        results[f"limit_{limit}"] = {
            case: {"items": items[case], **{n: percentiles(v) for n, v in by_server.items()}}
            for case, by_server in timings.items()
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=1000, help="ready demos")
    parser.add_argument("--sleeping", type=int, default=0, help="sleeping demos (listed)")
    parser.add_argument("--pool", type=int, default=0, help="warm-pool members (not listed)")
    parser.add_argument("--requests", type=int, default=200, help="per case and page size")
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--baseline", help="a commit to compare this tree with")
    args = parser.parse_args()
    trees = {"current": ROOT / "src"}
    if args.baseline:
        trees["baseline"] = export(args.baseline)
    with ExitStack() as stack:
        clients = {name: stack.enter_context(server(src, args)) for name, src in trees.items()}
        for client in clients.values():  # warm up: first imports, caches, connections
            for limit in (50, 500):
                client.get("/api/v1/demo-instances", params={"limit": limit})
        results = measure(clients, args.requests)
    print(
        json.dumps(
            {
                "store": args.store,
                "instances": args.instances,
                "sleeping": args.sleeping,
                "pool": args.pool,
                "requests": args.requests,
                "baseline": args.baseline,
                # This tree, no filter, as bench/report.py reads it.
                **{
                    f"list_{limit}_ms": {"median": figures["p50"], **figures}
                    for limit, cases in results.items()
                    for figures in [cases["all"]["current"]]
                },
                "ms": results,  # {limit_N: {case: {"items", "current", "baseline"?}}}
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--fill":
        url, home, *counts = sys.argv[2:]
        fill(url, Path(home), *(int(c) for c in counts))
    else:
        main()
