"""The orchestrator with its own store on PostgreSQL (DEMO_STORE_URL), as replicas would run it:
the whole lifecycle, and a kill -9 that the next process recovers from."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from tests.conftest import PG_ADMIN, Server, instance_files

pytestmark = pytest.mark.postgres


@pytest.fixture
def store_url() -> Iterator[str]:
    name = f"orchestrator_store_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
        finally:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def test_lifecycle_and_crash_recovery_on_a_postgresql_store(
    make_server: Any, tmp_path: Any, store_url: str
) -> None:
    server: Server = make_server(tmp_path / "home", DEMO_STORE_URL=store_url).start()
    kept = server.create(scenario="agency")["id"]
    gone = server.create(scenario="startup")["id"]
    server.wait_status(kept, "ready")
    server.wait_status(gone, "ready")
    assert server.demo(kept, "portal").json()["total"] == 5
    assert not (server.home / "orchestrator.db").exists()  # the store is PostgreSQL, not SQLite
    with psycopg.connect(store_url) as store:
        rows = dict(store.execute("SELECT id, status FROM instances").fetchall())
        assert rows == {kept: "ready", gone: "ready"}
        revision = store.execute("SELECT version_num FROM alembic_version").fetchone()
        assert revision is not None
    server.kill()
    server.start()
    assert server.wait_status(kept, "ready")["status"] == "ready"
    server.http.delete(f"/api/v1/demo-instances/{gone}")
    server.wait_status(gone, "deleted")
    assert gone not in server.demo_processes().values()
    assert instance_files(server.home, gone) == []
    assert server.demo(kept, "candidate").status_code == 200
