"""The store against real SQLite (a file) and the real PostgreSQL server of this machine.

Every backend-dependent test runs on both; PostgreSQL gets scratch databases made for this module
and dropped afterwards; its cases carry the `postgres` marker, so they are skipped (with a summary
line) only when the server does not answer, and never under CI=true.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import stat
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from cryptography.fernet import Fernet
from sqlalchemy import delete, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, StatementError

from demo_orchestrator.domain.errors import BadRequest, PermanentError
from demo_orchestrator.domain.instance import LIVE, Status
from demo_orchestrator.domain.plan import PlannedStep
from demo_orchestrator.store import accounts, listing, migrate
from demo_orchestrator.store import repository as repo
from demo_orchestrator.store.crypto import SecretBox, load_or_create_key
from demo_orchestrator.store.database import Database, normalise_url
from demo_orchestrator.store.models import Base, InstanceRow, StepRow, TokenRow, UTCDateTime

NOW = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
TABLES = {"instances", "steps", "events", "users", "tokens", "idempotency_keys", "audit_log"}


# --- backends -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pg_url(pg_databases: Callable[[], str]) -> str:
    """The module's main scratch PostgreSQL database."""
    return pg_databases()


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a brand-new, empty database of each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'nested' / 'store.db'}"
    make: Callable[[], str] = request.getfixturevalue("pg_databases")
    return make()


