"""Seeding, migrations, the blueprint file and the freshen step that makes template copies current."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, inspect, select

from splits_stack import tables as t
from splits_stack.db import make_engine, read_meta
from splits_stack.seed.run import seed
from splits_stack.services.freshen import freshen
from tests.stack.conftest import BLUEPRINT, SCENARIOS, blueprint

TIME_FREE = [
    t.companies,
    t.users,
    t.jobs,
    t.candidates,
    t.resumes,
    t.applications,
    t.recruiters,
    t.placements,
    t.emails,
]


def _snapshot(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    engine = make_engine(f"sqlite:///{path}")
    out = {}
    with engine.connect() as conn:
        for table in TIME_FREE:
            cols = [c for c in table.columns if not isinstance(c.type, t.Timestamp)]
            out[table.name] = [tuple(r) for r in conn.execute(select(*cols).order_by(table.c.id))]
    engine.dispose()
    return out


def _seeded(
    tmp_path: Path, scenario: str, value: int, name: str, now: datetime | None = None
) -> Path:
    path = tmp_path / f"{name}.db"
    engine = make_engine(f"sqlite:///{path}")
    seed(engine, scenario, value, now=now)
    engine.dispose()
    return path


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_same_seed_same_data_different_seed_different_data(tmp_path: Path, scenario: str) -> None:
    a = _snapshot(_seeded(tmp_path, scenario, 5, "a"))
    b = _snapshot(_seeded(tmp_path, scenario, 5, "b", now=datetime.now(UTC) - timedelta(hours=2)))
    c = _snapshot(_seeded(tmp_path, scenario, 6, "c"))
    assert a == b
    assert a["candidates"] != c["candidates"] and a["jobs"] != c["jobs"]
    assert len(a["candidates"]) == len(c["candidates"])


def test_blueprint_validates_against_the_orchestrator_model() -> None:
    from demo_orchestrator.domain.blueprint import load_blueprint

    bp = load_blueprint(BLUEPRINT)
    assert (
        bp.name == "splits-network"
        and bp.routes == ["portal", "candidate"]
        and bp.login_route == "portal"
    )
    assert [s.name for s in bp.services] == ["app"] and bp.default_scenario == "agency"
    assert {s.name for s in bp.scenarios} == set(SCENARIOS)
    assert all(s.personas and s.tour and s.counts for s in bp.scenarios)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_blueprint_personas_are_seeded_users(templates: dict[str, Path], scenario: str) -> None:
    spec = next(s for s in blueprint()["scenarios"] if s["name"] == scenario)
    engine = make_engine(f"sqlite:///{templates[scenario]}")
    with engine.connect() as conn:
        users = {r.email: r for r in conn.execute(select(t.users))}
    engine.dispose()
    names = {p["name"] for p in spec["personas"]}
    for persona in spec["personas"]:
        user = users.get(persona["email"])
        assert user is not None, f"{persona['email']} is not seeded in {scenario}"
        assert (user.name, user.role) == (persona["name"], persona["role"])
        assert (persona.get("route") == "candidate") == (persona["role"] == "candidate")
    assert {step["persona"] for step in spec["tour"]} <= names


def test_persona_picker_lists_the_blueprint_personas() -> None:
    from splits_stack.services.identity import PERSONA_EMAILS

    for spec in blueprint()["scenarios"]:
        assert PERSONA_EMAILS[spec["name"]] == [p["email"] for p in spec["personas"]]


def test_cli_migrate_is_idempotent_and_seed_prints_json(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    env = {"DATABASE_URL": url, "PATH": "/usr/bin:/bin"}
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-m", "splits_stack", "migrate"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
    engine = make_engine(url)
    assert {"jobs", "applications", "alembic_version", "meta"} <= set(
        inspect(engine).get_table_names()
    )
    engine.dispose()
    done = subprocess.run(
        [sys.executable, "-m", "splits_stack", "seed", "--scenario", "startup", "--seed", "3"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["rows"]["candidates"] == 20 and report["scenario"] == "startup"


def test_freshen_shifts_dates_once_and_weaves_in_the_prospect(tmp_path: Path) -> None:
    old = datetime.now(UTC).replace(microsecond=0) - timedelta(days=9)
    path = _seeded(tmp_path, "agency", 42, "old", now=old)
    engine = make_engine(f"sqlite:///{path}")

    def newest() -> datetime:
        with engine.connect() as conn:
            return conn.execute(select(func.max(t.applications.c.updated_at))).scalar_one()  # type: ignore[no-any-return]

    before = newest()
    first = freshen(engine, company="Acme Robotics", industry="Robotics")
    after = newest()
    assert abs(first["shifted_s"] - 9 * 86400) < 120
    assert timedelta(days=8.9) < after - before < timedelta(days=9.1)
    assert datetime.now(UTC) - after < timedelta(days=1)
    second = freshen(engine, company="Acme Robotics", industry="Robotics")
    assert second == {"shifted_s": 0, "prospect": None} and newest() == after
    with engine.connect() as conn:
        names = [r.name for r in conn.execute(select(t.companies).where(t.companies.c.is_prospect))]
        industry = conn.execute(
            select(t.companies.c.industry).where(t.companies.c.is_prospect)
        ).scalar()
        total = conn.execute(select(t.companies)).all()
    assert names == ["Acme Robotics"] and industry == "Robotics" and len(total) == 4
    assert read_meta(engine)["prospect"] == "Acme Robotics|Robotics"
    engine.dispose()


def test_freshen_works_in_bulk_on_the_largest_scenario(
    templates: dict[str, Path], tmp_path: Path
) -> None:
    """Freshening is a few set-wide statements, never one per row: what keeps it fast whatever
    the scenario's size (bench/seed.py prints the time; a timed assertion would be flaky)."""
    copy = tmp_path / "ent.db"
    shutil.copyfile(templates["enterprise"], copy)
    engine = make_engine(f"sqlite:///{copy}")
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    done = freshen(engine, company="Globex", now=time.time() + 5 * 86400)
    with engine.connect() as conn:
        rows = sum(
            conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (t.jobs, t.candidates, t.applications)
        )
    engine.dispose()
    assert done["shifted_s"] > 4 * 86400 and done["prospect"] == 1
    writes = [
        s for s in statements if s.lstrip().upper().startswith(("UPDATE", "INSERT", "DELETE"))
    ]
    assert rows > 250 and len(writes) < 40, (rows, len(writes))


