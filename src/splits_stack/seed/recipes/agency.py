"""The `agency` scenario: a recruiter network working open roles for four client companies.

10 open jobs, 50 candidates, 25 applications, 3 recruiters with different specialisations and
5 company admins. Personas: Jordan Reyes (recruiter), Priya Nair (client admin), Sam Carter
(candidate, with an application in interview and one just sent).
"""

from __future__ import annotations

from faker import Faker

from splits_stack import tables as t
from splits_stack.seed.builder import Builder
from splits_stack.seed.catalog import INDUSTRIES, company_name
from splits_stack.seed.people import email_for
from splits_stack.seed.recipes.candidates import Persona, add_candidates, skill_fit
from splits_stack.seed.recipes.jobs import add_job
from splits_stack.seed.recipes.organisations import (
    add_company,
    add_recruiter,
    add_staff,
    add_subscription,
    assign_recruiter,
)
from splits_stack.seed.recipes.outbox import email_recent_applications

SPECIALISATIONS = [  # one list per recruiter, Jordan Reyes first
    ["Engineering", "Data & AI"],
    ["Sales", "Marketing", "Customer Success"],
    ["Product & Design", "Finance", "People & Operations"],
]
JOB_FAMILIES = [  # the ten open jobs, dealt round-robin to the four clients
    "Engineering",
    "Engineering",
    "Data & AI",
    "Sales",
    "Product & Design",
    "Engineering",
    "Data & AI",
    "Sales",
    "Marketing",
    "Finance",
]


def agency(b: Builder, fake: Faker, year: int) -> None:
    clients = _clients(b, fake)
    recruiters = _recruiters(b, fake)
    jobs = []
    for i, family in enumerate(JOB_FAMILIES):
        job = add_job(b, clients[i % 4], family, "open", b.rng.uniform(10, 45))
        specialist = next(r for r, s in zip(recruiters, SPECIALISATIONS) if family in s)
        assign_recruiter(b, job, specialist, 9)
        jobs.append(job)
    for client in clients:
        add_subscription(b, client, b.rng.choice(("Starter", "Growth")), b.rng.randint(3, 5))
    candidates = add_candidates(
        b,
        fake,
        sorted(set(JOB_FAMILIES)) * 2,
        50,
        year,
        Persona("Sam Carter", "sam.carter@mail.example", "Engineering"),
        jobs,
    )
    apps = _applications(b, jobs, candidates, recruiters)
    email_recent_applications(b, apps, 8)


def _clients(b: Builder, fake: Faker) -> list[int]:
    """Four client companies in different industries, each with a talent lead; Priya Nair is the
    admin of the first one."""
    industries = b.rng.sample(INDUSTRIES, 4)
    taken: set[str] = set()
    clients = [
        add_company(
            b,
            company_name(b.rng, industries[i], taken),
            industries[i],
            b.rng.choice(("51-200", "201-500", "501-1000")),
            600,
        )
        for i in range(4)
    ]
    add_staff(
        b, "Priya Nair", "priya.nair@client.example", "company_admin", "Head of People", clients[0]
    )
    for i in range(4):
        name = f"{fake.first_name()} {fake.last_name()}"
        add_staff(
            b,
            name,
            email_for(name, i, "client.example"),
            "company_admin",
            "Talent Lead",
            clients[i],
        )
    return clients


def _recruiters(b: Builder, fake: Faker) -> list[int]:
    """Jordan Reyes and two independent recruiters, one per entry of `SPECIALISATIONS`."""
    recruiters = [
        add_recruiter(
            b,
            "Jordan Reyes",
            "jordan.reyes@northbridge.example",
            "Northbridge Talent",
            SPECIALISATIONS[0],
            "Ex-engineer turned tech recruiter; 9 years placing engineers.",
        )
    ]
    for i in (1, 2):
        name = f"{fake.first_name()} {fake.last_name()}"
        recruiters.append(
            add_recruiter(
                b,
                name,
                email_for(name, i, "recruit.example"),
                f"{fake.last_name()} Search",
                SPECIALISATIONS[i],
                f"Independent recruiter focused on {', '.join(SPECIALISATIONS[i])}.",
            )
        )
    return recruiters


def _applications(
    b: Builder, jobs: list[int], candidates: list[int], recruiters: list[int]
) -> list[int]:
    """25 applications: Sam Carter's two, then 23 candidates placed on jobs they fit (same family,
    at least two required skills), each through the job's recruiter. The first client (the one
    the prospect transform names after the prospect) gets two of the hires and a live pipeline."""
    stages = (
        ["applied"] * 7
        + ["screening"] * 6
        + ["interview"] * 5
        + ["offer"] * 3
        + ["hired"] * 2
        + ["rejected"] * 2
    )
    apps = [
        b.application(
            jobs[0], candidates[0], "interview", start_days_ago=12, recruiter_id=recruiters[0]
        ),
        b.application(
            jobs[1],
            candidates[0],
            "applied",
            start_days_ago=2,
            recruiter_id=None,
            source="Job board",
        ),
    ]
    stages.remove("interview")
    stages.remove("applied")
    b.rng.shuffle(stages)
    pairs = [
        (j, c)
        for c in candidates[1:]
        for j in jobs
        if b.get(t.jobs, j)["family"] == b.get(t.candidates, c)["family"]
    ]
    fit = [p for p in pairs if skill_fit(b, *p) >= 2]
    rest = [p for p in pairs if p not in fit]
    chosen = b.rng.sample(fit, min(len(fit), len(stages)))
    chosen += b.rng.sample(rest, len(stages) - len(chosen))
    prospect = b.get(t.jobs, jobs[0])["company_id"]
    home = [k for k, (job, _) in enumerate(chosen) if b.get(t.jobs, job)["company_id"] == prospect]
    spare = [p for p in fit if p not in chosen and b.get(t.jobs, p[0])["company_id"] == prospect]
    for k in range(len(chosen)):  # at least five of the prospect's own: two hires, three live
        if len(home) >= 5 or not spare:
            break
        if k not in home:
            chosen[k] = spare.pop(0)
            home.append(k)
    others = [stage for stage in stages if stage != "hired"]
    hired_at = (sorted(home) + [k for k in range(len(chosen)) if k not in home])[:2]
    stages = ["hired" if k in hired_at else others.pop() for k in range(len(chosen))]
    for stage, (job, cand) in zip(stages, chosen):
        rec = next(a["recruiter_id"] for a in b.rows[t.assignments] if a["job_id"] == job)
        apps.append(
            b.application(job, cand, stage, start_days_ago=b.rng.uniform(3, 30), recruiter_id=rec)
        )
    return apps
