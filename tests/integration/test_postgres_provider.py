"""The `postgres` provider against the real server: what is PostgreSQL's own. Seeded templates
(one build for concurrent clones, rebuilt when the seed code changes, never left half-built),
clones owned by the demo's role and closed to PUBLIC, teardown of a database in use. What every
provider keeps is proven in test_provider_contract.py."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from demo_orchestrator.domain.blueprint import Blueprint, load_blueprint
from demo_orchestrator.domain.errors import PermanentError, TemporaryError
from demo_orchestrator.providers.base import InstanceSpec
from demo_orchestrator.providers.ownership import Passwords
from demo_orchestrator.providers.postgres import PostgresDatabase
from tests.fakes.data_services import KEY, PG_ADMIN, leftovers, new_owner, postgres
from tests.fakes.safe_servers import SafeServers

TINY_CACHE = Path(__file__).resolve().parents[1] / "blueprints" / "tiny_cache.yaml"
# Tests using the `owner` fixture are marked postgres, redis and rabbitmq: its clean-up visits
# all three servers.


def _spec(
    instance_id: str, scenario: str = "agency", blueprint: Blueprint | None = None
) -> InstanceSpec:
    blueprint = blueprint or load_blueprint(TINY_CACHE)
    found = blueprint.scenario(scenario)
    assert found is not None
    return InstanceSpec(instance_id=instance_id, blueprint=blueprint, scenario=found)


# The `owner` fixture's clean-up visits all three servers.
pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.rabbitmq]


def _admin_query(query: str, *params: object) -> list[tuple[object, ...]]:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        return list(conn.execute(query, list(params)).fetchall())


def test_clone_is_seeded_owned_by_the_demo_role_and_closed_to_public(
    owner: str, tmp_path: Path
) -> None:
    db = postgres(owner, tmp_path, connection_limit=7)
    out = db.ensure(spec=_spec("demo-pg0001"))
    assert out.state["database"] == "demo_pg0001" and "DATABASE_URL" not in out.state
    with psycopg.connect(out.env["DATABASE_URL"]) as conn:
        assert conn.execute("SELECT current_user, current_database()").fetchone() == (
            "demo_pg0001",
            "demo_pg0001",
        )
        assert conn.execute("SELECT count(*) FROM items").fetchone() == (5,)
        conn.execute("INSERT INTO items (name) VALUES ('written by the demo')")
        conn.execute("CREATE TABLE mine (id int)")  # it owns its schema
        owners = conn.execute(
            "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
    assert owners == [("demo_pg0001",)]
    (acl, limit, comment, template, allow) = _admin_query(
        "SELECT d.datacl::text, r.rolconnlimit, shobj_description(d.oid, 'pg_database'), "
        "t.datistemplate, t.datallowconn FROM pg_database d JOIN pg_roles r ON r.rolname = d.datname "
        "JOIN pg_database t ON t.datname = %s WHERE d.datname = 'demo_pg0001'",
        out.state["template"],
    )[0]
    assert "=Tc/" not in str(acl) and "=c/" not in str(acl)  # nothing granted to PUBLIC
    assert limit == 7 and comment == f"managed-by demo-orchestrator {owner} instance"
    assert template is True and allow is False  # no session can ever block a clone


def test_destroy_drops_a_database_the_demo_is_connected_to(owner: str, tmp_path: Path) -> None:
    db = postgres(owner, tmp_path)
    out = db.ensure(spec=_spec("demo-pg0002"))
    with psycopg.connect(out.env["DATABASE_URL"]) as conn:  # connected while destroyed
        db.destroy(instance_id="demo-pg0002")
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT 1")
    assert _admin_query("SELECT 1 FROM pg_roles WHERE rolname = 'demo_pg0002'") == []
    assert _admin_query("SELECT 1 FROM pg_database WHERE datname = 'demo_pg0002'") == []


def test_concurrent_clones_share_one_template_build(owner: str, tmp_path: Path) -> None:
    db = postgres(owner, tmp_path)
    ids = [f"demo-pgc00{i}" for i in range(4)]
    with ThreadPoolExecutor(4) as pool:
        outputs = list(pool.map(lambda i: db.ensure(spec=_spec(i)), ids))
    assert len({o.state["template"] for o in outputs}) == 1
    assert db.owned() == set(ids)
    for instance_id in ids:
        db.destroy(instance_id=instance_id)


def test_changed_seed_code_builds_a_new_template_and_drops_the_old(
    owner: str, tmp_path: Path
) -> None:
    folder = tmp_path / "bp"
    folder.mkdir()
    source = TINY_CACHE.read_text()
    (folder / "tiny_cache.yaml").write_text(source)
    seed = (TINY_CACHE.parent / "tiny_cache_seed.py").read_text()
    (folder / "tiny_cache_seed.py").write_text(seed)
    db = postgres(owner, tmp_path)
    old = db.ensure(spec=_spec("demo-pg0003", blueprint=load_blueprint(folder / "tiny_cache.yaml")))
    (folder / "tiny_cache_seed.py").write_text(seed.replace("item-", "thing-"))
    from demo_orchestrator.providers import fingerprint

    fingerprint._tree_digest.cache_clear()
    new = db.ensure(spec=_spec("demo-pg0004", blueprint=load_blueprint(folder / "tiny_cache.yaml")))
    assert new.state["template"] != old.state["template"]
    with psycopg.connect(new.env["DATABASE_URL"]) as conn:
        assert conn.execute("SELECT min(name) FROM items").fetchone()[0].startswith("thing-")
    templates = [
        r[0]
        for r in _admin_query(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", f"demo_tpl_{owner}_agency_%"
        )
    ]
    assert templates == [new.state["template"]]
    with psycopg.connect(old.env["DATABASE_URL"]) as conn:  # the older clone is untouched
        assert conn.execute("SELECT min(name) FROM items").fetchone()[0].startswith("item-")


def test_a_failing_seed_leaves_no_template_and_says_why(owner: str, tmp_path: Path) -> None:
    folder = tmp_path / "bp"
    folder.mkdir()
    (folder / "tiny_cache.yaml").write_text(TINY_CACHE.read_text())
    (folder / "tiny_cache_seed.py").write_text(
        "import sys\nsys.exit('seed is broken on purpose')\n"
    )
    db = postgres(owner, tmp_path)
    with pytest.raises(PermanentError, match="broken on purpose"):
        db.ensure(spec=_spec("demo-pg0005", blueprint=load_blueprint(folder / "tiny_cache.yaml")))
    assert db.owned() == set()
    assert "databases" not in leftovers(owner)  # the half-built template is dropped at once


def test_a_template_left_unmarked_by_a_crash_is_rebuilt(owner: str, tmp_path: Path) -> None:
    db = postgres(owner, tmp_path)
    spec = _spec("demo-pg0006")
    name = db.template_name(spec.blueprint, spec.scenario)
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:  # killed between CREATE and COMMENT
        conn.execute(f'CREATE DATABASE "{name}"')
    out = db.ensure(spec=spec)
    assert out.state["template"] == name
    with psycopg.connect(out.env["DATABASE_URL"]) as conn:
        assert conn.execute("SELECT count(*) FROM items").fetchone() == (5,)
    db.destroy(instance_id="demo-pg0006")


def test_a_clone_keeps_the_builders_rights_on_a_template_being_built(
    owner: str, tmp_path: Path
) -> None:
    """Regression: the clone's clean-up once ran DROP OWNED BY the builder, which also revoked
    its CONNECT on every database, so a template seeded at the same moment failed to seed."""
    db = postgres(owner, tmp_path)
    db.ensure(spec=_spec("demo-pg0009"))  # the builder role exists from here on
    building = f"demo_tpl_{owner}_inflight"
    builder = f"demo_builder_{owner}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{building}"')
        conn.execute(f'REVOKE ALL ON DATABASE "{building}" FROM PUBLIC')  # as templates are
        conn.execute(f'GRANT CONNECT ON DATABASE "{building}" TO "{builder}"')
    try:
        db.ensure(spec=_spec("demo-pg0010"))  # a clone while the other template "seeds"
        (still,) = _admin_query(
            "SELECT has_database_privilege(%s, %s, 'CONNECT')", builder, building
        )[0]
        assert still is True
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{building}" WITH (FORCE)')
        for instance_id in ("demo-pg0009", "demo-pg0010"):
            db.destroy(instance_id=instance_id)


# -- on the private server configured the safe way (scram-sha-256) -----------------------------


def _safe_provider(servers: SafeServers, tmp_path: Path) -> PostgresDatabase:
    return PostgresDatabase(
        admin_url=servers.postgres.admin_url,
        home=tmp_path,
        owner=new_owner(),
        passwords=Passwords(KEY),
        timeout=5,
    )


def test_ensure_logs_in_as_the_demo_and_fails_when_the_server_refuses_it(
    safe_servers: SafeServers, tmp_path: Path
) -> None:
    """ensure proves the database the way the demo uses it: a server that refuses the demo's
    role (here pg_hba.conf `reject` for it) is a temporary failure naming the database."""
    db = _safe_provider(safe_servers, tmp_path)
    hba = safe_servers.postgres.folder / "data" / "pg_hba.conf"
    original = hba.read_text()
    try:
        out = db.ensure(spec=_spec("demo-pgok01"))
        with psycopg.connect(out.env["DATABASE_URL"]) as conn:
            assert conn.execute("SELECT count(*) FROM items").fetchone() == (5,)
        with psycopg.connect(safe_servers.postgres.admin_url, autocommit=True) as conn:
            opened = conn.execute(
                "SELECT has_database_privilege('public', 'demo_pgok01', 'CONNECT')"
            ).fetchone()
            assert opened == (False,)  # REVOKE CONNECT ... FROM PUBLIC on the clone
        hba.write_text("host all demo_pgno01 127.0.0.1/32 reject\n" + original)
        _reload(safe_servers)
        with pytest.raises(TemporaryError) as failed:
            db.ensure(spec=_spec("demo-pgno01"))
        assert "PostgreSQL database demo_pgno01: login as role demo_pgno01" in failed.value.detail
        assert Passwords(KEY).of("postgres", db.owner, "demo_pgno01") not in failed.value.detail
    finally:
        hba.write_text(original)
        _reload(safe_servers)
        for instance_id in ("demo-pgok01", "demo-pgno01"):
            db.destroy(instance_id=instance_id)
        db.remove_templates()
        db.close()


def test_doctor_finds_a_non_demo_database_open_to_public(
    safe_servers: SafeServers, tmp_path: Path
) -> None:
    db = _safe_provider(safe_servers, tmp_path)
    admin = psycopg.connect(safe_servers.postgres.admin_url, autocommit=True)
    try:
        assert [f.level for f in db.doctor()] == ["ok", "ok"]
        admin.execute('CREATE DATABASE "crm_prod"')  # CONNECT for PUBLIC, PostgreSQL's default
        passwords, databases = db.doctor()
        assert passwords.level == "ok"
        assert databases.level == "fail"
        assert "crm_prod" in databases.detail and "a throwaway role logged into crm_prod" in (
            databases.detail
        )
        assert 'REVOKE CONNECT ON DATABASE "crm_prod" FROM PUBLIC' in databases.fix
        admin.execute('REVOKE CONNECT ON DATABASE "crm_prod" FROM PUBLIC')
        assert [f.level for f in db.doctor()] == ["ok", "ok"]
    finally:
        admin.execute('DROP DATABASE IF EXISTS "crm_prod"')
        admin.close()
        db.close()


def _reload(servers: SafeServers) -> None:
    with psycopg.connect(servers.postgres.admin_url, autocommit=True) as conn:
        conn.execute("SELECT pg_reload_conf()")