@pytest.mark.postgres
def test_seed_and_freshen_on_postgresql(pg_url: Any) -> None:
    from splits_stack.config import normalise_database_url

    engine = make_engine(normalise_database_url(pg_url()))
    seed(engine, "enterprise", 7, now=datetime.now(UTC) - timedelta(days=2))
    seed(engine, "startup", 11, now=datetime.now(UTC) - timedelta(days=2))  # re-seed replaces
    with engine.connect() as conn:
        assert len(conn.execute(select(t.candidates.c.id)).all()) == 20
        before = conn.execute(select(func.max(t.applications.c.updated_at))).scalar_one()
    done = freshen(engine, company="Globex", industry="Energy")
    with engine.connect() as conn:
        after = conn.execute(select(func.max(t.applications.c.updated_at))).scalar_one()
        company = conn.execute(select(t.companies.c.name, t.companies.c.industry)).one()
        new_id = conn.execute(
            t.meta.insert().values(key="probe", value="x")
        )  # sequences still work
        del new_id
    assert abs(done["shifted_s"] - 2 * 86400) < 120 and timedelta(days=1.9) < after - before
    assert tuple(company) == ("Globex", "Energy")
    assert freshen(engine, company="Globex", industry="Energy") == {
        "shifted_s": 0,
        "prospect": None,
    }
    engine.dispose()
