"""Seeded data that holds up in front of a prospect (issue 15, item 4), checked over every scenario
on real SQLite databases seeded by `splits_stack seed`: candidates sit in pipelines of jobs they
fit, resumes read like a person wrote them, and workflow dates are recent and in order, also after
`freshen` shifted a template seeded days earlier."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from splits_stack import tables as t
from splits_stack.db import make_engine
from splits_stack.seed.catalog import FAMILIES
from splits_stack.seed.roles import compatible
from splits_stack.seed.run import seed
from splits_stack.services.freshen import freshen
from tests.stack.conftest import SCENARIOS, scenario_seed

SENIORITY = {"junior", "mid", "senior", "staff", "lead", "principal", "head"}
# A claim "by N%" must say what moved by N%: one of these measurable things, before the "by".
MEASURABLE = re.compile(
    r"\b(latency|time|times|cost|costs|spend|revenue|pipeline|conversion|rate|churn|retention|"
    r"accuracy|failures|incidents?|sign-ups|tickets|cycle|scores?|attrition|outstanding|"
    r"requests|lead|close|errors?|throughput|bookings|margin|usage|activation|users)\b",
    re.IGNORECASE,
)
CHANGE = re.compile(
    r"\b(cut|cutting|reduced|reducing|lowered|lowering|shortened|raised|raising|increased|"
    r"increasing|improved|improving|lifted|lifting|grew|growing|boosted|doubled)\b",
    re.IGNORECASE,
)


def _rows(path: Path, table: Any) -> list[Any]:
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        rows = list(conn.execute(select(table).order_by(table.c.id)))
    engine.dispose()
    return rows


@pytest.fixture(scope="module")
def other_seeds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each scenario drawn from a second seed: the checks hold for the recipe, not one draw."""
    folder = tmp_path_factory.mktemp("other-seeds")
    out = {}
    for name in SCENARIOS:
        path = folder / f"{name}.db"
        engine = make_engine(f"sqlite:///{path}")
        seed(engine, name, scenario_seed(name) + 1000)
        engine.dispose()
        out[name] = path
    return out


def _databases(templates: dict[str, Path], other: dict[str, Path], scenario: str) -> list[Path]:
    return [templates[scenario], other[scenario]]


def test_roles_are_what_their_titles_say() -> None:
    assert not compatible("Senior Mobile Engineer", "Lead Site Reliability Engineer")
    assert not compatible("Data Analyst", "Staff Platform Engineer")
    assert compatible("Staff Backend Engineer", "Software Engineer")
    assert compatible("Mobile Engineer", "Senior Frontend Engineer")


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_most_applications_share_two_required_skills_with_their_job(
    templates: dict[str, Path], other_seeds: dict[str, Path], scenario: str
) -> None:
    for path in _databases(templates, other_seeds, scenario):
        jobs = {j.id: j for j in _rows(path, t.jobs)}
        candidates = {c.id: c for c in _rows(path, t.candidates)}
        apps = _rows(path, t.applications)
        fit = 0
        for app in apps:
            job, cand = jobs[app.job_id], candidates[app.candidate_id]
            shared = set(job.required_skills.split(", ")) & set(cand.skills.split(", "))
            fit += len(shared) >= 2
            # and a role that fits: no site reliability engineer on a mobile engineering job
            assert compatible(job.title, cand.current_title), (job.title, cand.current_title)
        assert apps and fit / len(apps) >= 0.8, (path.name, fit, len(apps))


