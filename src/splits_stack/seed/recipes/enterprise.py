"""The `enterprise` scenario: one large company hiring through departments and approvals.

Northwind Global: 8 departments, 60 requisitions (10 pending a three-step approval), 240
candidates, 480 applications, 6 recruiters, 3 company admins and 8 hiring managers. Personas: Dana
Whitfield and Grace Okafor (approvers), Marcus Lee (VP Engineering, has a requisition to approve),
Elena Novak (recruiter), Chris Patel (candidate, with applications).
"""

from __future__ import annotations

from faker import Faker

from splits_stack import tables as t
from splits_stack.seed.builder import Builder
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

DOMAIN = "northwind.example"
JOBS_PER_DEPARTMENT = {
    "Engineering": 14,
    "Data & AI": 8,
    "Product & Design": 6,
    "Sales": 10,
    "Marketing": 6,
    "Customer Success": 6,
    "Finance": 5,
    "People & Operations": 5,
}
RECRUITER_SPECIALISATIONS = [  # Elena Novak first, then two in-house and three agency recruiters
    ["Engineering", "Data & AI", "Product & Design"],
    ["Sales", "Marketing", "Customer Success"],
    ["Finance", "People & Operations"],
    ["Engineering"],
    ["Data & AI"],
    ["Sales"],
]
AGE_DAYS = {  # how long ago a requisition was raised, by status: approvals wait days, not months
    "pending_approval": (1, 12),
    "draft": (1, 20),
}
CANDIDATE_WEIGHTS = {  # how many candidates of each family per round of the talent pool
    "Engineering": 4,
    "Data & AI": 3,
    "Sales": 3,
    "Product & Design": 2,
    "Marketing": 2,
    "Customer Success": 2,
    "Finance": 1,
    "People & Operations": 1,
}


def enterprise(b: Builder, fake: Faker, year: int) -> None:
    company = add_company(b, "Northwind Global", "Logistics", "10,000+", 3000)
    admins = [
        add_staff(b, name, email, "company_admin", title, company)
        for name, email, title in (
            ("Dana Whitfield", f"dana.whitfield@{DOMAIN}", "Head of Talent Acquisition"),
            ("Grace Okafor", f"grace.okafor@{DOMAIN}", "Finance Director"),
            ("Omar Haddad", f"omar.haddad@{DOMAIN}", "HR Operations Lead"),
        )
    ]
    departments, managers = _departments(b, fake, company)
    recruiters = _recruiters(b, fake)
    jobs = _requisitions(b, company, departments, managers, admins, recruiters)
    add_subscription(b, company, "Enterprise", 96)
    families = [f for f, w in CANDIDATE_WEIGHTS.items() for _ in range(w)]
    candidates = add_candidates(
        b,
        fake,
        families,
        240,
        year,
        Persona("Chris Patel", "chris.patel@mail.example", "Data & AI"),
        [j for j in jobs if b.get(t.jobs, j)["status"] in ("open", "filled", "closed")],
    )
    apps = _applications(b, jobs, candidates)
    email_recent_applications(b, apps, 12)


def _departments(b: Builder, fake: Faker, company: int) -> tuple[dict[str, int], dict[str, int]]:
    """One department per job family, each headed by its hiring manager (Marcus Lee for
    Engineering); returns department ids and manager user ids by family."""
    managers: dict[str, int] = {}
    departments: dict[str, int] = {}
    for family in JOBS_PER_DEPARTMENT:
        if family == "Engineering":
            name, title, email = "Marcus Lee", "VP Engineering", f"marcus.lee@{DOMAIN}"
        else:
            name, title = f"{fake.first_name()} {fake.last_name()}", f"Head of {family}"
            email = email_for(name, len(managers), DOMAIN)
        managers[family] = add_staff(b, name, email, "hiring_manager", title, company)
        departments[family] = b.add(
            t.departments,
            company_id=company,
            name=family,
            budget_k=b.rng.randint(8, 60) * 100,
            head_user_id=managers[family],
        )
    return departments, managers


def _recruiters(b: Builder, fake: Faker) -> list[int]:
    """Elena Novak, two more in-house recruiters and three agency partners, one per entry of
    `RECRUITER_SPECIALISATIONS`."""
    recruiters = [
        add_recruiter(
            b,
            "Elena Novak",
            f"elena.novak@{DOMAIN}",
            "Northwind Talent",
            RECRUITER_SPECIALISATIONS[0],
            "Senior talent partner for R&D.",
        )
    ]
    for i, spec in enumerate(RECRUITER_SPECIALISATIONS[1:]):
        name = f"{fake.first_name()} {fake.last_name()}"
        in_house = i < 2
        agency_name = "Northwind Talent" if in_house else f"{fake.last_name()} Partners"
        recruiters.append(
            add_recruiter(
                b,
                name,
                email_for(name, i, DOMAIN if in_house else "partners.example"),
                agency_name,
                spec,
                f"Specialist in {', '.join(spec)} hiring.",
            )
        )
    return recruiters


