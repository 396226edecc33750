"""The `supabase` provider against a local Management API backed by real PostgreSQL databases
(tests/fakes/supabase_api.py), and, opt-in, against the real API when a token is configured.

What every provider keeps (ensure twice, destroy twice, owned, foreign projects, an unreachable
API, reset) is proven in test_provider_contract.py; here is what is Supabase's own: a project is
not ready at first and `ensure` says so instead of waiting, `seed` migrates and seeds it once,
branches, rate limits, time-outs, a refused token, and a project left half-seeded by a crash."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from demo_orchestrator.domain.blueprint import load_blueprint
from demo_orchestrator.domain.errors import NotReady, PermanentError, ProviderError, TemporaryError
from demo_orchestrator.providers.base import InstanceSpec
from demo_orchestrator.providers.ownership import Passwords
from demo_orchestrator.providers.supabase import SupabaseDatabase, SupabaseSettings
from demo_orchestrator.providers.supabase_api import SupabaseApi
from demo_orchestrator.settings import Settings
from tests.conftest import Server
from tests.fakes.data_services import SUPABASE_TOKEN as TOKEN
from tests.fakes.data_services import FakeSupabase, provision, running_fake_supabase

TINY_CACHE = Path(__file__).resolve().parents[1] / "blueprints" / "tiny_cache.yaml"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeSupabase]:
    """The fake backs each project with a real database: its tests are marked `postgres`."""
    yield from running_fake_supabase()


def _provider(fake: FakeSupabase, tmp_path: Path, **extra: Any) -> SupabaseDatabase:
    api = SupabaseApi(
        base_url=fake.url, token=extra.pop("token", TOKEN), timeout=extra.pop("timeout", 10.0)
    )
    return SupabaseDatabase(
        api=api,
        organization="acme-org",
        region="eu-west-1",
        owner=extra.pop("owner", "tsb"),
        passwords=Passwords(b"k" * 32),
        home=tmp_path,
        poll=extra.pop("poll", 0.05),
        **extra,
    )


def _spec(instance_id: str, env: dict[str, str] | None = None) -> InstanceSpec:
    blueprint = load_blueprint(TINY_CACHE)
    return InstanceSpec(
        instance_id=instance_id,
        blueprint=blueprint,
        scenario=blueprint.scenarios[0],
        env=env or {},
    )


def _items(url: str) -> int | None:
    with psycopg.connect(url) as conn:
        if conn.execute("SELECT to_regclass('public.items')").fetchone() == (None,):
            return None
        row = conn.execute("SELECT count(*) FROM items").fetchone()
        return int(row[0]) if row else None


def test_ensure_says_not_ready_instead_of_waiting_and_seed_seeds_once(
    fake: FakeSupabase, tmp_path: Path
) -> None:
    provider = _provider(fake, tmp_path, ready_timeout=123)
    try:
        with pytest.raises(NotReady, match="coming up") as caught:
            provider.ensure(spec=_spec("demo-sb0001"))  # created; its first look is COMING_UP
        assert caught.value.delay == 0.05 and caught.value.timeout == 123
        assert [p["name"] for p in fake.projects()] == ["demo-sb0001-tsb"]  # made once
        out = provider.ensure(spec=_spec("demo-sb0001"))
        assert out.state["project"] == "demo-sb0001-tsb" and "to be seeded" in out.message
        assert out.env["SUPABASE_ANON_KEY"].startswith("anon-")
        assert out.env["SUPABASE_SERVICE_ROLE_KEY"].startswith("service-")
        assert _items(out.env["DATABASE_URL"]) is None  # ensure never seeds: the engine calls seed
        assert not provider.clones_seeded_template
        seeded = provider.seed(spec=_spec("demo-sb0001", out.env))
        assert "migrated and seeded" in seeded.message
        assert _items(out.env["DATABASE_URL"]) == 5
        assert "already seeded" in provider.seed(spec=_spec("demo-sb0001", out.env)).message
        assert provider.ensure(spec=_spec("demo-sb0001")).message == "exists, seeded"
        assert _items(out.env["DATABASE_URL"]) == 5
    finally:
        provider.destroy(instance_id="demo-sb0001")
        provider.close()
    assert fake.projects() == [] and fake.databases() == []


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
        out = provision(provider, _spec("demo-sb0002"))
        assert out.state["branch"] == "demo-sb0002-tsb"
        assert _items(out.env["DATABASE_URL"]) == 5
        assert provider.owned() == {"demo-sb0002"}
        assert provider.probe(instance_id="demo-sb0002").healthy
        provider.destroy(instance_id="demo-sb0002")
        assert provider.owned() == set()
    finally:
        provider.close()
        fake.http.delete(f"/v1/projects/{parent}")
    assert fake.databases() == []


def test_a_rate_limit_is_not_ready_for_as_long_as_the_api_says(
    fake: FakeSupabase, tmp_path: Path
) -> None:
    provider = _provider(fake, tmp_path)
    try:
        for reset in (0.25, 90):
            fake.http.post("/_fake/throttle", json={"count": 1, "reset": reset})
            with pytest.raises(NotReady, match="rate-limited") as caught:
                provider.owned()  # no worker sleeps through it: the engine asks again later
            assert caught.value.delay == reset
        assert provider.owned() == set()  # the window has passed
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
        first = provision(provider, _spec("demo-sb0004"))
        ref = first.state["ref"]
        # As if the orchestrator died during the seed: seeding started, never finished.
        fake.http.post(
            f"/v1/projects/{ref}/database/query",
            json={"query": "DROP TABLE demo_orchestrator.seeded"},
        )
        with pytest.raises(TemporaryError, match="half-seeded"):
            provider.ensure(spec=_spec("demo-sb0004"))
        again = provision(provider, _spec("demo-sb0004"))
        assert again.state["ref"] != ref
        assert _items(again.env["DATABASE_URL"]) == 5
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
        DEMO_SUPABASE_POLL_SECONDS="0.1",
        DEMO_RESOURCE_OWNER="tsbe2e",
    ).start()
    try:
        instance_id = server.create()["id"]
        ready = server.wait_status(instance_id, "ready", "failed", timeout=60)
        assert ready["status"] == "ready", ready["error"]
        report = server.demo(instance_id, "portal", "/api/report").json()
        assert report["database"].startswith(fake.prefix) and len(report["items"]) == 5
        assert report["cache"] is None and report["broker"] is None  # none configured: skipped
        assert [p["name"] for p in fake.projects()] == [f"{instance_id}-tsbe2e"]
        server.http.delete(f"/api/v1/demo-instances/{instance_id}")
        server.wait_status(instance_id, "deleted", timeout=30)
        assert fake.projects() == [] and fake.databases() == []
        assert TOKEN not in (server.home / "server.log").read_text()
    finally:
        for project in fake.projects():  # a failed run must not leave projects for the next test
            fake.http.delete(f"/v1/projects/{project['ref']}")


@pytest.mark.skipif(
    not os.environ.get("DEMO_SUPABASE_ACCESS_TOKEN"),
    reason="opt-in: set DEMO_SUPABASE_ACCESS_TOKEN and DEMO_SUPABASE_ORGANIZATION to run "
    "against the real Supabase Management API (creates and deletes one project)",
)
def test_the_real_management_api(tmp_path: Path) -> None:
    own = SupabaseSettings(ready_timeout_seconds=900)  # the rest from DEMO_SUPABASE_*
    provider = SupabaseDatabase.from_settings(Settings(home=tmp_path), own)
    try:
        out = provision(provider, _spec("demo-sbreal"), timeout=900)
        with psycopg.connect(out.env["DATABASE_URL"], connect_timeout=30) as conn:
            assert conn.execute("SELECT count(*) FROM items").fetchone() == (5,)
    finally:
        provider.destroy(instance_id="demo-sbreal")
        assert "demo-sbreal" not in provider.owned()
        provider.close()
