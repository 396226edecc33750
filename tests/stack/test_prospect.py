"""The prospect everywhere it belongs (issue 15, item 2, data part): the transform `freshen` applies
after seeding (and again on the warm pool's personalize -> reload) names the prospect's company
after the prospect, moves its people to an e-mail domain derived from the prospect's name while
their seeded e-mails keep signing in, and leaves the company with hires, fees and a live pipeline.
Real SQLite copies of the seeded templates, one PostgreSQL run, and one served stack."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from splits_stack import tables as t
from splits_stack.db import make_engine, read_meta
from splits_stack.seed.run import seed
from splits_stack.services import identity
from splits_stack.services.freshen import _apply_prospect, freshen, prospect_domain
from tests.stack.conftest import (
    PERSONA_LINK,
    SCENARIOS,
    as_rep,
    blueprint,
    client,
    scenario_seed,
    sign_in,
)

ACME, ACME_DOMAIN = "Acme Robotics, Inc.", "acmerobotics.example"
SEEDED_DOMAINS = ("client.example", "northwind.example", "lumenlabs.example")
LIVE = ("applied", "screening", "interview", "offer")


@pytest.mark.parametrize(
    ("name", "domain"),
    [
        ("Acme Robotics, Inc.", "acmerobotics.example"),
        ("Acme Robotics", "acmerobotics.example"),
        ("  ACME   robotics LLC ", "acmerobotics.example"),
        ("Société Générale S.A.", "societegenerale.example"),
        ("Zürich Versicherungs-Gesellschaft AG", "zurichversicherungsgesellschaft.example"),
        ("O'Reilly Media", "oreillymedia.example"),
        ("AT&T", "att.example"),
        ("3M", "3m.example"),
        ("株式会社", "prospect.example"),
        ("", "prospect.example"),
        ("Inc.", "inc.example"),
    ],
)
def test_prospect_domain_is_ascii_and_derived_from_the_name(name: str, domain: str) -> None:
    assert prospect_domain(name) == domain == prospect_domain(name)


def test_prospect_domain_of_a_very_long_name_is_a_valid_dns_label() -> None:
    domain = prospect_domain("Very " * 100 + "Long Holdings")
    label = domain.removesuffix(".example")
    assert domain.endswith(".example") and 0 < len(label) <= 63
    assert re.fullmatch(r"[a-z0-9]+", label)


@pytest.fixture
def copy(templates: dict[str, Path], tmp_path: Path) -> Iterator[Any]:
    """`copy(scenario, name)`: an engine on a fresh copy of the scenario's seeded template."""
    engines: list[Engine] = []

    def make(scenario: str, name: str = "demo") -> Engine:
        path = tmp_path / f"{scenario}-{name}.db"
        shutil.copyfile(templates[scenario], path)
        engine = make_engine(f"sqlite:///{path}")
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.dispose()


def _dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return {
            table.name: [
                tuple(r) for r in conn.execute(select(table).order_by(*table.primary_key.columns))
            ]
            for table in t.metadata.sorted_tables
            if table is not t.sessions
        }


def _check_prospect(engine: Engine, scenario: str, company: str, domain: str) -> None:
    with engine.connect() as conn:
        target = conn.execute(select(t.companies).where(t.companies.c.is_prospect)).one()
        users = conn.execute(select(t.users)).all()
        placements = conn.execute(
            select(func.count(), func.sum(t.placements.c.fee_amount)).where(
                t.placements.c.company_id == target.id
            )
        ).one()
        live = conn.execute(
            select(func.count())
            .select_from(t.applications.join(t.jobs))
            .where(t.jobs.c.company_id == target.id, t.applications.c.stage.in_(LIVE))
        ).scalar_one()
        addressed = [r.to_addr for r in conn.execute(select(t.emails.c.to_addr))]
        recruiters = [r.email for r in conn.execute(select(t.recruiters.c.email))]
    assert target.name == company
    staff = [u for u in users if u.company_id == target.id]
    assert staff and all(u.email.endswith("@" + domain) for u in staff), [u.email for u in staff]
    assert placements[0] > 0 and placements[1] > 0, placements  # hires and fees > $0
    assert live >= 3  # a pipeline worth showing
    with engine.connect() as conn:
        mail = [(r.to_addr, r.body) for r in conn.execute(select(t.emails))]
    team = f"The {company} hiring team"
    own_mail = [m for m in mail if m[0] in {u.email for u in staff} or team in m[1]]
    assert own_mail  # its outbox is not empty either
    moved = identity_aliases(engine)
    assert moved and all(v.endswith("@" + domain) for v in moved.values())
    for old in moved:  # a moved person's seeded address is nowhere any more
        assert old not in {u.email for u in users} | set(addressed) | set(recruiters)
    if scenario != "agency":  # the one company's own domain is gone from every address
        everyone = [u.email for u in users] + addressed + recruiters
        assert not [e for e in everyone if e.endswith(SEEDED_DOMAINS)]
    spec = next(s for s in blueprint()["scenarios"] if s["name"] == scenario)
    shown = identity.personas(engine, scenario)
    assert [p["name"] for p in shown] == [p["name"] for p in spec["personas"]]
    for persona in spec["personas"]:  # the blueprint's (seeded) e-mail still finds the persona
        user = identity.user_by_email(engine, persona["email"])
        assert user is not None and user["name"] == persona["name"], persona
        if user["company_id"] == target.id:
            assert user["email"].endswith("@" + domain)