def _requisitions(
    b: Builder,
    company: int,
    departments: dict[str, int],
    managers: dict[str, int],
    admins: list[int],
    recruiters: list[int],
) -> list[int]:
    """60 jobs by department with their approval chains (hiring manager, finance, talent
    acquisition); approved jobs go to every recruiter of their family."""
    statuses = (
        ["open"] * 38 + ["pending_approval"] * 10 + ["draft"] * 4 + ["filled"] * 5 + ["closed"] * 3
    )
    b.rng.shuffle(statuses)
    if "pending_approval" not in statuses[:14]:  # the VP Engineering has a requisition to approve
        k = statuses.index("pending_approval")
        statuses[0], statuses[k] = statuses[k], statuses[0]
    jobs: list[int] = []
    pending = 0
    for family, size in JOBS_PER_DEPARTMENT.items():
        for _ in range(size):
            status = statuses[len(jobs)]
            job = add_job(
                b,
                company,
                family,
                status,
                b.rng.uniform(*AGE_DAYS.get(status, (20, 120))),
                dept=departments[family],
                manager=managers[family],
            )
            jobs.append(job)
            chain = [
                ("Hiring manager", managers[family]),
                ("Finance", admins[1]),
                ("Talent Acquisition", admins[0]),
            ]
            done = {
                "draft": 0,
                "pending_approval": pending % 3 if family != "Engineering" else 0,
            }.get(status, 3)
            pending += status == "pending_approval"
            if status == "draft":
                continue
            _approval_chain(b, job, chain, done)
            for recruiter, spec in zip(recruiters, RECRUITER_SPECIALISATIONS):
                if family in spec and status != "pending_approval":
                    assign_recruiter(b, job, recruiter, 20)
    return jobs


def _approval_chain(b: Builder, job: int, chain: list[tuple[str, int]], done: int) -> None:
    """The job's approval steps: the first `done` approved, the next pending, the rest waiting.
    Decisions fall in order between the request (the job's creation) and its opening (or now)."""
    row = b.get(t.jobs, job)
    start, end = row["created_at"], row["opened_at"] or b.ago(0.1)
    for step, (label, approver) in enumerate(chain, start=1):
        state = "approved" if step <= done else ("pending" if step == done + 1 else "waiting")
        b.add(
            t.job_approvals,
            job_id=job,
            step=step,
            label=label,
            approver_id=approver,
            status=state,
            note="Budgeted headcount" if state == "approved" else "",
            decided_at=(
                start + (end - start) * ((step - 1 + b.rng.uniform(0.3, 0.9)) / max(done, 1))
                if state == "approved"
                else None
            ),
        )


def _applications(b: Builder, jobs: list[int], candidates: list[int]) -> list[int]:
    """480 applications to live jobs from candidates of the job's family who list at least two
    of its required skills (Chris Patel's two first); each filled job gets its hire."""
    live = [j for j in jobs if b.get(t.jobs, j)["status"] in ("open", "filled", "closed")]
    by_family: dict[str, list[int]] = {}
    for c in candidates:
        by_family.setdefault(b.get(t.candidates, c)["family"], []).append(c)
    pairs = [
        (j, c)
        for j in live
        for c in by_family[b.get(t.jobs, j)["family"]]
        if b.get(t.candidates, c)["created_at"] < (b.get(t.jobs, j)["closed_at"] or b.now)
    ]  # nobody applies to a search that closed before they joined
    fit = [p for p in pairs if fits(b, *p)]  # candidates go where they fit
    chris = [p for p in fit if p[1] == candidates[0]][:2]  # the candidate persona applied
    fit = [p for p in fit if p not in chris]
    chosen = chris + b.rng.sample(fit, min(len(fit), 480 - len(chris)))
    if len(chosen) < 480:  # never with the shipped recipes; keeps the count if a pool is thin
        rest = [p for p in pairs if p not in set(chosen)]
        chosen += b.rng.sample(rest, 480 - len(chosen))
    apps = []
    filled_hired: set[int] = set()
    for job, cand in chosen:
        status = b.get(t.jobs, job)["status"]
        if status == "filled" and job not in filled_hired:
            stage = "hired"
            filled_hired.add(job)
        elif status in ("filled", "closed"):  # the others of a finished search were turned down
            stage = "rejected"
        else:
            stage = b.rng.choices(
                ["applied", "screening", "interview", "offer", "hired", "rejected"],
                [30, 20, 15, 5, 3, 27],
            )[0]
        rec = next((a["recruiter_id"] for a in b.rows[t.assignments] if a["job_id"] == job), None)
        apps.append(
            b.application(
                job,
                cand,
                stage,
                start_days_ago=b.rng.uniform(4, 90),
                step_days=(2, 9),
                recruiter_id=rec,
                source=b.rng.choice(("Recruiter", "Referral", "Careers site", "LinkedIn")),
            )
        )
    return apps
