"""Helpers for tests on the real PostgreSQL, Redis and RabbitMQ of this machine.

Each test gets its own owner id (the marker providers write on every resource), so tests never
see each other's resources, nor anything else on the shared servers; `leftovers(owner)` lists what
still carries that marker on any server and `purge(owner)` removes it, so a failing test still
leaves the servers clean.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import redis
from psycopg import sql

from demo_orchestrator.domain.errors import NotReady
from demo_orchestrator.providers import processes
from demo_orchestrator.providers.base import DatabaseProvider, InstanceSpec, Outputs, Provider
from demo_orchestrator.providers.ownership import Passwords, marker
from demo_orchestrator.providers.postgres import PostgresDatabase
from demo_orchestrator.providers.rabbitmq import RabbitBroker
from demo_orchestrator.providers.redis_cache import RedisCache

PG_ADMIN = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
AMQP_URL = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
MANAGEMENT_URL = os.environ.get(
    "TEST_RABBITMQ_MANAGEMENT_URL", "http://guest:guest@127.0.0.1:15672"
)
MANAGEMENT = MANAGEMENT_URL.replace("guest:guest@", "")  # auth passed separately below
KEY = b"test-key-for-derived-passwords-0123456789"
SUPABASE_TOKEN = "sbp_test_token_0123456789"
ROOT = Path(__file__).resolve().parents[2]


def new_owner() -> str:
    return "t" + secrets.token_hex(4)


def service_env(owner: str) -> dict[str, str]:
    """The env that switches a `democtl serve` onto the real servers, with a known owner."""
    return {
        "DEMO_DATABASE_PROVIDER": "postgres",
        "DEMO_POSTGRES_ADMIN_URL": PG_ADMIN,
        "DEMO_REDIS_URL": REDIS_URL,
        "DEMO_RABBITMQ_URL": AMQP_URL,
        "DEMO_RABBITMQ_MANAGEMENT_URL": MANAGEMENT_URL,
        "DEMO_RESOURCE_OWNER": owner,
        # This machine's PostgreSQL (trust) and Redis (default user without password) are
        # permissive on purpose; `serve` refuses them without this (see test_doctor.py).
        "DEMO_ALLOW_INSECURE": "true",
    }


def provision(provider: Provider, spec: InstanceSpec, *, timeout: float = 60) -> Outputs:
    """What the engine does with one provider: `ensure` again after each `NotReady` (waiting its
    delay), then `seed` when the database is not a seeded clone. Returns what `ensure` gave."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            out = provider.ensure(spec=spec)
            break
        except NotReady as exc:
            assert time.monotonic() < deadline, f"still not ready after {timeout}s: {exc.detail}"
            time.sleep(min(exc.delay, 1.0))
    if isinstance(provider, DatabaseProvider) and not provider.clones_seeded_template:
        seeded = InstanceSpec(
            instance_id=spec.instance_id,
            blueprint=spec.blueprint,
            scenario=spec.scenario,
            env={**spec.env, **out.env},
        )
        provider.seed(spec=seeded)
    return out


def postgres(owner: str, home: Path, **extra: Any) -> PostgresDatabase:
    return PostgresDatabase(
        admin_url=PG_ADMIN, home=home, owner=owner, passwords=Passwords(KEY), **extra
    )


def redis_cache(owner: str, url: str = REDIS_URL) -> RedisCache:
    return RedisCache(url=url, owner=owner, passwords=Passwords(KEY), timeout=2)


def rabbit(owner: str) -> RabbitBroker:
    return RabbitBroker(
        amqp_url=AMQP_URL, management_url=MANAGEMENT_URL, owner=owner, passwords=Passwords(KEY)
    )


def _mgmt() -> httpx.Client:
    return httpx.Client(base_url=f"{MANAGEMENT}/api", auth=("guest", "guest"), trust_env=False)


def postgres_leftovers(owner: str) -> dict[str, list[str]]:
    """Databases and roles on PostgreSQL that carry this owner's marker (or template names)."""
    mark = marker(owner)
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        databases = [
            r[0]
            for r in conn.execute(
                "SELECT datname FROM pg_database WHERE "
                "starts_with(coalesce(shobj_description(oid, 'pg_database'), ''), %s) "
                "OR datname LIKE %s",
                [mark, f"demo_tpl_{owner}_%"],
            )
        ]
        roles = [
            r[0]
            for r in conn.execute(
                "SELECT rolname FROM pg_roles WHERE "
                "starts_with(coalesce(shobj_description(oid, 'pg_authid'), ''), %s)",
                [mark],
            )
        ]
    return {k: v for k, v in {"databases": databases, "roles": roles}.items() if v}