@pytest.fixture(scope="module", params=BACKENDS)
def migrated(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    """One migrated database per backend, shared by the module's tests (emptied between them)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('store') / 'store.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    database = Database(url)
    database.upgrade()
    yield database
    database.dispose()


@pytest.fixture
def db(migrated: Database) -> Iterator[Database]:
    yield migrated
    with migrated.write() as session:
        for table in reversed(Base.metadata.sorted_tables):
            session.execute(delete(table))


def row(instance_id: str, **fields: Any) -> InstanceRow:
    values: dict[str, Any] = {
        "blueprint": "tiny",
        "scenario": "agency",
        "owner": "alice",
        "name": f"demo {instance_id}",
        "status": Status.PENDING.value,
        "desired": "ready",
        "created_at": NOW,
        "expires_at": NOW + timedelta(hours=2),
        "duration_hours": 2.0,
        "hourly_usd": 0.16,
        "outputs": {},
        "secrets": None,
    }
    values.update(fields)
    return InstanceRow(id=instance_id, **values)


PLAN = [
    PlannedStep("database", "sqlite"),
    PlannedStep("cache"),
    PlannedStep("broker"),
    PlannedStep("seed", "sqlite"),
    PlannedStep("deploy", "local"),
    PlannedStep("routes", "local"),
    PlannedStep("health", "local"),
]


def add(db: Database, *rows: InstanceRow) -> None:
    with db.write() as session:
        for r in rows:
            repo.add_instance(session, r, PLAN)


# --- Database, URLs, migrations -------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:pw@db.example:5432/demo", "postgresql+psycopg://u:pw@db.example:5432/demo"),
        ("postgresql://u:secret@db.example/demo", "postgresql+psycopg://u:secret@db.example/demo"),
        ("postgresql+psycopg://u@h/demo", "postgresql+psycopg://u@h/demo"),
        ("sqlite:////var/lib/demo/store.db", "sqlite:////var/lib/demo/store.db"),
    ],
)
def test_normalise_url(given: str, expected: str) -> None:
    assert normalise_url(given) == expected


@pytest.mark.postgres
@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
def test_database_connects_with_either_postgres_scheme(scheme: str, pg_url: str) -> None:
    url = make_url(pg_url).set(drivername=scheme).render_as_string(hide_password=False)
    database = Database(url)
    try:
        assert not database.is_sqlite
        assert database.url.startswith("postgresql+psycopg://")
        with database.read() as session:
            assert session.execute(text("select 1")).scalar() == 1
    finally:
        database.dispose()


def test_migrations_run_from_empty_and_are_idempotent(empty_url: str) -> None:
    database = Database(empty_url)
    try:
        assert migrate.current_revision(database.engine) is None
        assert not TABLES & set(inspect(database.engine).get_table_names())
        database.upgrade()
        scripts = ScriptDirectory.from_config(migrate.alembic_config(database.engine))
        head = scripts.get_current_head()
        assert head is not None
        assert migrate.current_revision(database.engine) == head
        assert TABLES <= set(inspect(database.engine).get_table_names())
        add(database, row("demo-keep01"))
        database.upgrade()  # a second upgrade changes nothing and keeps the data
        assert migrate.current_revision(database.engine) == head
        with database.read() as session:
            assert repo.get_instance(session, "demo-keep01") is not None
    finally:
        database.dispose()


def test_models_match_the_migrated_schema(db: Database) -> None:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


# --- instances and steps --------------------------------------------------------------------


def test_add_instance_creates_the_seven_steps_in_order(db: Database) -> None:
    add(db, row("demo-aaaaaa"), row("demo-bbbbbb"))
    with db.read() as session:
        steps = repo.steps_of(session, ["demo-aaaaaa", "demo-unknwn"])
        assert repo.id_exists(session, "demo-aaaaaa")
        assert not repo.id_exists(session, "demo-unknwn")
    assert steps["demo-unknwn"] == []
    got = steps["demo-aaaaaa"]
    assert [s.name for s in got] == [p.name for p in PLAN]
    assert [s.provider for s in got] == [p.provider for p in PLAN]
    assert [s.position for s in got] == list(range(7))
    assert all(s.status == "pending" and s.retries == 0 and s.started_at is None for s in got)
    with db.read() as session:
        assert repo.steps_of(session, []) == {}


def test_instance_fields_round_trip(db: Database) -> None:
    add(
        db,
        row(
            "demo-fields",
            prospect={"company": "Acme", "seats": 3},
            outputs={"port": 8001},
            notes="hello",
        ),
    )
    with db.read() as session:
        got = repo.get_instance(session, "demo-fields")
    assert got is not None
    assert got.prospect == {"company": "Acme", "seats": 3} and got.outputs == {"port": 8001}
    assert got.generation == 0 and got.applied_generation == 0 and got.version == 0
    assert got.created_at == NOW and got.secrets is None


def test_deleting_an_instance_cascades_to_its_steps(db: Database) -> None:
    add(db, row("demo-cascad"))
    with db.write() as session:
        session.execute(delete(InstanceRow).where(InstanceRow.id == "demo-cascad"))
    with db.read() as session:
        assert session.scalars(select(StepRow)).all() == []


def test_get_instance_with_lock_reads_the_row(db: Database) -> None:
    add(db, row("demo-locked"))
    with db.write() as session:
        repo.lock_quota(session)
        got = repo.get_instance(session, "demo-locked", lock=True)
        assert got is not None and got.id == "demo-locked"
        assert repo.get_instance(session, "demo-nobody", lock=True) is None


def test_list_instances_filters(db: Database) -> None:
    add(
        db,
        row("demo-a1", owner="alice", scenario="agency", status="ready"),
        row("demo-a2", owner="alice", scenario="startup", status="ready"),
        row("demo-a3", owner="alice", scenario="agency", status="failed"),
        row("demo-b1", owner="bob", scenario="agency", status="ready"),
    )

    def ids(**filters: Any) -> set[str]:
        with db.read() as session:
            rows, cursor = listing.list_instances(session, **filters)
        assert cursor is None
        return {r.id for r in rows}

    assert ids() == {"demo-a1", "demo-a2", "demo-a3", "demo-b1"}
    assert ids(owner="alice") == {"demo-a1", "demo-a2", "demo-a3"}
    assert ids(status="ready") == {"demo-a1", "demo-a2", "demo-b1"}
    assert ids(scenario="agency") == {"demo-a1", "demo-a3", "demo-b1"}
    assert ids(owner="alice", status="ready", scenario="agency") == {"demo-a1"}
    assert ids(owner="carol") == set()


def _many_rows() -> list[InstanceRow]:
    """25 rows over 9 distinct creation times: most times are shared by three rows."""
    return [
        row(
            f"demo-p{i:04d}",
            created_at=NOW - timedelta(minutes=i // 3),
            scenario="agency" if i % 2 else "startup",
        )
        for i in range(25)
    ]


def test_list_is_newest_first_with_ties_by_id(db: Database) -> None:
    rows = _many_rows()
    add(db, *reversed(rows))
    with db.read() as session:
        got, cursor = listing.list_instances(session, limit=100)
    assert cursor is None
    expected = sorted(rows, key=lambda r: (r.created_at, r.id), reverse=True)
    assert [r.id for r in got] == [r.id for r in expected]
    assert listing.stored_time(got[0].created_at) == NOW  # times come as stored, read once


@pytest.mark.parametrize("limit", [1, 3, 4, 5, 24, 25])
def test_cursor_pagination_visits_every_row_exactly_once(db: Database, limit: int) -> None:
    rows = _many_rows()
    add(db, *rows)
    expected = [r.id for r in sorted(rows, key=lambda r: (r.created_at, r.id), reverse=True)]
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        with db.read() as session:
            page, cursor = listing.list_instances(session, limit=limit, cursor=cursor)
        pages += 1
        assert 0 < len(page) <= limit
        seen.extend(r.id for r in page)
        if cursor is None:
            break
        assert pages <= 25, "pagination does not end"
    assert seen == expected
    assert pages == -(-25 // limit)  # no empty trailing page


def test_cursor_pagination_with_a_filter(db: Database) -> None:
    rows = _many_rows()
    add(db, *rows)
    seen: list[str] = []
    cursor: str | None = None
    while True:
        with db.read() as session:
            page, cursor = listing.list_instances(
                session, scenario="agency", limit=2, cursor=cursor
            )
        seen.extend(r.id for r in page)
        if cursor is None:
            break
    assert sorted(seen) == sorted(r.id for r in rows if r.scenario == "agency")
    assert len(seen) == len(set(seen)) == 12


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "!!!not base64!!!",
        "a",
        _b64(b"no separator"),
        _b64(b"not a date|demo-aaaaaa"),
        _b64(b"\xff\xfe\xfd|demo-aaaaaa"),
        "",
    ],
)
def test_decode_cursor_rejects_garbage(cursor: str) -> None:
    with pytest.raises(BadRequest, match="cursor is not valid; pass the next_cursor"):
        listing.decode_cursor(cursor)


def test_cursor_round_trips(db: Database) -> None:
    add(db, row("demo-cursor"))
    with db.read() as session:
        got = repo.get_instance(session, "demo-cursor")
    assert got is not None
    assert listing.decode_cursor(listing.encode_cursor(got)) == (NOW, "demo-cursor")


def test_list_with_a_garbage_cursor_is_a_bad_request(db: Database) -> None:
    with db.read() as session, pytest.raises(BadRequest):
        listing.list_instances(session, cursor=_b64(b"yesterday|demo-aaaaaa"))


def test_cursor_without_offset_is_a_bad_request_not_a_crash(db: Database) -> None:
    add(db, row("demo-naive1"))
    with db.read() as session, contextlib.suppress(BadRequest):
        listing.list_instances(session, cursor=_b64(b"2026-03-01T12:00:00|demo-zzzzzz"))


# --- what the engine works on ---------------------------------------------------------------


def test_needing_work(db: Database) -> None:
    past = NOW - timedelta(minutes=1)
    later = NOW + timedelta(hours=1)
    cases: dict[str, tuple[str, str, datetime, bool]] = {
        # id: (status, desired, expires_at, expected to need work)
        "demo-w01": ("pending", "ready", later, True),
        "demo-w02": ("provisioning", "ready", later, True),
        "demo-w03": ("deleting", "deleted", later, True),
        "demo-w04": ("ready", "sleeping", later, True),
        "demo-w05": ("ready", "deleted", later, True),
        "demo-w06": ("ready", "ready", past, True),  # expired
        "demo-w07": ("ready", "ready", NOW, True),  # expires this very moment
        "demo-w08": ("sleeping", "sleeping", past, True),
        "demo-w09": ("pending_approval", "ready", past, True),
        "demo-w12": ("sleeping", "ready", later, True),  # asked to wake
        "demo-w10": ("failed", "deleted", later, True),
        "demo-w11": ("sleeping", "deleted", later, True),
        "demo-n01": ("ready", "ready", later, False),
        "demo-n02": ("sleeping", "sleeping", later, False),
        "demo-n04": ("failed", "ready", past, False),
        "demo-n05": ("deleted", "deleted", past, False),
        "demo-n06": ("rejected", "deleted", past, False),
        "demo-n07": ("pending_approval", "ready", later, False),
    }
    rows = [
        row(i, status=s, desired=d, expires_at=e, created_at=NOW - timedelta(hours=5, seconds=n))
        for n, (i, (s, d, e, _)) in enumerate(cases.items())
    ]
    add(db, *rows)
    with db.read() as session:
        work = repo.needing_work(session, now=NOW)
    ids = [w.instance_id for w in work]
    assert set(ids) == {i for i, case in cases.items() if case[3]}
    created = {r.id: r.created_at for r in rows}
    assert ids == sorted(ids, key=created.__getitem__), "oldest first"
    assert {w.instance_id: (w.status, w.desired) for w in work} == {
        i: (case[0], case[1]) for i, case in cases.items() if case[3]
    }


def test_count_live_per_owner(db: Database) -> None:
    statuses = list(Status)
    add(db, *[row(f"demo-a{n:02d}", owner="alice", status=s.value) for n, s in enumerate(statuses)])
    add(
        db,
        row("demo-b01", owner="bob", status="ready"),
        row("demo-b02", owner="bob", status="deleted"),
    )
    with db.read() as session:
        assert repo.count_live(session, owner="alice") == len(LIVE) == 5
        assert repo.count_live(session, owner="bob") == 1
        assert repo.count_live(session, owner="carol") == 0
        assert repo.count_live(session) == 6
        assert repo.known_ids(session, ["deleted"]) == {"demo-a08", "demo-b02"}


def test_claim_release_and_lease_expiry(db: Database) -> None:
    add(db, row("demo-lease1"))
    until = NOW + timedelta(seconds=30)

    def claim(owner: str, now: datetime, lease_until: datetime) -> bool:
        with db.write() as session:
            return repo.claim(session, "demo-lease1", owner=owner, now=now, until=lease_until)

    def holder() -> tuple[str | None, datetime | None]:
        with db.read() as session:
            got = repo.get_instance(session, "demo-lease1")
        assert got is not None
        return got.lease_owner, got.lease_until

    assert claim("engine-a", NOW, until)
    assert holder() == ("engine-a", until)
    assert not claim("engine-b", NOW + timedelta(seconds=10), NOW + timedelta(seconds=40))
    assert not claim("engine-b", until, until + timedelta(seconds=30))  # lapses only after `until`
    assert holder() == ("engine-a", until)
    renewed = NOW + timedelta(seconds=60)
    assert claim("engine-a", NOW + timedelta(seconds=20), renewed)  # the holder renews
    assert holder() == ("engine-a", renewed)
    taken = renewed + timedelta(seconds=30)
    assert claim("engine-b", renewed + timedelta(microseconds=1), taken)  # lapsed: b takes it
    assert holder() == ("engine-b", taken)
    with db.write() as session:
        repo.release(session, "demo-lease1", owner="engine-a")  # not the holder: no effect
    assert holder() == ("engine-b", taken)
    with db.read() as session:
        assert repo.leases_held(session) == [("demo-lease1", "engine-b")]
    with db.write() as session:
        repo.release(session, "demo-lease1", owner="engine-b")
    assert holder() == (None, None)
    assert claim("engine-a", NOW, until)  # free again
    with db.write() as session:
        assert not repo.claim(session, "demo-nobody", owner="engine-a", now=NOW, until=until)


@pytest.mark.parametrize("round_", range(3))
def test_concurrent_claims_have_exactly_one_winner(db: Database, round_: int) -> None:
    instance_id = f"demo-race{round_}"
    add(db, row(instance_id))
    workers = 12
    barrier = threading.Barrier(workers)

    def contend(owner: str) -> tuple[str, bool]:
        barrier.wait(timeout=10)
        with db.write() as session:
            won = repo.claim(
                session, instance_id, owner=owner, now=NOW, until=NOW + timedelta(minutes=1)
            )
            time.sleep(0.01)  # hold the transaction so the others overlap it
        return owner, won

    with ThreadPoolExecutor(max_workers=workers) as pool:
        wins = dict(pool.map(contend, [f"engine-{n}" for n in range(workers)]))  # re-raises
    assert len(wins) == workers
    winners = [owner for owner, won in wins.items() if won]
    assert len(winners) == 1, winners
    with db.read() as session:
        got = repo.get_instance(session, instance_id)
    assert got is not None and got.lease_owner == winners[0]


def test_usage_rows_overlap_the_window(db: Database) -> None:
    start, end = NOW, NOW + timedelta(days=1)
    add(
        db,
        row("demo-u1", started_at=start - timedelta(hours=2), ended_at=None),  # still running
        row("demo-u2", started_at=start - timedelta(hours=2), ended_at=start + timedelta(hours=1)),
        row("demo-u3", started_at=start - timedelta(hours=2), ended_at=start),  # ends at start
        row("demo-u4", started_at=start - timedelta(hours=3), ended_at=start - timedelta(hours=1)),
        row("demo-u5", started_at=end, ended_at=None),  # starts at the end
        row("demo-u6", started_at=None),  # never started
    )
    with db.read() as session:
        got = {r.id for r in repo.usage_rows(session, start=start, end=end)}
    assert got == {"demo-u1", "demo-u2", "demo-u3"}


# --- events and audit -----------------------------------------------------------------------


def test_events_after_and_latest_event_id(db: Database) -> None:
    with db.write() as session:
        for n in range(6):
            instance_id = "demo-ev1" if n % 2 == 0 else "demo-ev2"
            repo.add_event(
                session,
                instance_id,
                "step",
                {"n": n, "nested": {"ok": True}},
                NOW + timedelta(seconds=n),
            )
    with db.read() as session:
        first = repo.events_after(session, "demo-ev1", 0)
        assert [e.data["n"] for e in first] == [0, 2, 4]
        assert [e.id for e in first] == sorted(e.id for e in first)
        assert first[0].data == {"n": 0, "nested": {"ok": True}} and first[0].kind == "step"
        assert first[1].at == NOW + timedelta(seconds=2) and first[1].at.tzinfo is UTC
        assert [e.data["n"] for e in repo.events_after(session, "demo-ev1", first[0].id)] == [2, 4]
        assert repo.events_after(session, "demo-ev1", first[-1].id) == []
        assert repo.latest_event_id(session, "demo-ev1") == first[-1].id
        assert repo.latest_event_id(session, "demo-ev2") > first[-2].id
        assert repo.latest_event_id(session, "demo-none") == 0
        # The change feed reads every instance's events in id order.
        feed = repo.events_since(session, 0)
        assert [e.id for e in feed] == sorted(e.id for e in feed) and len(feed) == 6
        assert repo.events_since(session, feed[2].id) == feed[3:]
        assert repo.last_event_id(session) == feed[-1].id


def test_audit(db: Database) -> None:
    with db.write() as session:
        repo.add_audit(
            session,
            at=NOW,
            actor="alice",
            action="create",
            instance_id="demo-au1",
            source="api",
            detail={"scenario": "agency"},
        )
        repo.add_audit(
            session, at=NOW, actor="system", action="login", instance_id=None, source=None
        )
        repo.add_audit(
            session,
            at=NOW + timedelta(seconds=1),
            actor="bob",
            action="extend",
            instance_id="demo-au1",
            source="web",
        )
        repo.add_audit(
            session, at=NOW, actor="bob", action="delete", instance_id="demo-au2", source="cli"
        )
    with db.read() as session:
        trail = repo.audit_of(session, "demo-au1")
    assert [(a.actor, a.action, a.source) for a in trail] == [
        ("alice", "create", "api"),
        ("bob", "extend", "web"),
    ]
    assert trail[0].detail == {"scenario": "agency"} and trail[1].detail == {}
    assert trail[0].at == NOW


# --- accounts -------------------------------------------------------------------------------


def test_tokens_are_stored_hashed_and_found_until_revoked(db: Database) -> None:
    raw_token = "tok-" + uuid.uuid4().hex + uuid.uuid4().hex
    with db.write() as session:
        user = accounts.upsert_user(session, name="alice", role="admin", now=NOW)
        assert user.role == "admin"
        again = accounts.upsert_user(session, name="alice", role="viewer", now=NOW)
        assert again.role == "admin"  # an existing user is kept as is
        accounts.add_token(session, user="alice", name="laptop", token=raw_token, now=NOW)
    with db.read() as session:
        stored = session.execute(text("SELECT * FROM tokens")).all()
        assert len(stored) == 1
        assert all(raw_token not in str(value) for value in stored[0])
        assert hashlib.sha256(raw_token.encode()).hexdigest() in stored[0]
        found = accounts.find_token(session, raw_token)
        assert found is not None
        token_row, user_row = found
        assert token_row.name == "laptop" and user_row.name == "alice" and user_row.role == "admin"
        assert accounts.find_token(session, raw_token + "x") is None
        assert accounts.get_user(session, "alice") is not None
        assert accounts.get_user(session, "nobody") is None
    with db.write() as session:
        token = session.scalars(select(TokenRow)).one()
        token.revoked_at = NOW + timedelta(minutes=5)
    with db.read() as session:
        # found, with its revocation, so the API can say "revoked" rather than "not valid"
        revoked = accounts.find_token(session, raw_token)
        assert revoked is not None and revoked[0].revoked_at == NOW + timedelta(minutes=5)
        assert accounts.token_exists(session, raw_token)
        assert not accounts.token_exists(session, "never-issued")


def test_the_same_token_cannot_be_issued_twice(db: Database) -> None:
    with db.write() as session:
        accounts.upsert_user(session, name="alice", role="admin", now=NOW)
        accounts.add_token(session, user="alice", name="one", token="same-token", now=NOW)
    with pytest.raises(IntegrityError), db.write() as session:
        accounts.add_token(session, user="alice", name="two", token="same-token", now=NOW)
        session.flush()


# --- UTCDateTime ----------------------------------------------------------------------------


def test_times_come_back_aware_utc(db: Database) -> None:
    paris = timezone(timedelta(hours=2))
    created = datetime(2026, 6, 1, 14, 30, 15, 654321, tzinfo=paris)
    add(
        db,
        row(
            "demo-tz0001",
            created_at=created,
            started_at=created,
            expires_at=created + timedelta(hours=1),
        ),
    )
    with db.read() as session:
        got = repo.get_instance(session, "demo-tz0001")
    assert got is not None
    for value in (got.created_at, got.started_at, got.expires_at):
        assert value is not None and value.tzinfo is UTC
    assert got.created_at == created  # same instant ...
    assert got.created_at.hour == 12 and got.created_at.microsecond == 654321  # ... shown in UTC
    assert got.ended_at is None


def test_naive_times_are_refused(db: Database) -> None:
    with pytest.raises(StatementError, match="naive datetime given to the store"):
        add(db, row("demo-naive2", created_at=datetime(2026, 1, 1, 12)))
    with db.read() as session:
        assert not repo.id_exists(session, "demo-naive2")  # the write was rolled back


def test_utc_datetime_type_directly() -> None:
    kind = UTCDateTime()
    assert kind.process_result_value(datetime(2026, 1, 1, 12), None) == datetime(
        2026, 1, 1, 12, tzinfo=UTC
    )
    shifted = datetime(2026, 1, 1, 14, tzinfo=timezone(timedelta(hours=2)))
    assert kind.process_bind_param(shifted, None) == datetime(2026, 1, 1, 12, tzinfo=UTC)
    result = kind.process_result_value(shifted, None)
    assert result is not None and result.tzinfo is UTC and result.hour == 12
    assert kind.process_bind_param(None, None) is None
    assert kind.process_result_value(None, None) is None
    with pytest.raises(ValueError, match="naive"):
        kind.process_bind_param(datetime(2026, 1, 1), None)


# --- secrets at rest ------------------------------------------------------------------------


def test_secret_box_round_trip_and_ciphertext_hides_values() -> None:
    box = SecretBox(Fernet.generate_key())
    values = {"password": "hunter2-very-secret", "port": 5432, "nested": {"a": [1, 2]}}
    sealed = box.seal(values)
    assert "hunter2" not in sealed and "password" not in sealed
    assert box.open(sealed) == values
    assert box.open(None) == {} and box.open("") == {}


def test_secret_box_with_the_wrong_key_says_what_is_wrong() -> None:
    sealed = SecretBox(Fernet.generate_key()).seal({"password": "x"})
    with pytest.raises(PermanentError, match="DEMO_SECRET_KEY differs from the key"):
        SecretBox(Fernet.generate_key()).open(sealed)


def test_sealed_secrets_survive_the_store(db: Database) -> None:
    box = SecretBox(Fernet.generate_key())
    add(db, row("demo-secret", secrets=box.seal({"db_password": "pw-123"})))
    with db.read() as session:
        got = repo.get_instance(session, "demo-secret")
        stored = session.execute(text("SELECT secrets FROM instances")).scalar_one()
    assert got is not None and box.open(got.secrets) == {"db_password": "pw-123"}
    assert "pw-123" not in stored


def test_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    home = tmp_path / "home" / "deeper"
    key = load_or_create_key(home, None)
    path = home / "secret.key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert path.read_bytes().strip() == key
    Fernet(key)  # a usable key
    assert load_or_create_key(home, None) == key
    assert load_or_create_key(home, "") == key  # empty setting = not configured


def test_configured_key_wins_and_writes_no_file(tmp_path: Path) -> None:
    configured = Fernet.generate_key().decode()
    assert load_or_create_key(tmp_path, configured) == configured.encode()
    assert not (tmp_path / "secret.key").exists()


def test_bad_configured_key_is_refused_with_a_recipe(tmp_path: Path) -> None:
    with pytest.raises(PermanentError, match=r"not a Fernet key; make one with .*generate_key"):
        load_or_create_key(tmp_path, "not-a-key")
