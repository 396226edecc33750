"""Data-service benchmark on the real servers; prints JSON.

Per scenario, side by side in one run: giving a demo its database by template clone (`ensure`
of the postgres provider: role + `CREATE DATABASE ... TEMPLATE` + grants) against migrating and
seeding a fresh database from scratch (what every demo would cost without templates), the one-off
template build, and teardown (`DROP DATABASE ... WITH (FORCE)` + `DROP ROLE`). Then create ->
ready as a user sees it, through a real `democtl serve` on PostgreSQL + Redis + RabbitMQ (from the
POST until the demo answers with its seeded data), and delete -> every resource gone.

    .venv/bin/python bench/clone.py                      # tiny-cache blueprint, 5 runs each
    .venv/bin/python bench/clone.py --blueprint splits-network --runs 3

Everything it makes carries a fresh owner marker and is removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from demo_session import read  # bench/, beside this script

from demo_orchestrator.domain.blueprint import Blueprint, load_blueprint
from demo_orchestrator.providers.base import InstanceSpec
from demo_orchestrator.providers.ownership import Passwords
from demo_orchestrator.providers.postgres import PostgresDatabase
from demo_orchestrator.providers.processes import free_port
from demo_orchestrator.providers.rabbitmq import RabbitBroker
from demo_orchestrator.providers.redis_cache import RedisCache
from demo_orchestrator.providers.seeding import run_data_commands

TINY_CACHE = ROOT / "tests" / "blueprints" / "tiny_cache.yaml"
PROBES = {"splits-network": "/api/jobs?limit=1", "tiny-cache": "/api/report"}
TOKEN = "bench-admin-token-0123456789"


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "median_s": round(statistics.median(ordered), 4),
        "p95_s": round(p95, 4),
        "min_s": round(ordered[0], 4),
        "n": len(ordered),
    }


def load(name: str) -> Blueprint:
    if name == "tiny-cache":
        return load_blueprint(TINY_CACHE)
    from demo_orchestrator.providers.registry import load_blueprints
    from demo_orchestrator.settings import Settings

    return load_blueprints(Settings(blueprint=name))[name]


def scratch(admin_url: str, blueprint: Blueprint, scenario: Any) -> float:
    """Migrate and seed an empty database from scratch; seconds taken (database dropped after)."""
    name = f"demo_bench_{secrets.token_hex(4)}"
    started = time.perf_counter()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
    try:
        with tempfile.TemporaryDirectory() as work:
            url = urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))
            run_data_commands(blueprint, scenario, database_url=url, cwd=Path(work), secret=None)
        return time.perf_counter() - started
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def provider_side(args: argparse.Namespace, owner: str, home: Path) -> dict[str, Any]:
    blueprint = load(args.blueprint)
    db = PostgresDatabase(
        admin_url=args.admin_url, home=home, owner=owner, passwords=Passwords(os.urandom(16))
    )
    scenarios: dict[str, Any] = {}
    try:
        for scenario in blueprint.scenarios:
            result: dict[str, Any] = {}
            try:
                started = time.perf_counter()
                db.prepare_template(blueprint=blueprint, scenario=scenario)
                result["template_build_s"] = round(time.perf_counter() - started, 3)
                clones, teardowns = [], []
                for i in range(args.runs):
                    spec = InstanceSpec(
                        instance_id=f"demo-bc{i:04d}", blueprint=blueprint, scenario=scenario
                    )
                    started = time.perf_counter()
                    db.ensure(spec=spec)
                    clones.append(time.perf_counter() - started)
                    started = time.perf_counter()
                    db.destroy(instance_id=spec.instance_id)
                    teardowns.append(time.perf_counter() - started)
                from_scratch = [
                    scratch(args.admin_url, blueprint, scenario) for _ in range(args.runs)
                ]
                result["template_clone"] = summary(clones)
                result["migrate_and_seed_from_scratch"] = summary(from_scratch)
                result["speedup_median"] = round(
                    statistics.median(from_scratch) / statistics.median(clones), 1
                )
                result["teardown"] = summary(teardowns)
            except Exception as exc:  # noqa: BLE001 - report it, measure the other scenarios
                result["error"] = f"{type(exc).__name__}: {getattr(exc, 'detail', exc)}"
            scenarios[scenario.name] = result
    finally:
        for instance_id in db.owned():
            db.destroy(instance_id=instance_id)
        db.remove_templates()
    return scenarios


def server_side(args: argparse.Namespace, owner: str, home: Path) -> dict[str, Any]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEMO_")}
    env.update(
        {
            "DEMO_HOME": str(home / "server"),
            "DEMO_PORT": str(port),
            "DEMO_BLUEPRINT": args.blueprint,
            "DEMO_ADMIN_TOKEN": TOKEN,
            "DEMO_TICK_SECONDS": "0.2",
            "DEMO_DATABASE_PROVIDER": "postgres",
            "DEMO_POSTGRES_ADMIN_URL": args.admin_url,
            "DEMO_REDIS_URL": args.redis_url,
            "DEMO_RABBITMQ_URL": args.rabbitmq_url,
            "DEMO_RABBITMQ_MANAGEMENT_URL": args.management_url,
            "DEMO_RESOURCE_OWNER": owner,
            "DEMO_ALLOW_INSECURE": "true",  # this machine's servers are permissive on purpose
        }
    )
    if args.blueprint == "tiny-cache":
        env["DEMO_BLUEPRINT_PATHS"] = json.dumps([str(TINY_CACHE)])
    (home / "server").mkdir(parents=True, exist_ok=True)
    log = (home / "server" / "server.log").open("ab")
    democtl = str(Path(sys.executable).parent / "democtl")
    proc = subprocess.Popen([democtl, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    http = httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30, trust_env=False
    )
    ready_times: list[float] = []
    gone_times: list[float] = []
    try:
        wait_for(lambda: answers(base, "/healthz", {}), 30)
        blueprint = load(args.blueprint)
        db = PostgresDatabase(
            admin_url=args.admin_url, home=home, owner=owner, passwords=Passwords(b"x")
        )
        for scenario in blueprint.scenarios:  # the server prebuilds; wait so we time clones
            name = db.template_name(blueprint, scenario)
            wait_for(lambda n=name: db.templates.ready(n), 600)
        for _ in range(args.runs):
            started = time.perf_counter()
            made = http.post("/api/v1/demo-instances", json={"duration_hours": 1}).json()
            instance_id, rep = made["id"], made.get("rep_login_url")
            host = f"{instance_id}.portal.localhost:{port}"
            probe = PROBES.get(args.blueprint, "/")
            wait_for(lambda h=host, p=probe, r=rep: answers(base, p, h, r), 60)
            ready_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            http.delete(f"/api/v1/demo-instances/{instance_id}")
            wait_for(
                lambda i=instance_id: (
                    http.get(f"/api/v1/demo-instances/{i}").json()["status"] == "deleted"
                ),
                60,
            )
            gone_times.append(time.perf_counter() - started)
        return {
            "create_to_ready_postgres_redis_rabbitmq": summary(ready_times),
            "delete_to_all_resources_gone": summary(gone_times),
        }
    finally:
        http.close()
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


def answers(base: str, path: str, host: str, rep_login_url: str | None) -> bool:
    """The demo answers `path` with data, read through the rep's session."""
    try:
        with httpx.Client(timeout=5, trust_env=False) as client:
            response = read(client, base, host, path, rep_login_url)
    except httpx.HTTPError:
        return False
    return response is not None and response.status_code == 200


