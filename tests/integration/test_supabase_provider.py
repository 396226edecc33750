"""The `supabase` provider against a local Management API backed by real PostgreSQL databases
(tests/fakes/supabase_api.py), and, opt-in, against the real API when a token is configured."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from demo_orchestrator.domain.blueprint import load_blueprint
from demo_orchestrator.domain.errors import PermanentError, ProviderError, TemporaryError
from demo_orchestrator.providers.base import InstanceSpec
from demo_orchestrator.providers.ownership import Passwords
from demo_orchestrator.providers.supabase import SupabaseDatabase
from demo_orchestrator.providers.supabase_api import SupabaseApi
from tests.conftest import Server
from tests.fakes.data_services import SUPABASE_TOKEN as TOKEN
from tests.fakes.data_services import FakeSupabase, running_fake_supabase

TINY_CACHE = Path(__file__).resolve().parents[1] / "blueprints" / "tiny_cache.yaml"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeSupabase]:
    """The fake backs each project with a real database: its tests are marked `postgres`."""
    yield from running_fake_supabase()


def _provider(fake: FakeSupabase, tmp_path: Path, **extra: Any) -> SupabaseDatabase:
    api = SupabaseApi(
        base_url=fake.url,
        token=extra.pop("token", TOKEN),
        timeout=extra.pop("timeout", 10.0),
        sleep=extra.pop("sleep", time.sleep),
    )
    return SupabaseDatabase(
        api=api,
        organization="acme-org",
        region="eu-west-1",
        owner=extra.pop("owner", "tsb"),
        passwords=Passwords(b"k" * 32),
        home=tmp_path,
        **extra,
    )


def _spec(instance_id: str) -> InstanceSpec:
    blueprint = load_blueprint(TINY_CACHE)
    return InstanceSpec(
        instance_id=instance_id, blueprint=blueprint, scenario=blueprint.scenarios[0]
    )


@pytest.mark.postgres
def test_project_is_created_seeded_and_deleted(fake: FakeSupabase, tmp_path: Path) -> None:
    provider = _provider(fake, tmp_path)
    try:
        out = provider.ensure(spec=_spec("demo-sb0001"))
        assert out.state["project"] == "demo-sb0001-tsb"
        assert out.env["SUPABASE_ANON_KEY"].startswith("anon-")
        assert out.env["SUPABASE_SERVICE_ROLE_KEY"].startswith("service-")
        with psycopg.connect(out.env["DATABASE_URL"]) as conn:
            assert conn.execute("SELECT count(*) FROM items").fetchone() == (5,)
        again = provider.ensure(spec=_spec("demo-sb0001"))
        assert again.env == out.env and again.message == "exists"
        assert provider.owned() == {"demo-sb0001"}
        assert provider.probe(instance_id="demo-sb0001").healthy
        provider.destroy(instance_id="demo-sb0001")
        provider.destroy(instance_id="demo-sb0001")
        assert provider.owned() == set() and fake.projects() == [] and fake.databases() == []
    finally:
        provider.close()


@pytest.mark.postgres
def test_a_branch_of_a_parent_project(fake: FakeSupabase, tmp_path: Path) -> None:
    parent = fake.http.post(
        "/v1/projects",
        json={
            "name": "parent",
            "db_pass": "pw-parent-123",
            "region": "eu",
            "organization_slug": "o",
        },
    ).json()["ref"]
    provider = _provider(fake, tmp_path, parent_project=parent)
    try:
        out = provider.ensure(spec=_spec("demo-sb0002"))
        assert out.state["branch"] == "demo-sb0002-tsb"
        with psycopg.connect(out.env["DATABASE_URL"]) as conn:
            assert conn.execute("SELECT count(*) FROM items").fetchone() == (5,)
        assert provider.owned() == {"demo-sb0002"}
        provider.destroy(instance_id="demo-sb0002")
        assert provider.owned() == set()
    finally:
        provider.close()
        fake.http.delete(f"/v1/projects/{parent}")
    assert fake.databases() == []


@pytest.mark.postgres
def test_rate_limits_are_honoured(fake: FakeSupabase, tmp_path: Path) -> None:
    waits: list[float] = []
    provider = _provider(fake, tmp_path, sleep=waits.append)
    try:
        fake.http.post("/_fake/throttle", json={"count": 2, "reset": 0.25})
        assert provider.owned() == set()
        assert waits == [0.25, 0.25]
        fake.http.post("/_fake/throttle", json={"count": 1, "reset": 90})
        with pytest.raises(ProviderError, match="rate-limited") as caught:
            provider.owned()  # too long to wait inside a step: the engine retries later
        assert caught.value.delay == 90
    finally:
        fake.http.post("/_fake/throttle", json={"count": 0})
        provider.close()


@pytest.mark.postgres
def test_time_outs_and_a_refused_token_say_what_happened(
    fake: FakeSupabase, tmp_path: Path
) -> None:
    slow = _provider(fake, tmp_path, timeout=0.3)
    refused = _provider(fake, tmp_path, token="sbp_wrong")
    try:
        fake.http.post("/_fake/delay", json={"seconds": 1})
        with pytest.raises(ProviderError, match=r"did not answer GET /v1/projects within 0.3s"):
            slow.owned()
        fake.http.post("/_fake/delay", json={"seconds": 0})
        with pytest.raises(PermanentError, match="refused DEMO_SUPABASE_ACCESS_TOKEN") as caught:
            refused.ensure(spec=_spec("demo-sb0003"))
        assert "sbp_wrong" not in caught.value.detail
    finally:
        fake.http.post("/_fake/delay", json={"seconds": 0})
        slow.close()
        refused.close()


@pytest.mark.postgres
def test_a_half_seeded_project_is_made_again(fake: FakeSupabase, tmp_path: Path) -> None:
    provider = _provider(fake, tmp_path)
    try:
        first = provider.ensure(spec=_spec("demo-sb0004"))
        ref = first.state["ref"]
        # As if the orchestrator died during the seed: seeding started, never finished.
        fake.http.post(
            f"/v1/projects/{ref}/database/query",
            json={"query": "DROP TABLE demo_orchestrator.seeded"},
        )
        with pytest.raises(TemporaryError, match="half-seeded"):
            provider.ensure(spec=_spec("demo-sb0004"))
        again = provider.ensure(spec=_spec("demo-sb0004"))
        assert again.state["ref"] != ref
        with psycopg.connect(again.env["DATABASE_URL"]) as conn:
            assert conn.execute("SELECT count(*) FROM items").fetchone() == (5,)
        provider.destroy(instance_id="demo-sb0004")
    finally:
        provider.close()
    assert fake.databases() == []


@pytest.mark.postgres
def test_the_orchestrator_on_supabase_end_to_end(
    fake: FakeSupabase, make_server: Any, tmp_path: Path
) -> None:
    server: Server = make_server(
        tmp_path / "home",
        DEMO_BLUEPRINT="tiny-cache",
        DEMO_BLUEPRINT_PATHS=json.dumps([str(TINY_CACHE)]),
        DEMO_DATABASE_PROVIDER="supabase",
        DEMO_SUPABASE_API_URL=fake.url,
        DEMO_SUPABASE_ACCESS_TOKEN=TOKEN,
        DEMO_SUPABASE_ORGANIZATION="acme-org",
        DEMO_RESOURCE_OWNER="tsbe2e",
    ).start()
    instance_id = server.create()["id"]
    ready = server.wait_status(instance_id, "ready", "failed", timeout=60)
    assert ready["status"] == "ready", ready
    report = server.demo(instance_id, "portal", "/api/report").json()
    assert report["database"].startswith(fake.prefix) and len(report["items"]) == 5
    assert report["cache"] is None and report["broker"] is None  # none configured: skipped
    assert [p["name"] for p in fake.projects()] == [f"{instance_id}-tsbe2e"]
    server.http.delete(f"/api/v1/demo-instances/{instance_id}")
    server.wait_status(instance_id, "deleted", timeout=30)
    assert fake.projects() == [] and fake.databases() == []
    assert TOKEN not in (server.home / "server.log").read_text()


@pytest.mark.skipif(
    not os.environ.get("DEMO_SUPABASE_ACCESS_TOKEN"),
    reason="opt-in: set DEMO_SUPABASE_ACCESS_TOKEN and DEMO_SUPABASE_ORGANIZATION to run "
    "against the real Supabase Management API (creates and deletes one project)",
)
def test_the_real_management_api(tmp_path: Path) -> None:
    from demo_orchestrator.settings import Settings

    settings = Settings(home=tmp_path, supabase_ready_timeout_seconds=900)
    provider = SupabaseDatabase.from_settings(settings)
    try:
        out = provider.ensure(spec=_spec("demo-sbreal"))
        with psycopg.connect(out.env["DATABASE_URL"], connect_timeout=30) as conn:
            assert conn.execute("SELECT count(*) FROM items").fetchone() == (5,)
    finally:
        provider.destroy(instance_id="demo-sbreal")
        assert "demo-sbreal" not in provider.owned()
        provider.close()