def redis_leftovers(owner: str, prefixes: tuple[str, ...] = ()) -> dict[str, list[str]]:
    """ACL users on Redis that carry this owner's marker, and keys under the given prefixes."""
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        tag = f"%R~demo-orchestrator:managed-by:{owner}"
        users = [
            line.split()[1] for line in client.execute_command("ACL", "LIST") if tag in line.split()
        ]
        keys = [k for p in prefixes for k in client.scan_iter(match=f"{p}:*")]
    finally:
        client.close()
    return {k: v for k, v in {"redis_users": users, "redis_keys": keys}.items() if v}


def rabbit_leftovers(owner: str) -> dict[str, list[str]]:
    """Vhosts and users on RabbitMQ that carry this owner's tag."""
    tag = f"demo-orchestrator-{owner}"
    with _mgmt() as http:
        vhosts = [v["name"] for v in http.get("/vhosts").json() if tag in v.get("tags", [])]
        users = [u["name"] for u in http.get("/users").json() if tag in u["tags"]]
    return {k: v for k, v in {"vhosts": vhosts, "rabbit_users": users}.items() if v}


def leftovers(owner: str, prefixes: tuple[str, ...] = ()) -> dict[str, list[str]]:
    """Everything on the three servers that carries this owner's marker (or a given key prefix)."""
    return {
        **postgres_leftovers(owner),
        **redis_leftovers(owner, prefixes),
        **rabbit_leftovers(owner),
    }


def purge_postgres(owner: str, home: Path) -> None:
    db = postgres(owner, home)
    for instance_id in db.owned():
        db.destroy(instance_id=instance_id)
    db.remove_templates()
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:  # a role whose database never came
        for role in postgres_leftovers(owner).get("roles", []):
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def purge_redis(owner: str, prefixes: tuple[str, ...] = ()) -> None:
    cache = redis_cache(owner)
    try:
        for instance_id in cache.owned():
            cache.destroy(instance_id=instance_id)
    finally:
        cache.close()
    client = redis.Redis.from_url(REDIS_URL)
    try:
        for prefix in prefixes:  # keys a test wrote under a prefix with no user left
            for key in client.scan_iter(match=f"{prefix}:*"):
                client.unlink(key)
    finally:
        client.close()


def purge_rabbit(owner: str) -> None:
    broker = rabbit(owner)
    try:
        for instance_id in broker.owned():
            broker.destroy(instance_id=instance_id)
    finally:
        broker.close()


def purge(owner: str, home: Path, prefixes: tuple[str, ...] = ()) -> None:
    """Remove whatever a test left behind under its owner (best effort, then assert nothing)."""
    purge_postgres(owner, home)
    purge_redis(owner, prefixes)
    purge_rabbit(owner)


def fresh_owner(tmp_path: Path, only: str | None = None) -> Iterator[str]:
    """Body of each module's `owner` fixture: a fresh owner id; whatever carries it is removed
    after the test, and the test fails if anything is left. `only` ("redis", "rabbitmq") limits
    the clean-up to that one server, for tests that need no other."""
    name = new_owner()
    yield name
    if only == "redis":
        purge_redis(name)
        left = redis_leftovers(name)
    elif only == "rabbitmq":
        purge_rabbit(name)
        left = rabbit_leftovers(name)
    else:
        purge(name, tmp_path)
        left = leftovers(name)
    assert left == {}, f"left behind on the servers: {left}"


class FakeSupabase:
    def __init__(self, url: str, prefix: str) -> None:
        self.url, self.prefix = url, prefix
        self.http = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {SUPABASE_TOKEN}"}, trust_env=False
        )

    def projects(self) -> list[dict[str, Any]]:
        return list(self.http.get("/v1/projects").json())

    def databases(self) -> list[str]:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT datname FROM pg_database WHERE starts_with(datname, %s)", [self.prefix]
            )
            return [r[0] for r in rows]


def running_fake_supabase() -> Iterator[FakeSupabase]:
    """Start tests/fakes/supabase_api.py; at the end drop every database it made."""
    port, prefix = processes.free_port(), f"sbfake_{secrets.token_hex(3)}"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fakes.supabase_api",
            "--port",
            str(port),
            "--prefix",
            prefix,
            "--token",
            SUPABASE_TOKEN,
            "--admin-url",
            PG_ADMIN,
        ],
        cwd=ROOT,
    )
    server = FakeSupabase(f"http://127.0.0.1:{port}", prefix)
    deadline = time.monotonic() + 20
    while True:
        try:
            server.http.get("/v1/projects")
            break
        except httpx.TransportError:
            assert time.monotonic() < deadline and proc.poll() is None, "fake did not start"
            time.sleep(0.1)
    yield server
    server.http.close()
    proc.terminate()
    proc.wait(timeout=10)
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:  # whatever a failed test left
        for name in server.databases():
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'DROP ROLE IF EXISTS "{name}"')