def wait_for(check: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("timed out")
        time.sleep(0.01)


def purge(args: argparse.Namespace, owner: str, home: Path) -> None:
    db = PostgresDatabase(
        admin_url=args.admin_url, home=home, owner=owner, passwords=Passwords(b"x")
    )
    for instance_id in db.owned():
        db.destroy(instance_id=instance_id)
    db.remove_templates()
    for other in (
        RedisCache(url=args.redis_url, owner=owner, passwords=Passwords(b"x")),
        RabbitBroker(
            amqp_url=args.rabbitmq_url,
            management_url=args.management_url,
            owner=owner,
            passwords=Passwords(b"x"),
        ),
    ):
        for instance_id in other.owned():
            other.destroy(instance_id=instance_id)
        other.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blueprint", default="tiny-cache")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--rabbitmq-url", default="amqp://guest:guest@127.0.0.1:5672/")
    parser.add_argument("--management-url", default="http://guest:guest@127.0.0.1:15672")
    args = parser.parse_args()
    owner = "bench" + secrets.token_hex(3)
    with tempfile.TemporaryDirectory(prefix="demo-clone-bench-") as folder:
        home = Path(folder)
        result: dict[str, Any] = {"blueprint": args.blueprint, "runs": args.runs}
        try:
            result["per_scenario"] = provider_side(args, owner, home)
            try:
                result["orchestrator"] = server_side(args, owner, home)
            except Exception as exc:  # noqa: BLE001 - report it in the JSON
                result["orchestrator"] = {"error": f"{type(exc).__name__}: {exc}"}
        finally:
            purge(args, owner, home)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
