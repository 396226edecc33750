"""Two demos on the same real servers cannot reach each other, nor the orchestrator's store.

Demo A holds its own DATABASE_URL, REDIS_URL and AMQP_URL; every attempt to use them against
demo B's database, keys, channels or vhost, or to do server-wide things (FLUSHALL, KEYS, SCAN,
CREATE DATABASE/ROLE), or to connect to the store database, is refused by the server itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pika
import psycopg
import pytest
import redis

from demo_orchestrator.domain.blueprint import load_blueprint
from demo_orchestrator.providers.base import InstanceSpec
from tests.fakes.data_services import (
    PG_ADMIN,
    leftovers,
    new_owner,
    postgres,
    purge,
    rabbit,
    redis_cache,
)

TINY_CACHE = Path(__file__).resolve().parents[1] / "blueprints" / "tiny_cache.yaml"
pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.rabbitmq]


def _with_path(url: str, path: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=path))


@pytest.fixture(scope="module")
def demos(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[dict[str, str], dict[str, str], str]]:
    """Demos A and B on postgres + redis + rabbitmq, and a scratch store database."""
    owner, tmp_path = new_owner(), tmp_path_factory.mktemp("isolation")
    store = f"demo_test_store_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{store}"')
    store_url = _with_path(PG_ADMIN, f"/{store}").replace("postgresql://", "postgresql+psycopg://")
    providers = [postgres(owner, tmp_path, store_url=store_url), redis_cache(owner), rabbit(owner)]
    blueprint = load_blueprint(TINY_CACHE)
    envs: list[dict[str, str]] = []
    try:
        for instance_id in ("demo-isoaaa", "demo-isobbb"):
            spec = InstanceSpec(
                instance_id=instance_id, blueprint=blueprint, scenario=blueprint.scenarios[0]
            )
            env: dict[str, str] = {}
            for provider in providers:
                env.update(provider.ensure(spec=spec).env)
            envs.append(env)
        yield envs[0], envs[1], store
    finally:
        for provider in providers:
            for instance_id in ("demo-isoaaa", "demo-isobbb"):
                provider.destroy(instance_id=instance_id)
            provider.close()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{store}" WITH (FORCE)')
        purge(owner, tmp_path)
        assert leftovers(owner, ("demo-isoaaa", "demo-isobbb")) == {}


def test_database_isolation(demos: tuple[dict[str, str], dict[str, str], str]) -> None:
    a, b, store = demos
    with psycopg.connect(a["DATABASE_URL"], autocommit=True) as conn:  # A works in its own database
        assert conn.execute("SELECT count(*) FROM items").fetchone() == (5,)
        for statement in (
            "CREATE DATABASE demo_evil",
            "CREATE ROLE demo_evil",
            "ALTER ROLE demo_isoaaa CREATEDB",
            "ALTER ROLE demo_isoaaa CONNECTION LIMIT -1",
            "GRANT demo_isobbb TO demo_isoaaa",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
    b_database = urlsplit(b["DATABASE_URL"]).path
    for target in (b_database, f"/{store}"):
        with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
            psycopg.connect(_with_path(a["DATABASE_URL"], target)).close()
    # B's data is untouched and B still gets in.
    with psycopg.connect(b["DATABASE_URL"]) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("demo_isobbb",)


def test_cache_isolation(demos: tuple[dict[str, str], dict[str, str], str]) -> None:
    a, b, _ = demos
    as_b = redis.Redis.from_url(b["REDIS_URL"], decode_responses=True)
    as_a = redis.Redis.from_url(a["REDIS_URL"], decode_responses=True)
    try:
        as_b.set(f"{b['REDIS_PREFIX']}:secret", "b-only")
        as_a.set(f"{a['REDIS_PREFIX']}:mine", "a")
        denied = redis.exceptions.NoPermissionError
        for attempt in (
            lambda: as_a.get(f"{b['REDIS_PREFIX']}:secret"),
            lambda: as_a.set(f"{b['REDIS_PREFIX']}:secret", "overwritten"),
            lambda: as_a.delete(f"{b['REDIS_PREFIX']}:secret"),
            lambda: as_a.publish(f"{b['REDIS_PREFIX']}:events", "x"),
            lambda: as_a.flushall(),
            lambda: as_a.flushdb(),
            lambda: as_a.keys("*"),
            lambda: as_a.scan(0),
            lambda: as_a.randomkey(),
            lambda: as_a.config_get("*"),
            lambda: as_a.execute_command("ACL", "LIST"),
        ):
            with pytest.raises(denied):
                attempt()
        assert as_b.get(f"{b['REDIS_PREFIX']}:secret") == "b-only"
    finally:
        as_a.close()
        as_b.close()


def test_broker_isolation(demos: tuple[dict[str, str], dict[str, str], str]) -> None:
    a, b, _ = demos
    b_vhost = urlsplit(b["AMQP_URL"]).path
    with pytest.raises(pika.exceptions.ProbableAccessDeniedError):
        pika.BlockingConnection(pika.URLParameters(_with_path(a["AMQP_URL"], b_vhost)))
    with pytest.raises(pika.exceptions.ProbableAccessDeniedError):
        pika.BlockingConnection(pika.URLParameters(_with_path(a["AMQP_URL"], "/%2F")))
    own = pika.BlockingConnection(pika.URLParameters(a["AMQP_URL"]))
    own.close()
