"""The instance list (`GET /api/v1/demo-instances`, the web lists) on SQLite and PostgreSQL.

The list is built by a path of its own, made for speed (plain columns, steps in the same statement,
built parts kept between calls), so these check it against the one-instance view
(`InstanceService.get`) field by field, against the API schema, and that its cost in statements
does not grow with the page.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import event, inspect, update

from demo_orchestrator.api.schemas import InstancePage
from demo_orchestrator.app import create_app
from demo_orchestrator.bootstrap import Orchestrator, bootstrap
from demo_orchestrator.domain.blueprint import load_blueprint
from demo_orchestrator.domain.errors import BadRequest, Forbidden
from demo_orchestrator.engine import listing as engine_listing
from demo_orchestrator.engine.service import Principal
from demo_orchestrator.settings import Settings
from demo_orchestrator.store import listing, migrate
from demo_orchestrator.store.database import Database
from demo_orchestrator.store.models import InstanceRow, StepRow
from tests.fakes.engine import (
    TINY,
    FakeClock,
    FakeDatabase,
    FakeRuntime,
    InlineExecutor,
)

ADMIN = Principal("admin", "admin")
VIEWER = Principal("vera", "viewer")
ALICE = Principal("alice", "sales")
TOKEN = "test-admin-token-0123456789"
STEPS = ["database", "cache", "broker", "seed", "deploy", "routes", "health"]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def orchestrator(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Orchestrator]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        url = request.getfixturevalue("pg_databases")()
    migrated = Database(url)
    migrated.upgrade()
    migrated.dispose()
    clock = FakeClock()
    journal: list[tuple[str, str, str]] = []
    blueprint = load_blueprint(TINY)
    made = bootstrap(
        Settings(home=tmp_path, store_url=url, blueprint="tiny", admin_token=TOKEN),
        runtime=FakeRuntime(journal, clock),
        database=FakeDatabase(journal),
        blueprints={blueprint.name: blueprint},
        clock=clock,
        executor=InlineExecutor(),
    )
    yield made
    made.ctx.db.dispose()


def _add(orchestrator: Orchestrator, instance_id: str, **fields: Any) -> None:
    """One instance row with a seven-step plan, written the way the engine leaves them."""
    ctx = orchestrator.ctx
    now = ctx.clock()
    created = fields.pop("created_at", now - timedelta(minutes=len(instance_id) % 7))
    status = fields.pop("status", "ready")
    steps = fields.pop("steps", None)
    values: dict[str, Any] = {
        "blueprint": "tiny",
        "scenario": "agency",
        "owner": "alice",
        "name": f"demo {instance_id}",
        "prospect": {"company": f"Co {instance_id}"},
        "notes": None,
        "status": status,
        "desired": "deleted" if status == "deleted" else "ready",
        "created_at": created,
        "started_at": created,
        "ready_at": created + timedelta(seconds=1.5) if status == "ready" else None,
        "expires_at": created + timedelta(hours=2),
        "duration_hours": 2.0,
        "hourly_usd": 0.16,
        "sleeping_hourly_usd": 0.01,
        "slept_seconds": 0.0,
        "outputs": {"routes": {"portal": {"port": 9}}},
        "secrets": ctx.box.seal({"login_secret": f"secret-{instance_id}"}),
    }
    values.update(fields)
    with ctx.db.write() as session:
        session.add(InstanceRow(id=instance_id, **values))
        session.flush()
        for position, name in enumerate(STEPS):
            step = {
                "status": "done",
                "started_at": created + timedelta(seconds=position),
                "finished_at": created + timedelta(seconds=position, microseconds=250_000),
                "retries": 0,
                "message": "ok",
                "error": None,
            }
            step.update((steps or {}).get(name, {}))
            session.add(
                StepRow(
                    instance_id=instance_id, name=name, position=position, provider=None, **step
                )
            )


def _fill(orchestrator: Orchestrator) -> None:
    now = orchestrator.ctx.clock()
    _add(orchestrator, "demo-ready1", created_at=now - timedelta(minutes=1))
    _add(
        orchestrator,
        "demo-sleep1",
        status="sleeping",
        scenario="startup",
        owner="bob",
        created_at=now - timedelta(minutes=2),
        sleeping_since=now - timedelta(minutes=1),
        slept_seconds=30.0,
        meeting_at=now + timedelta(days=1),
    )
    _add(
        orchestrator,
        "demo-wait01",
        status="pending_approval",
        created_at=now - timedelta(minutes=3),
        started_at=None,
        outputs={"approval": {"reason": "longer than 4 h"}},
        secrets=None,
    )
    _add(
        orchestrator,
        "demo-fail01",
        status="failed",
        created_at=now - timedelta(minutes=4),
        error="seed: boom",
        notes="a note with ünïcode",
        steps={
            "seed": {"status": "failed", "retries": 3, "error": "boom", "finished_at": None},
            "deploy": {"status": "pending", "started_at": None, "finished_at": None},
        },
    )
    _add(
        orchestrator,
        "demo-gone01",
        status="deleted",
        created_at=now - timedelta(minutes=5),
        ended_at=now - timedelta(minutes=1),
    )
    _add(orchestrator, "demo-provis", status="provisioning", created_at=now - timedelta(minutes=6))
    _add(
        orchestrator,
        "demo-pool01",
        owner="",
        pooled=True,
        created_at=now - timedelta(seconds=90),  # between two listed demos
    )


def _ids(page: dict[str, Any]) -> list[str]:
    return [item["id"] for item in page["items"]]


# --- what an item shows -----------------------------------------------------------------------


def test_every_listed_demo_shows_exactly_what_its_own_view_shows(
    orchestrator: Orchestrator,
) -> None:
    _fill(orchestrator)
    service = orchestrator.instances
    for _ in range(2):  # a second list is built partly from what the first one kept
        page = service.list_page(ADMIN, limit=500)
        assert _ids(page) == [
            "demo-ready1",
            "demo-sleep1",
            "demo-wait01",
            "demo-fail01",
            "demo-gone01",
            "demo-provis",
        ]  # newest first; the warm-pool member left out, the sleeping demo in
        for item in page["items"]:
            assert item == service.get(ADMIN, item["id"])
    by_id = {item["id"]: item for item in page["items"]}
    assert by_id["demo-wait01"]["waiting_reason"] == "longer than 4 h"
    assert by_id["demo-wait01"]["urls"] == {} and by_id["demo-wait01"]["personas"] == []
    assert by_id["demo-ready1"]["personas"][0]["login_url"].startswith(
        "http://demo-ready1.portal.localhost:8000/login?email="
    )
    assert all(p["login_url"] is None for p in by_id["demo-fail01"]["personas"])
    assert by_id["demo-gone01"]["urls"] == {}
    assert by_id["demo-fail01"]["steps"][3]["error"] == "boom"
    assert by_id["demo-ready1"]["steps"][0]["duration_seconds"] == 0.25


def test_a_change_shows_in_the_next_list(orchestrator: Orchestrator) -> None:
    """Nothing kept between lists hides a change: steps, status, times, secrets, scenario."""
    _fill(orchestrator)
    service = orchestrator.instances
    before = {item["id"]: item for item in service.list_page(ADMIN, limit=500)["items"]}
    ctx = orchestrator.ctx
    now = ctx.clock()
    with ctx.db.write() as session:
        session.execute(
            update(StepRow)
            .where(StepRow.instance_id == "demo-provis", StepRow.name == "health")
            .values(status="running", finished_at=None, retries=2, message="waiting")
        )
        session.execute(
            update(InstanceRow)
            .where(InstanceRow.id == "demo-ready1")
            .values(
                secrets=ctx.box.seal({"login_secret": "a new secret"}),
                expires_at=now + timedelta(hours=5),
            )
        )
        session.execute(
            update(InstanceRow).where(InstanceRow.id == "demo-provis").values(scenario="startup")
        )
        session.execute(
            update(InstanceRow)
            .where(InstanceRow.id == "demo-sleep1")
            .values(status="ready", sleeping_since=None)
        )
    ctx.clock.advance(600)  # type: ignore[attr-defined]
    page = service.list_page(ADMIN, limit=500)
    for item in page["items"]:
        assert item == service.get(ADMIN, item["id"])
    by_id = {item["id"]: item for item in page["items"]}
    assert by_id["demo-provis"]["steps"][6]["message"] == "waiting"
    assert by_id["demo-provis"]["personas"] == []  # the startup scenario has none
    assert by_id["demo-ready1"]["personas"] != before["demo-ready1"]["personas"]  # new secret
    assert by_id["demo-sleep1"]["status"] == "ready"


def test_the_api_answers_in_the_documented_schema(orchestrator: Orchestrator) -> None:
    _fill(orchestrator)
    orchestrator.accounts.bootstrap()

    async def ask(*queries: dict[str, Any]) -> list[httpx.Response]:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(orchestrator)),
            base_url="http://127.0.0.1",
            headers={"Authorization": f"Bearer {TOKEN}"},
        ) as client:
            return [await client.get("/api/v1/demo-instances", params=q) for q in queries]

    (answer,) = asyncio.run(ask({"limit": 4}))
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    # Validating through the declared response model changes nothing: no field more or less,
    # no value of another type.
    assert InstancePage.model_validate(body).model_dump(mode="json") == body
    assert _ids(body) == ["demo-ready1", "demo-sleep1", "demo-wait01", "demo-fail01"]
    assert body["next_cursor"]
    rest, bad = asyncio.run(ask({"limit": 4, "cursor": body["next_cursor"]}, {"status": "asleep"}))
    assert _ids(rest.json()) == ["demo-gone01", "demo-provis"]
    assert rest.json()["next_cursor"] is None
    assert bad.status_code == 422 and "not a status" in bad.json()["detail"]


# --- what it costs ----------------------------------------------------------------------------


def test_statements_per_page_do_not_grow_with_the_page(orchestrator: Orchestrator) -> None:
    now = orchestrator.ctx.clock()
    for index in range(30):
        _add(orchestrator, f"demo-n{index:04d}", created_at=now - timedelta(seconds=index))
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    engine = orchestrator.ctx.db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        per_page = {}
        for limit in (1, 5, 30, 500):
            statements.clear()
            page = orchestrator.instances.list_page(ADMIN, limit=limit)
            assert len(page["items"]) == min(limit, 30)
            per_page[limit] = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert {len(s) for s in per_page.values()} == {1}, per_page  # the rows with their steps
    selected = per_page[30][0].lower()
    assert "outputs" in selected and ("json_extract" in selected or "#>>" in selected)
    assert "lease_owner" not in selected and "applied_generation" not in selected


def test_sealed_secrets_are_opened_once_and_only_for_demos_with_sign_in_links(
    orchestrator: Orchestrator, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fill(orchestrator)
    box = orchestrator.ctx.box
    opened: list[str] = []
    real_open = box.open

    def counting_open(sealed: str | None) -> dict[str, Any]:
        opened.append(str(sealed))
        return real_open(sealed)

    monkeypatch.setattr(box, "open", counting_open)
    orchestrator.instances.list_page(ADMIN, limit=500)
    # ready, sleeping, provisioning: yes; waiting, failed, deleted: no sign-in link to show.
    assert len(opened) == 3
    orchestrator.instances.list_page(ADMIN, limit=500)
    assert len(opened) == 3  # nothing opened again


# --- filters, order, pages, who sees what -----------------------------------------------------


def test_filters_search_and_the_pool(orchestrator: Orchestrator) -> None:
    _fill(orchestrator)
    service = orchestrator.instances

    def ids(**filters: Any) -> list[str]:
        return _ids(service.list_page(ADMIN, limit=500, **filters))

    assert ids(status="sleeping") == ["demo-sleep1"]
    assert ids(status="ready") == ["demo-ready1"]  # the ready warm-pool member is not listed
    assert ids(scenario="startup") == ["demo-sleep1"]
    assert ids(owner="bob") == ["demo-sleep1"]
    assert ids(owner="") == []  # pool members have no owner, and are not listed anyway
    assert ids(search="CO DEMO-FAIL") == ["demo-fail01"]  # prospect, case-insensitive
    assert ids(search="ünïcode") == ["demo-fail01"]  # notes
    assert ids(search="sleep1") == ["demo-sleep1"]  # id
    assert ids(search="pool") == []
    assert ids(status="failed", owner="alice", scenario="agency") == ["demo-fail01"]
    with pytest.raises(BadRequest, match="not a status"):
        service.list_page(ADMIN, status="asleep")


def test_a_sales_user_lists_only_their_own_demos(orchestrator: Orchestrator) -> None:
    _fill(orchestrator)
    service = orchestrator.instances
    assert "demo-sleep1" not in _ids(service.list_page(ALICE, limit=500))
    assert set(_ids(service.list_page(ALICE, limit=500))) == {
        "demo-ready1",
        "demo-wait01",
        "demo-fail01",
        "demo-gone01",
        "demo-provis",
    }
    assert _ids(service.list_page(ALICE, owner="alice", status="failed")) == ["demo-fail01"]
    with pytest.raises(Forbidden, match="only their own demos"):
        service.list_page(ALICE, owner="bob")
    assert _ids(service.list_page(VIEWER, owner="bob")) == ["demo-sleep1"]


@pytest.mark.parametrize("limit", [1, 2, 3, 7])
def test_pages_visit_every_listed_demo_once_in_order_with_ties(
    orchestrator: Orchestrator, limit: int
) -> None:
    now = orchestrator.ctx.clock()
    expected = []
    for index in range(12):
        created = now - timedelta(minutes=index // 3)  # three demos per creation time
        pooled = index % 4 == 1
        instance_id = f"demo-t{index:04d}"
        _add(orchestrator, instance_id, created_at=created, pooled=pooled, status="ready")
        if not pooled:
            expected.append((created, instance_id))
    expected_ids = [i for _, i in sorted(expected, reverse=True)]
    for filters in ({}, {"status": "ready"}, {"owner": "alice"}, {"scenario": "agency"}):
        seen: list[str] = []
        cursor = None
        for _ in range(20):
            page = orchestrator.instances.list_page(ADMIN, limit=limit, cursor=cursor, **filters)
            assert 0 < len(page["items"]) <= limit
            seen.extend(_ids(page))
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == expected_ids, filters


# --- the indexes ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filters", "index"),
    [
        ({}, "ix_instances_list"),
        ({"status": "ready"}, "ix_instances_list_status"),
        ({"scenario": "agency"}, "ix_instances_list_scenario"),
        ({"owner": "alice"}, "ix_instances_list_owner"),
        ({"search": "acme"}, "ix_instances_list"),
    ],
)
def test_sqlite_walks_an_index_in_list_order(
    tmp_path: Path, filters: dict[str, str], index: str
) -> None:
    """No sort of every match: the page is read in order from the index, also after a cursor."""
    database = Database(f"sqlite:///{tmp_path / 'store.db'}")
    database.upgrade()
    statements: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    event.listen(database.engine, "before_cursor_execute", keep)
    cursor = listing.encode_cursor(listing.Keyset(FakeClock()(), "demo-zzzzzz"))
    with database.read() as session:
        listing.list_instances(session, limit=50, **filters)
        listing.list_instances(session, limit=50, cursor=cursor, **filters)
        for statement, parameters in [s for s in statements if "FROM instances" in s[0]]:
            plan = " / ".join(
                str(row[-1])
                for row in session.connection().exec_driver_sql(
                    "EXPLAIN QUERY PLAN " + statement, parameters
                )
            )
            assert f"USING INDEX {index} " in plan and "TEMP B-TREE" not in plan, plan
    database.dispose()


def test_the_list_indexes_migration_goes_down_and_up(orchestrator: Orchestrator) -> None:
    engine = orchestrator.ctx.db.engine

    def indexes() -> set[str]:
        return {str(i["name"]) for i in inspect(engine).get_indexes("instances")}

    listed = {
        "ix_instances_list",
        "ix_instances_list_status",
        "ix_instances_list_scenario",
        "ix_instances_list_owner",
    }
    single = {"ix_instances_status", "ix_instances_scenario", "ix_instances_owner"}
    assert listed <= indexes() and not single & indexes()
    config = migrate.alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0005")
    assert single | {"ix_instances_pooled"} <= indexes() and not listed & indexes()
    migrate.upgrade(engine)
    head = ScriptDirectory.from_config(migrate.alembic_config(engine)).get_current_head()
    assert listed <= indexes() and migrate.current_revision(engine) == head


def test_what_the_list_keeps_between_calls_is_bounded(
    orchestrator: Orchestrator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_listing, "MAX_DEMOS_KEPT", 2)
    monkeypatch.setattr(engine_listing, "MAX_TIMES_KEPT", 3)
    _fill(orchestrator)
    service = orchestrator.instances
    for _ in range(2):
        for item in service.list_page(ADMIN, limit=500)["items"]:
            assert item == service.get(ADMIN, item["id"])
    kept = service._list
    assert len(kept._links) <= 2 and len(kept._steps) <= 2 and len(kept._times) <= 3
