"""Harnesses of the server-side databases: `postgres`, and `supabase` on the local stand-in of its
Management API (tests/fakes/supabase_api.py, backed by the same real PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

from demo_orchestrator.providers.base import Provider
from demo_orchestrator.providers.postgres import PostgresDatabase, PostgresSettings
from demo_orchestrator.providers.supabase import SupabaseDatabase, SupabaseSettings
from tests.fakes import data_services as servers
from tests.integration.harnesses.base import (
    OTHER,
    SECRET,
    Foreign,
    Harness,
    World,
    closed_port,
    demo_writes_a_row,
    five_seeded_rows,
    rows_back_to_the_seed,
    spec_of,
)

# -- postgres -------------------------------------------------------------------------------------


@contextmanager
def _foreign_postgres(world: World) -> Iterator[Foreign]:
    """A role and a database with no marker, and a pair marked by another orchestrator."""
    unmarked, theirs = world.id("foreign 1"), world.id("foreign 2")
    marks = {
        unmarked.replace("-", "_"): None,
        theirs.replace("-", "_"): f"managed-by demo-orchestrator {OTHER} instance",
    }
    with psycopg.connect(servers.PG_ADMIN, autocommit=True) as conn:
        for name, mark in marks.items():
            conn.execute(f"CREATE ROLE {name}")
            conn.execute(f"CREATE DATABASE {name} OWNER {name}")
            if mark:
                conn.execute(f"COMMENT ON ROLE {name} IS '{mark}'")
                conn.execute(f"COMMENT ON DATABASE {name} IS '{mark}'")

    def intact() -> None:
        with psycopg.connect(servers.PG_ADMIN, autocommit=True) as conn:
            for name in marks:
                assert conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name]).fetchone()
                found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
                assert found.fetchone(), f"database {name} was dropped"

    try:
        yield Foreign({unmarked, theirs}, intact)
    finally:
        with psycopg.connect(servers.PG_ADMIN, autocommit=True) as conn:
            for name in marks:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
                conn.execute(f"DROP ROLE IF EXISTS {name}")


def _postgres_unreachable(world: World) -> Provider:
    url = f"postgresql://admin:{SECRET}@127.0.0.1:{closed_port()}/postgres"
    return world.keep(PostgresDatabase.from_settings(world.core(), PostgresSettings(admin_url=url)))


POSTGRES = Harness(
    name="postgres",
    marks=(pytest.mark.postgres,),
    build=lambda w: w.keep(
        PostgresDatabase.from_settings(w.core(), PostgresSettings(admin_url=servers.PG_ADMIN))
    ),
    spec=spec_of("tiny_cache.yaml"),
    works=five_seeded_rows,
    write=demo_writes_a_row,
    pristine=rows_back_to_the_seed,
    foreign=_foreign_postgres,
    unreachable=_postgres_unreachable,
    cleanup=lambda w: servers.purge_postgres(w.owner, w.home),
    leftovers=lambda w: servers.postgres_leftovers(w.owner),
)


# -- supabase (the local stand-in of its Management API, on real PostgreSQL) ---------------------


def _fake(world: World) -> servers.FakeSupabase:
    fake: servers.FakeSupabase = world.request.getfixturevalue("fake_supabase")
    return fake


def _supabase(world: World, api_url: str, token: str) -> SupabaseDatabase:
    own = SupabaseSettings(
        access_token=token, organization="acme-org", api_url=api_url, poll_seconds=0.05
    )
    provider = SupabaseDatabase.from_settings(world.core(), own)
    world.keep(provider)
    return provider


@contextmanager
def _foreign_projects(world: World) -> Iterator[Foreign]:
    """A project named like a demo with no owner suffix, and another orchestrator's."""
    fake = _fake(world)
    unmarked, theirs = world.id("foreign 1"), world.id("foreign 2")
    names = (unmarked, f"{theirs}-{OTHER}")
    made = [
        fake.http.post(
            "/v1/projects",
            json={"name": n, "db_pass": "pw-foreign-1", "region": "r", "organization_slug": "o"},
        ).json()["ref"]
        for n in names
    ]

    def intact() -> None:
        assert set(names) <= {p["name"] for p in fake.projects()}

    try:
        yield Foreign({unmarked, theirs}, intact)
    finally:
        for ref in made:
            fake.http.delete(f"/v1/projects/{ref}")


def _supabase_cleanup(world: World) -> None:
    provider = _supabase(world, _fake(world).url, servers.SUPABASE_TOKEN)
    for instance_id in provider.owned():
        provider.destroy(instance_id=instance_id)


def _supabase_leftovers(world: World) -> dict[str, list[str]]:
    mine = [p["name"] for p in _fake(world).projects() if p["name"].endswith(f"-{world.owner}")]
    return {"projects": mine} if mine else {}


SUPABASE = Harness(
    name="supabase",
    marks=(pytest.mark.postgres,),
    build=lambda w: _supabase(w, _fake(w).url, servers.SUPABASE_TOKEN),
    spec=spec_of("tiny_cache.yaml"),
    works=five_seeded_rows,
    write=demo_writes_a_row,
    pristine=rows_back_to_the_seed,
    foreign=_foreign_projects,
    unreachable=lambda w: _supabase(w, f"http://127.0.0.1:{closed_port()}", SECRET),
    cleanup=_supabase_cleanup,
    leftovers=_supabase_leftovers,
    fixtures=("fake_supabase",),
)