def _titles(path: Path) -> list[str]:
    titles = [c.current_title for c in _rows(path, t.candidates)]
    titles += [j.title for j in _rows(path, t.jobs)]
    titles += [u.title for u in _rows(path, t.users)]
    for resume in _rows(path, t.resumes):
        lines = resume.body.splitlines()
        titles.append(lines[1].split(" | ")[0])  # the header line: title | location | ...
        titles += [m.group(1) for m in map(re.compile(r"^(.+?), .+ \(\d{4} - ").match, lines) if m]
    return titles


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_resumes_and_titles_read_like_a_person_wrote_them(
    templates: dict[str, Path], other_seeds: dict[str, Path], scenario: str
) -> None:
    for path in _databases(templates, other_seeds, scenario):
        titles = _titles(path)
        assert len(titles) > 40
        for title in titles:
            words = [w.lower() for w in re.findall(r"[A-Za-z]+", title)]
            assert sum(w in SENIORITY for w in words) <= 1, title  # no "Senior Senior ..."
        employers = [c.current_company for c in _rows(path, t.candidates)]
        for resume in _rows(path, t.resumes):
            lines = resume.body.splitlines()
            employers += [
                m.group(1) for m in map(re.compile(r"^.+?, (.+) \(\d{4} - ").match, lines) if m
            ]
        for employer in employers:  # never "Smith, Smith and Lee"
            words = [w.lower() for w in re.findall(r"[A-Za-z]+", employer)]
            assert len(words) == len(set(words)), employer
        texts = [c.headline for c in _rows(path, t.candidates)]
        texts += [r.body for r in _rows(path, t.resumes)]
        texts += [j.description for j in _rows(path, t.jobs)]
        claims = 0
        for text in texts:
            for line in text.splitlines():
                doubled = re.search(r"\b(\w+)\s+\1\b", line, re.IGNORECASE)
                assert doubled is None, line
                assert not re.search(r"\b1 (years|yrs)\b", line), line
                for sentence in re.split(r"(?<=\.)\s", line):
                    metric = re.search(r"\bby \d+(\.\d+)?%", sentence)
                    if metric is None:
                        continue
                    claims += 1
                    before = sentence[: metric.start()]
                    assert CHANGE.search(before) and MEASURABLE.search(before), sentence
                    assert not re.search(r"\busing [^,]+ by \d", sentence), sentence
        assert claims > 5  # the check above did see claims with a metric


SKILLS = sorted({s for f in FAMILIES.values() for s in f.skills}, key=len, reverse=True)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_a_resume_claim_names_only_skills_the_person_lists(
    templates: dict[str, Path], other_seeds: dict[str, Path], scenario: str
) -> None:
    for path in _databases(templates, other_seeds, scenario):
        skills = {c.id: set(c.skills.split(", ")) for c in _rows(path, t.candidates)}
        named = 0
        for resume in _rows(path, t.resumes):
            for line in resume.body.splitlines():
                if not line.startswith("  - "):
                    continue
                for skill in SKILLS:  # longest first: "Google Analytics" before "Analytics"
                    pattern = rf"(?<![\w/]){re.escape(skill)}(?![\w/])"
                    if re.search(pattern, line):
                        named += 1
                        assert skill in skills[resume.candidate_id], (skill, line)
                        line = re.sub(pattern, "", line)
        assert named > 20


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_workflow_dates_are_recent_and_in_order_after_a_shift(
    tmp_path: Path, templates: dict[str, Path], scenario: str
) -> None:
    """A template seeded nine days ago, then freshened as a demo's start does: approvals were
    requested days ago, applications follow their job's opening and their candidate, moves are
    in order, and nothing lies in the future."""
    path = tmp_path / f"{scenario}.db"
    engine = make_engine(f"sqlite:///{path}")
    seed(engine, scenario, scenario_seed(scenario), now=datetime.now(UTC) - timedelta(days=9))
    done = freshen(engine)
    engine.dispose()
    assert abs(done["shifted_s"] - 9 * 86400) < 300
    now = datetime.now(UTC) + timedelta(minutes=1)
    jobs = {j.id: j for j in _rows(path, t.jobs)}
    candidates = {c.id: c for c in _rows(path, t.candidates)}
    approvals = _rows(path, t.job_approvals)
    if scenario == "enterprise":
        pending = [a for a in approvals if a.status == "pending"]
        assert len({a.job_id for a in pending}) == 10
        for step in pending:
            requested = jobs[step.job_id].created_at
            assert now - timedelta(days=14) <= requested <= now, requested
    by_job: dict[int, list[Any]] = {}
    for step in approvals:
        by_job.setdefault(step.job_id, []).append(step)
    for job_id, steps in by_job.items():
        job = jobs[job_id]
        decided = [s.decided_at for s in sorted(steps, key=lambda s: s.step) if s.decided_at]
        assert decided == sorted(decided)
        assert all(job.created_at <= d <= (job.opened_at or now) for d in decided), job.title
    moves: dict[int, list[Any]] = {}
    for move in _rows(path, t.application_moves):
        moves.setdefault(move.application_id, []).append(move)
    for app in _rows(path, t.applications):
        job, cand = jobs[app.job_id], candidates[app.candidate_id]
        assert (job.opened_at or job.created_at) <= app.created_at, (job.title, app.id)
        assert cand.created_at <= app.created_at <= app.updated_at <= now
        history = moves[app.id]
        times = [m.moved_at for m in history]
        assert times == sorted(times) and times[-1] == app.updated_at
        assert history[-1].to_stage == app.stage
        if job.closed_at is not None:  # a finished search: every story ended, before it closed
            assert app.updated_at <= job.closed_at and app.stage in ("hired", "rejected")
    for placement in _rows(path, t.placements):
        assert placement.placed_at <= now and placement.fee_amount > 0
