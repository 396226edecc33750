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
from splits_stack.seed.recipes.candidates import Persona, add_candidates, fits
from splits_stack.seed.recipes.jobs import add_job
from splits_stack.seed.recipes.organisations import (
    add_company,
    add_recruiter,
    add_staff,
    add_subscription,
    assign_recruiter,
)
from splits_stack.seed.recipes.outbox import email_recent_applications
from splits_stack.seed.roles import bare_title

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
    jobs: list[int] = []
    for i, family in enumerate(JOB_FAMILIES):
        # the second job is the first one's role at another client: Sam Carter applies to both
        role = bare_title(b.get(t.jobs, jobs[0])["title"]) if i == 1 else None
        job = add_job(b, clients[i % 4], family, "open", b.rng.uniform(10, 45), role=role)
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
    """25 applications: Sam Carter's two, then 23 candidates placed on jobs they fit (a compatible
    role, at least two required skills), each through the job's recruiter. The first client (the
    one the prospect transform names after the prospect) gets both hires (one on its first job,
    worked by Jordan Reyes) and, on that first job (the tour's pipeline board), two candidates in
    screening and one just applied."""
    stages = ["applied"] * 6 + ["screening"] * 6 + ["interview"] * 4 + ["offer"] * 3
    stages += ["rejected"] * 2
    sam_second = next(  # Sam's other application: an engineering job his role fits
        (
            j
            for j in jobs[1:]
            if b.get(t.jobs, j)["family"] == "Engineering" and fits(b, j, candidates[0])
        ),
        jobs[1],
    )
    apps = [
        b.application(
            jobs[0], candidates[0], "interview", start_days_ago=12, recruiter_id=recruiters[0]
        ),
        b.application(
            sam_second,
            candidates[0],
            "applied",
            start_days_ago=2,
            recruiter_id=None,
            source="Job board",
        ),
    ]
    pairs = [
        (j, c)
        for c in candidates[1:]
        for j in jobs
        if b.get(t.jobs, j)["family"] == b.get(t.candidates, c)["family"]
    ]
    fit = [p for p in pairs if fits(b, *p)]
    prospect = b.get(t.jobs, jobs[0])["company_id"]
    own = [j for j in jobs[1:] if b.get(t.jobs, j)["company_id"] == prospect]
    reserved = [(jobs[0], "screening"), (jobs[0], "screening"), (jobs[0], "applied")]
    # one hire on that board (Jordan Reyes's split), one on another of its roles
    reserved += [(jobs[0], "hired"), (own[0] if own else jobs[0], "hired")]
    chosen: list[tuple[int, int, str]] = []
    for job, stage in reserved:
        taken = {c for _, c, _ in chosen}
        options = [p for p in fit if p[0] == job and p[1] not in taken]
        options = options or [p for p in pairs if p[0] == job and p[1] not in taken]
        pick = b.rng.choice(options)
        chosen.append((pick[0], pick[1], stage))
        if stage in stages:  # the hires are all reserved; the others come out of the deal
            stages.remove(stage)
    b.rng.shuffle(stages)
    used = {(j, c) for j, c, _ in chosen}
    free = [p for p in fit if p not in used]
    rest = [p for p in pairs if p not in used and p not in fit]
    drawn = b.rng.sample(free, min(len(free), len(stages)))
    drawn += b.rng.sample(rest, len(stages) - len(drawn))
    chosen += [(j, c, stage) for (j, c), stage in zip(drawn, stages)]
    for job, cand, stage in chosen:
        rec = next(a["recruiter_id"] for a in b.rows[t.assignments] if a["job_id"] == job)
        apps.append(
            b.application(job, cand, stage, start_days_ago=b.rng.uniform(3, 30), recruiter_id=rec)
        )
    return apps
