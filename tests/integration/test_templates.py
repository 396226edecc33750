"""Save a customised demo as a template (issue 14, item 4), end to end through `democtl serve`
with the reference stack: a candidate applies in a running demo, the demo is saved, and a demo
made from the template has that application; the template survives a restart, is shared only
when asked, keeps its name rules, and deleting it never breaks a demo made from it. On SQLite
(the embedded default) and on this machine's real PostgreSQL."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.conftest import PG_ADMIN, Server, sign_in

ADMIN_PASSWORD = "Copper-Lantern-Healing-4821"
RESUME = "Saved-template test resume: ten years of Python"


def _splits(make_server: Any, home: Path, **extra: str) -> Server:
    made: Server = make_server(
        home,
        DEMO_BLUEPRINT="splits-network",
        DEMO_BLUEPRINT_PATHS="[]",
        DEMO_PREBUILD_TEMPLATES="false",
        DEMO_ADMIN_PASSWORD=ADMIN_PASSWORD,
        **extra,
    )
    return made


def _ready(server: Server, **body: Any) -> dict[str, Any]:
    made = server.create(**body)
    ready = server.wait_status(made["id"], "ready", "failed", timeout=180)
    assert ready["status"] == "ready", ready
    return ready


def _candidate(server: Server, instance: dict[str, Any]) -> httpx.Client:
    sam = next(p for p in instance["personas"] if p["role"] == "candidate")
    return server.follow(sam["login_url"])


def _applied_titles(server: Server, instance: dict[str, Any]) -> int:
    """How many applications the candidate persona sees on their own page."""
    web = _candidate(server, instance)
    try:
        page = web.get("/applications")
        assert page.status_code == 200, page.text[:300]
        return page.text.count('class="card application')
    finally:
        web.close()


def _apply_somewhere_new(server: Server, instance: dict[str, Any]) -> int:
    """The candidate applies (through the demo's own web form) to the first open job they have
    not applied to yet; returns its id."""
    rep = server.follow(instance["rep_login_url"])
    web = _candidate(server, instance)
    try:
        jobs = rep.get("/api/jobs", params={"status": "open"}).json()["items"]
        for job in jobs:
            sent = web.post(f"/jobs/{job['id']}/apply", data={"resume_text": RESUME})
            assert sent.status_code == 303, sent.text[:300]
            if sent.headers["location"].startswith("/applications"):
                return int(job["id"])
        raise AssertionError("the candidate had applied to every open job already")
    finally:
        rep.close()
        web.close()


def _sales_token(server: Server, user: str) -> dict[str, str]:
    made = server.http.post("/api/v1/tokens", json={"user": user, "role": "sales"})
    assert made.status_code == 201, made.text
    return {"Authorization": f"Bearer {made.json()['token']}"}


def _scenarios(server: Server, headers: dict[str, str] | None = None) -> dict[str, Any]:
    listed = server.http.get("/api/v1/scenarios", headers=headers)
    assert listed.status_code == 200, listed.text
    return {s["name"]: s for s in listed.json()["items"]}


def _problem(response: httpx.Response, status: int, words: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert words in response.json()["detail"], response.json()


def _save_and_reuse(server: Server, saved_data: Any) -> None:
    """The whole story on one server; `saved_data(name)` says whether the template's data
    (file or database) exists."""
    source = _ready(server, scenario="agency")
    before = _scenarios(server)["agency"]["counts"]
    job = _apply_somewhere_new(server, source)
    save = f"/api/v1/demo-instances/{source['id']}/save-as-template"

    # name rules, and names taken by a built-in
    for bad in ("ab", "Acme", "1acme", "acme_pipeline", "a" * 41):
        _problem(server.http.post(save, json={"name": bad}), 422, "lowercase")
    _problem(server.http.post(save, json={"name": "agency"}), 409, "built-in")
    _problem(
        server.http.post(
            "/api/v1/demo-instances/demo-zzzzzz/save-as-template", json={"name": "x" * 5}
        ),
        404,
        "demo-zzzzzz",
    )

    saved = server.http.post(save, json={"name": "acme-pipeline", "title": "Acme pipeline"})
    assert saved.status_code == 201, saved.text
    body = saved.json()
    assert body["name"] == "acme-pipeline" and body["based_on"] == "agency"
    assert body["title"] == "Acme pipeline" and body["shared"] is False
    assert saved_data("acme-pipeline")
    # counts recomputed from the saved data: the new application is there
    assert body["counts"]["applications"] == 26
    assert body["counts"]["companies"] == before["companies"]
    assert [p["email"] for p in body["personas"]] == [
        p["email"] for p in _scenarios(server)["agency"]["personas"]
    ]
    _problem(server.http.post(save, json={"name": "acme-pipeline"}), 409, "taken")
    pooled = server.http.put("/api/v1/warm-pool/acme-pipeline", json={"target": 1})
    _problem(pooled, 422, "built-in")
    listed = _scenarios(server)
    assert listed["acme-pipeline"]["based_on"] == "agency" and listed["agency"]["based_on"] is None
    # the source demo keeps working after its database was copied
    rep = server.follow(source["rep_login_url"])
    assert rep.get("/api/companies").status_code == 200
    rep.close()

    # a demo made from the template has the customised data: one more application for Sam
    plain = _ready(server, scenario="agency")
    pristine = _applied_titles(server, plain)
    copy = _ready(server, scenario="acme-pipeline")
    assert copy["scenario"] == "acme-pipeline"
    assert [p["name"] for p in copy["personas"]] == [p["name"] for p in source["personas"]]
    assert _applied_titles(server, copy) == pristine + 1
    web = _candidate(server, copy)
    again = web.post(f"/jobs/{job}/apply", data={"resume_text": RESUME})
    assert "already" in again.headers["location"]  # the saved application is in its data
    web.close()
    # the source demo goes (its role too, on PostgreSQL) and the template stays usable
    assert server.http.delete(f"/api/v1/demo-instances/{source['id']}").status_code == 202
    assert server.wait_status(source["id"], "deleted", "failed", timeout=60)["status"] == "deleted"
    assert saved_data("acme-pipeline")

    # unshared: another rep neither sees nor uses it, nor deletes it; shared: both
    other = _sales_token(server, "rep-two")
    assert "acme-pipeline" not in _scenarios(server, other)
    refused = server.http.post(
        "/api/v1/demo-instances",
        json={"scenario": "acme-pipeline", "duration_hours": 1},
        headers=other,
    )
    _problem(refused, 422, "unknown scenario")
    _problem(server.http.delete("/api/v1/scenarios/acme-pipeline", headers=other), 404, "acme")
    shared = server.http.post(
        f"/api/v1/demo-instances/{plain['id']}/save-as-template",
        json={"name": "acme-shared", "shared": True},
    )
    assert shared.status_code == 201, shared.text
    assert _scenarios(server, other)["acme-shared"]["owner"] == "admin"
    used = server.http.post(
        "/api/v1/demo-instances",
        json={"scenario": "acme-shared", "duration_hours": 1},
        headers=other,
    )
    assert used.status_code == 202, used.text
    _problem(server.http.delete("/api/v1/scenarios/acme-shared", headers=other), 403, "admin")

    # built-ins cannot be deleted; unknown ones are 404
    _problem(server.http.delete("/api/v1/scenarios/agency"), 403, "built-in")
    _problem(server.http.delete("/api/v1/scenarios/no-such-one"), 404, "no-such-one")

    # a restart keeps it, in the API and beside the built-ins in the create form
    server.stop()
    server.start()
    assert _scenarios(server)["acme-pipeline"]["counts"]["applications"] == 26
    with httpx.Client(base_url=server.url, trust_env=False, timeout=20) as web:
        assert sign_in(web, "admin", ADMIN_PASSWORD).status_code == 303
        form = web.get("/portal/admin/demo-instances/new").text
    card = form[form.index('value="acme-pipeline"') :].split("</label>", 1)[0]
    assert "Acme pipeline" in card and 'data-based-on="agency"' in card
    assert "<b>26</b> applications" in card
    assert 'value="agency"' in form

    # deleting it drops its data and never breaks the demo made from it
    assert server.http.delete("/api/v1/scenarios/acme-pipeline").status_code == 204
    assert not saved_data("acme-pipeline")
    assert "acme-pipeline" not in _scenarios(server)
    gone = server.http.post(
        "/api/v1/demo-instances", json={"scenario": "acme-pipeline", "duration_hours": 1}
    )
    _problem(gone, 422, "unknown scenario")
    still = server.get(copy["id"])
    assert still["status"] == "ready" and still["scenario"] == "acme-pipeline"
    assert [p["name"] for p in still["personas"]] == [p["name"] for p in source["personas"]]
    assert _applied_titles(server, still) == pristine + 1
    _problem(server.http.post(f"/api/v1/demo-instances/{copy['id']}/reset"), 409, "deleted")
    assert server.http.delete(f"/api/v1/demo-instances/{copy['id']}").status_code == 202
    assert server.wait_status(copy["id"], "deleted", "failed", timeout=60)["status"] == "deleted"
    # the name is free again
    again = server.http.post(
        f"/api/v1/demo-instances/{plain['id']}/save-as-template", json={"name": "acme-pipeline"}
    )
    assert again.status_code == 201, again.text
    assert again.json()["counts"]["applications"] == 25  # that demo's data, not the old copy
    # (the other rep's demo has its data before its template may go)
    assert (
        server.wait_status(used.json()["id"], "ready", "failed", timeout=180)["status"] == "ready"
    )
    for name in ("acme-pipeline", "acme-shared"):
        assert server.http.delete(f"/api/v1/scenarios/{name}").status_code == 204
        assert not saved_data(name)
    audit = server.http.get("/api/v1/audit").json()["items"]
    assert {"save-as-template", "delete-template"} <= {a["action"] for a in audit}


def test_sqlite_saves_a_live_database_with_what_its_wal_holds(tmp_path: Path) -> None:
    """The copy is SQLite's online backup, so rows still only in the live demo's WAL (a writer
    with its connection open, no checkpoint yet) are in the saved template; a raw file copy
    would lose them. The sweep's listing finds it; dropping it leaves nothing."""
    from demo_orchestrator.domain.blueprint import load_blueprint
    from demo_orchestrator.providers.sqlite_db import SqliteDatabase

    provider = SqliteDatabase(home=tmp_path)
    blueprint = load_blueprint(Path(__file__).parents[1] / "blueprints" / "tiny.yaml")
    live = provider.path_of("demo-wal001")
    writer = sqlite3.connect(live)
    try:
        writer.execute("PRAGMA journal_mode=WAL")
        writer.execute("PRAGMA wal_autocheckpoint=0")
        writer.execute("CREATE TABLE jobs (id INTEGER PRIMARY KEY, title TEXT)")
        writer.executemany("INSERT INTO jobs (title) VALUES (?)", [("a",), ("b",), ("c",)])
        writer.commit()
        assert Path(f"{live}-wal").stat().st_size > 0  # the rows are in the WAL only
        counts = provider.save_template(
            instance_id="demo-wal001",
            blueprint=blueprint,
            base=blueprint.scenarios[0],
            name="wal-copy",
        )
    finally:
        writer.close()
    assert counts == {"jobs": 3}
    saved = provider.saved_path(blueprint.name, "wal-copy")
    assert not Path(f"{saved}-wal").exists()  # a complete file on its own
    with sqlite3.connect(saved) as conn:
        assert conn.execute("SELECT count(*) FROM jobs").fetchone() == (3,)
    conn.close()
    assert provider.saved_templates() == {(blueprint.name, "wal-copy")}
    provider.drop_saved_template(blueprint=blueprint.name, name="wal-copy")
    assert provider.saved_templates() == set() and not saved.exists()


def test_a_saved_template_on_sqlite(make_server: Any, tmp_path: Path) -> None:
    home = tmp_path / "home"
    server = _splits(make_server, home).start()

    def saved_data(name: str) -> bool:
        path = home / "templates" / "splits-network" / "saved" / f"{name}.db"
        if not path.is_file():
            return False
        with sqlite3.connect(path) as conn:  # a complete database, no WAL needed beside it
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return True

    _save_and_reuse(server, saved_data)


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.rabbitmq
def test_a_saved_template_on_postgres(owner: str, make_server: Any, tmp_path: Path) -> None:
    from tests.fakes.data_services import service_env

    server = _splits(make_server, tmp_path / "home", **service_env(owner)).start()

    def saved_data(name: str) -> bool:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            row = conn.execute(
                "SELECT datistemplate, datallowconn FROM pg_database WHERE datname = %s",
                [f"demo_sv_{owner}_{name.replace('-', '_')}"],
            ).fetchone()
        if row is None:
            return False
        assert row == (True, False)  # a template no session can open
        return True

    _save_and_reuse(server, saved_data)


def test_democtl_saves_lists_and_deletes_a_template(make_server: Any, tmp_path: Path) -> None:
    """The CLI over the API, on the tiny blueprint: one-line errors and exit codes != 0."""
    from tests.integration.test_cli import democtl

    server: Server = make_server(tmp_path / "home").start()
    demo = _ready(server, scenario="agency")["id"]
    saved = democtl(server, "template", "save", demo, "tiny-copy", "--shared", "--json")
    assert saved.returncode == 0, saved.stderr
    assert json.loads(saved.stdout)["based_on"] == "agency"
    listed = democtl(server, "template", "list")
    assert listed.returncode == 0 and "tiny-copy" in listed.stdout and "(built-in)" in listed.stdout
    bad = democtl(server, "template", "save", demo, "Tiny Copy")
    assert bad.returncode == 1 and "lowercase" in bad.stderr and len(bad.stderr.splitlines()) == 1
    taken = democtl(server, "template", "save", demo, "tiny-copy")
    assert taken.returncode == 1 and "taken" in taken.stderr
    builtin = democtl(server, "template", "delete", "agency")
    assert builtin.returncode == 1 and "built-in" in builtin.stderr
    made = democtl(server, "create", "--scenario", "tiny-copy", "--hours", "1", "--wait", "--json")
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["scenario"] == "tiny-copy"
    deleted = democtl(server, "template", "delete", "tiny-copy")
    assert deleted.returncode == 0, deleted.stderr
    assert "tiny-copy" not in democtl(server, "template", "list").stdout


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.rabbitmq
def test_postgres_saved_template_outlives_its_source_and_its_demos_outlive_it(
    owner: str, tmp_path: Path
) -> None:
    """Provider level: a demo writes, is saved while it holds a session (ended by the pause, a
    new one opens at once), its role and database go while the template stays; a demo cloned
    from the template owns the saved rows and can write; once the template is deleted, that
    demo's `ensure` (a heal, a wake) still answers "exists" instead of failing."""
    from demo_orchestrator.domain.blueprint import load_blueprint
    from demo_orchestrator.domain.errors import PermanentError
    from demo_orchestrator.providers.base import InstanceSpec
    from tests.fakes.data_services import postgres

    db = postgres(owner, tmp_path)
    blueprint = load_blueprint(Path(__file__).parents[1] / "blueprints" / "tiny_cache.yaml")
    base = blueprint.scenario("agency")
    assert base is not None
    source = db.ensure(
        spec=InstanceSpec(instance_id="demo-sv0001", blueprint=blueprint, scenario=base)
    )
    held = psycopg.connect(source.env["DATABASE_URL"], autocommit=True)
    held.execute("INSERT INTO items (name) VALUES ('customised by the rep')")
    row = held.execute("SELECT count(*) FROM items").fetchone()
    assert row is not None
    total = int(row[0])
    counts = db.save_template(
        instance_id="demo-sv0001", blueprint=blueprint, base=base, name="rep-copy"
    )
    assert counts["items"] == total
    with pytest.raises(psycopg.OperationalError):
        held.execute("SELECT 1")  # its session was ended for the clone
    held.close()
    with psycopg.connect(source.env["DATABASE_URL"]) as again:  # and it reconnects at once
        assert again.execute("SELECT count(*) FROM items").fetchone() == (total,)
    db.destroy(instance_id="demo-sv0001")  # DROP ROLE works: the copy owns nothing of it
    assert db.probe(instance_id="demo-sv0001").healthy is False
    assert db.saved_templates() == {(blueprint.name, "rep-copy")}

    saved = base.model_copy(update={"name": "rep-copy", "based_on": "agency"})
    spec = InstanceSpec(instance_id="demo-sv0002", blueprint=blueprint, scenario=saved)
    copy = db.ensure(spec=spec)
    with psycopg.connect(copy.env["DATABASE_URL"]) as conn:
        assert conn.execute(
            "SELECT count(*) FROM items WHERE name = 'customised by the rep'"
        ).fetchone() == (1,)
        conn.execute("INSERT INTO items (name) VALUES ('and by the next rep')")
    db.drop_saved_template(blueprint=blueprint.name, name="rep-copy")
    assert db.saved_templates() == set()
    assert db.ensure(spec=spec).message == "exists"
    with pytest.raises(PermanentError, match="deleted"):
        db.ensure(spec=InstanceSpec(instance_id="demo-sv0003", blueprint=blueprint, scenario=saved))
    db.destroy(instance_id="demo-sv0002")
    db.destroy(instance_id="demo-sv0003")
    db.remove_templates()
