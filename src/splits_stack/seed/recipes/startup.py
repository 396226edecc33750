"""The `startup` scenario: a seed-stage company hiring four critical roles fast.

Lumen Labs: 4 open critical roles, 20 strong candidates (each built around a role's required
skills), 24 applications moving within days, 2 recruiters. Personas: Alex Morgan (founder and
CEO), Riley Chen (CTO, hiring manager of every role), Taylor Kim (recruiter), Jamie Rivera
(candidate).
"""

from __future__ import annotations

from typing import Any

from faker import Faker

from splits_stack import tables as t
from splits_stack.seed.builder import Builder
from splits_stack.seed.catalog import FAMILIES
from splits_stack.seed.people import make_person, seniority
from splits_stack.seed.recipes.jobs import add_job
from splits_stack.seed.recipes.organisations import (
    add_company,
    add_recruiter,
    add_staff,
    add_subscription,
    assign_recruiter,
)
from splits_stack.seed.recipes.outbox import email_recent_applications

ROLES = [  # (family, title, level) of the four critical roles
    ("Engineering", "Founding Engineer", "Senior"),
    ("Data & AI", "Machine Learning Engineer", "Senior"),
    ("Product & Design", "Founding Product Designer", "Senior"),
    ("Marketing", "Head of Growth", "Lead"),
]
SECOND = {4: 1, 8: 1, 5: 0, 9: 0}  # candidate -> role of their second application (eng <-> ML)
STAGES = (  # of the 24 applications: one per candidate, then four second applications
    ["interview"]
    + ["applied"] * 3
    + ["screening"] * 5
    + ["interview"] * 7
    + ["offer"] * 4
    + ["hired"]
    + ["rejected"] * 2
    + ["applied"]
)


def startup(b: Builder, fake: Faker, year: int) -> None:
    company = add_company(b, "Lumen Labs", "Climate tech", "11-50", 400)
    add_staff(
        b, "Alex Morgan", "alex.morgan@lumenlabs.example", "founder", "Co-founder & CEO", company
    )
    cto = add_staff(
        b,
        "Riley Chen",
        "riley.chen@lumenlabs.example",
        "hiring_manager",
        "Co-founder & CTO",
        company,
    )
    add_staff(
        b,
        "Sasha Ortiz",
        "sasha.ortiz@lumenlabs.example",
        "company_admin",
        "Operations & People",
        company,
    )
    recruiters = [
        add_recruiter(
            b,
            "Taylor Kim",
            "taylor.kim@foundry-talent.example",
            "Foundry Talent",
            ["Engineering", "Data & AI", "Product & Design"],
            "Fractional talent partner for seed-stage startups.",
        ),
        add_recruiter(
            b,
            f"{fake.first_name()} {fake.last_name()}",
            "growth.partner@recruit.example",
            f"{fake.last_name()} & Co",
            ["Marketing", "Sales"],
            "Growth and GTM hiring.",
        ),
    ]
    jobs = []
    for family, title, level in ROLES:
        job = add_job(
            b,
            company,
            family,
            "open",
            b.rng.uniform(8, 20),
            manager=cto,
            level=level,
            title=title,
            priority="critical",
        )
        assign_recruiter(b, job, recruiters[0] if family != "Marketing" else recruiters[1], 8)
        jobs.append(job)
    add_subscription(b, company, "Starter", 4)
    candidates = _candidates(b, fake, jobs, year)
    apps = []
    seconds = list(SECOND)
    for i, stage in enumerate(STAGES):
        c = i if i < 20 else seconds[i - 20]  # four second applications, to a neighbouring role
        role = c % 4 if i < 20 else SECOND[c]
        apps.append(
            b.application(
                jobs[role],
                candidates[c],
                stage,
                start_days_ago=b.rng.uniform(2, 14),
                step_days=(0.3, 2.0),
                recruiter_id=recruiters[1] if ROLES[role][0] == "Marketing" else recruiters[0],
            )
        )
    email_recent_applications(b, apps, 10)


def _candidates(b: Builder, fake: Faker, jobs: list[int], year: int) -> list[int]:
    """20 strong candidates, five per role, senior and titled by their years; four in five are
    sure to have every required skill of their role, the fifth two of them, and the four with a
    second application two skills of that role too. Jamie Rivera first."""
    candidates = []
    for i in range(20):
        family, _, _ = ROLES[i % 4]
        required = b.get(t.jobs, jobs[i % 4])["required_skills"].split(", ")
        must = required if i % 5 != 4 else required[:2]
        if i in SECOND:  # an engineer also fit for the ML role, or the other way round
            other = b.get(t.jobs, jobs[SECOND[i]])["required_skills"].split(", ")
            must = must + [s for s in b.rng.sample(other, 2) if s not in must]
        kw: dict[str, Any] = (
            {"name": "Jamie Rivera", "email": "jamie.rivera@mail.example"} if i == 0 else {}
        )
        title = ROLES[i % 4][1]
        if title in FAMILIES[family].titles:  # "Machine Learning Engineer" candidates for that role
            kw["base_title"] = title
        elif i in SECOND:  # an engineer who also fits the ML role
            kw["base_title"] = "ML Platform Engineer"
        person = make_person(
            fake, b.rng, i, family, min_years=5, max_years=14, must_skills=must, year_now=year, **kw
        )
        person.title = f"{seniority(person.years)} {person.title.split(' ', 1)[-1]}".strip()
        candidates.append(b.candidate(person, b.rng.uniform(1, 14)))
    return candidates