def identity_aliases(engine: Engine) -> dict[str, str]:
    return dict(json.loads(read_meta(engine).get("email_aliases", "{}")))


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_prospects_company_gets_its_domain_hires_and_pipeline(copy: Any, scenario: str) -> None:
    engine = copy(scenario)
    with engine.connect() as conn:
        seeded = conn.execute(select(t.companies.c.name).where(t.companies.c.id == 1)).scalar_one()
    done = freshen(engine, company=ACME, industry="Robotics")
    assert done["prospect"] == 1
    _check_prospect(engine, scenario, ACME, ACME_DOMAIN)
    data = _dump(engine)
    del data["meta"]  # which keeps what was seeded, for the next prospect
    assert seeded not in json.dumps(data, default=str)  # the seeded name is gone everywhere
    if scenario == "agency":  # Priya Nair is the prospect's Head of People
        priya = identity.user_by_email(engine, "priya.nair@client.example")
        assert priya is not None and priya["email"] == f"priya.nair@{ACME_DOMAIN}"
        assert priya["company_id"] == 1


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_transform_twice_is_the_transform_once(copy: Any, scenario: str) -> None:
    engine = copy(scenario)
    freshen(engine, company=ACME, industry="Robotics")
    once = _dump(engine)
    assert freshen(engine, company=ACME, industry="Robotics")["prospect"] is None
    with engine.begin() as conn:  # and the transform itself, run again past the meta guard
        _apply_prospect(conn, scenario, ACME, "Robotics")
    assert _dump(engine) == once


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_a_second_prospect_leaves_no_trace_of_the_first(copy: Any, scenario: str) -> None:
    """Re-personalising (A, then B) gives exactly the data of B applied to the template."""
    twice, direct = copy(scenario, "twice"), copy(scenario, "direct")
    anchor = float(read_meta(twice)["anchor"])  # no date shift: both copies stay comparable
    freshen(twice, company=ACME, industry="Robotics", now=anchor)
    freshen(twice, company="Globex Corporation", now=anchor)
    freshen(direct, company="Globex Corporation", now=anchor)
    assert _dump(twice) == _dump(direct)
    text = json.dumps(_dump(twice), default=str).lower()
    assert "acme" not in text and "robotics" not in text
    _check_prospect(twice, scenario, "Globex Corporation", "globex.example")


@pytest.mark.postgres
def test_the_prospect_transform_on_postgresql(pg_url: Any) -> None:
    from splits_stack.config import normalise_database_url

    engine = make_engine(normalise_database_url(pg_url()))
    try:
        seed(engine, "agency", scenario_seed("agency"))
        freshen(engine, company="Globex Corporation", industry="Energy")
        freshen(engine, company=ACME, industry="Robotics")
        _check_prospect(engine, "agency", ACME, ACME_DOMAIN)
        with engine.connect() as conn:
            left = conn.execute(
                select(func.count()).select_from(t.users).where(t.users.c.email.like("%globex%"))
            ).scalar_one()
        assert left == 0
        once = _dump(engine)
        with engine.begin() as conn:
            _apply_prospect(conn, "agency", ACME, "Robotics")
        assert _dump(engine) == once
    finally:
        engine.dispose()


def test_a_served_stack_signs_personas_in_by_seeded_and_by_prospect_e_mail(stacks: Any) -> None:
    """The orchestrator's persona links carry the blueprint's e-mails; the stack's own picker
    shows the prospect's domain, keeps the blueprint's e-mail as the persona's stable
    `data-persona` key, and signs in with the current e-mail. Both sign in."""
    stack = stacks("agency", DEMO_PROSPECT_COMPANY=ACME)
    with sign_in(stack, "priya.nair@client.example") as http:
        me = http.get("/api/companies").json()["items"]
        assert ACME in json.dumps(me)
    with as_rep(stack) as http:
        picker = http.get("/personas").text
    links = dict(re.findall(PERSONA_LINK, picker))
    assert set(links) == {p["email"] for p in blueprint()["scenarios"][0]["personas"]}
    assert f"priya.nair@{ACME_DOMAIN}" in picker  # what the rep sees
    link = links["priya.nair@client.example"].replace("&amp;", "&")
    assert f"email=priya.nair@{ACME_DOMAIN}" in link
    with client(stack) as http:
        path = link.split(".localhost", 1)[1].split("/", 1)[1]
        assert http.get("/" + path).status_code == 303


def test_priya_sees_her_own_company_s_placements_and_fees(stacks: Any) -> None:
    """Agency: the prospect's Head of People opens /placements and her dashboard (tour steps):
    placements at the prospect's company, fees above $0."""
    stack = stacks("agency", DEMO_PROSPECT_COMPANY=ACME)
    with sign_in(stack, "priya.nair@client.example") as http:
        page = http.get("/placements")
        dashboard = http.get("/")
    assert page.status_code == 200 and dashboard.status_code == 200
    rows = re.findall(r"<tr data-placement=\"\d+\">(.*?)</tr>", page.text, re.DOTALL)
    own = [row for row in rows if ACME.replace(",", "") in row.replace(",", "")]
    assert own, rows
    head = re.search(r"(\d+) placements · \$([\d,]+) in fees", page.text)
    assert head is not None and int(head.group(1)) > 0
    assert int(head.group(2).replace(",", "")) > 0
    fees = re.search(r'data-kpi="fees">\$([\d,]+)<', dashboard.text)
    assert fees is not None and int(fees.group(1).replace(",", "")) > 0
