"""The three scenarios (agency, enterprise, startup) as recipes over the `Builder`.

Counts are exact (the blueprint's `counts` and the tests rely on them); everything else is drawn
from the seed. Personas are fixed people so that the blueprint can list their e-mails.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime
from typing import Any

from faker import Faker

from splits_stack import tables as t
from splits_stack.seed.builder import Builder
from splits_stack.seed.catalog import FAMILIES, INDUSTRIES, LOCATIONS, PLANS, company_name
from splits_stack.seed.people import email_for, make_person, pick_skills, seniority


def _company(b: Builder, fake: Faker, name: str, industry: str, size: str, days: float) -> int:
    slug = "".join(ch for ch in name.lower() if ch.isalnum())[:24]
    location = b.rng.choice(LOCATIONS)
    focus = b.rng.choice(
        ("mid-market customers", "enterprise teams", "consumers", "small businesses")
    )
    return b.add(
        t.companies,
        name=name,
        industry=industry,
        size=size,
        location=location,
        website=f"https://{slug}.example",
        description=f"{name} builds {industry.lower()} products for {focus}; "
        f"{size} employees, headquartered in {location}.",
        is_prospect=False,
        created_at=b.ago(days),
    )


def _staff(
    b: Builder,
    name: str,
    email: str,
    role: str,
    title: str,
    company: int | None,
    recruiter: int | None = None,
) -> int:
    return b.add(
        t.users,
        email=email,
        name=name,
        role=role,
        title=title,
        company_id=company,
        recruiter_id=recruiter,
        candidate_id=None,
        created_at=b.ago(400),
    )


def _recruiter(b: Builder, name: str, email: str, agency: str, specs: list[str], bio: str) -> int:
    rid = b.add(
        t.recruiters,
        name=name,
        email=email,
        agency=agency,
        specialisations=", ".join(specs),
        bio=bio,
        location=b.rng.choice(LOCATIONS),
        rating=round(b.rng.uniform(4.2, 5.0), 1),
        created_at=b.ago(500),
    )
    _staff(b, name, email, "recruiter", f"Recruiter, {agency}", None, rid)
    return rid


def _job(
    b: Builder,
    fake: Faker,
    company: int,
    family: str,
    status: str,
    days: float,
    *,
    dept: int | None = None,
    manager: int | None = None,
    level: str | None = None,
    title: str | None = None,
    priority: str = "normal",
) -> int:
    fam, rng = FAMILIES[family], b.rng
    level = level or rng.choice(("Mid", "Senior", "Senior", "Staff", "Lead"))
    min_years = {"Junior": 0, "Mid": 2, "Senior": 5, "Staff": 8, "Lead": 7, "Principal": 10}[level]
    base = title or f"{'' if level == 'Mid' else level + ' '}{rng.choice(fam.titles)}"
    skills = pick_skills(rng, family, 7)
    required, nice = skills[:4], skills[4:]
    lo = int(fam.salary[0] * (1 + min_years / 20)) // 1000 * 1000
    created = b.ago(days)
    opened = b.ago(days * 0.8) if status in ("open", "filled", "closed") else None
    return b.add(
        t.jobs,
        company_id=company,
        department_id=dept,
        hiring_manager_id=manager,
        title=base,
        family=family,
        level=level,
        location=rng.choice(LOCATIONS),
        remote=rng.random() < 0.4,
        employment_type="Full-time",
        salary_min=lo,
        salary_max=lo + rng.choice((20, 30, 40, 50)) * 1000,
        fee_pct=rng.choice((15.0, 18.0, 20.0, 22.0, 25.0)),
        min_years=min_years,
        required_skills=", ".join(required),
        nice_skills=", ".join(nice),
        description=_description(rng, base, family, required, nice, min_years),
        status=status,
        openings=rng.choice((1, 1, 2)),
        priority=priority,
        created_at=created,
        opened_at=opened,
        closed_at=b.ago(days * 0.1) if status in ("filled", "closed") else None,
    )


_MISSIONS = (
    "own a product area end to end, from discovery to the numbers after launch",
    "help us scale from our first thousand customers to our first hundred thousand",
    "raise the bar for quality and speed across a fast-growing team",
    "turn a messy, high-stakes problem into a calm, repeatable process",
    "partner with leadership on the roadmap that decides next year's growth",
)
_PERKS = (
    "Equity for every employee",
    "Flexible hours and a remote-friendly culture",
    "Learning budget of $2,000 a year",
    "Top-tier health, dental and vision cover",
    "Four weeks of paid time off",
    "Home-office stipend",
)


def _description(
    rng: random.Random,
    title: str,
    family: str,
    required: list[str],
    nice: list[str],
    min_years: int,
) -> str:
    duties = rng.sample(("Own", "Improve", "Shape", "Lead the work on", "Scale", "Simplify"), 3)
    objects = rng.sample(
        (
            "the systems our customers rely on every day",
            "a new product line",
            "the team's roadmap for the next two quarters",
            "our core metrics and reporting",
            "the processes that let us grow without chaos",
            "the experience of our largest accounts",
        ),
        3,
    )
    return (
        f"As our {title} you will {rng.choice(_MISSIONS)}. You will join the {family} team and work "
        f"closely with {rng.choice(('product', 'engineering', 'sales', 'operations', 'the founders'))}.\n\n"
        "What you'll do\n" + "\n".join(f"- {v} {o}." for v, o in zip(duties, objects)) + "\n\n"
        f"What you bring\n- {min_years}+ years of experience in {family.lower()}.\n"
        f"- Hands-on with {', '.join(required[:-1])} and {required[-1]}.\n"
        f"- Clear written communication and a bias for action.\n\n"
        f"Nice to have\n- {', '.join(nice)}.\n\n"
        "Why join\n" + "\n".join(f"- {p}." for p in rng.sample(_PERKS, 3))
    )


def _assign(b: Builder, job: int, recruiter: int, days: float) -> None:
    b.add(
        t.assignments,
        job_id=job,
        recruiter_id=recruiter,
        recruiter_share_pct=b.rng.choice((50.0, 60.0, 70.0)),
        status="active",
        created_at=b.ago(days),
    )


def _subscription(b: Builder, company: int, plan: str, used: int) -> None:
    price, seats = PLANS[plan]
    b.add(
        t.subscriptions,
        company_id=company,
        plan=plan,
        seats=max(seats, used),
        seats_used=used,
        monthly_usd=price * max(seats, used),
        status="active",
        started_at=b.ago(b.rng.randint(60, 700)),
        renews_at=b.ago(-b.rng.randint(5, 300)),
    )


def _people(
    b: Builder,
    fake: Faker,
    families: list[str],
    count: int,
    year: int,
    first: tuple[str, str, str] | None = None,
    min_years: int = 1,
) -> list[int]:
    ids = []
    for i in range(count):
        family = families[i % len(families)]
        kw: dict[str, Any] = {"name": first[0], "email": first[1]} if first and i == 0 else {}
        fam = first[2] if first and i == 0 else family
        person = make_person(fake, b.rng, i, fam, min_years=min_years, year_now=year, **kw)
        ids.append(b.candidate(person, b.rng.uniform(3, 120)))
    return ids


def _team(b: Builder, job_id: int) -> list[tuple[str, str]]:
    company = b.get(t.jobs, job_id)["company_id"]
    return [
        (u["name"], u["email"])
        for u in b.rows[t.users]
        if u["company_id"] == company and u["role"] in ("company_admin", "founder")
    ][:2]


def _recent_emails(b: Builder, apps: list[int], limit: int) -> None:
    for app_id in sorted(apps, key=lambda a: b.get(t.applications, a)["updated_at"])[-limit:]:
        app = b.get(t.applications, app_id)
        job, cand = b.get(t.jobs, app["job_id"]), b.get(t.candidates, app["candidate_id"])
        ctx = {
            "candidate_name": cand["name"],
            "candidate_email": cand["email"],
            "job_title": job["title"],
            "company_name": b.get(t.companies, job["company_id"])["name"],
            "headline": cand["headline"],
            "team": _team(b, job["id"]),
        }
        b.email("application.created", app["created_at"], **ctx)
        if app["stage"] != "applied":
            b.email(
                "application.moved",
                app["updated_at"],
                from_stage="applied",
                to_stage=app["stage"],
                **ctx,
            )


def agency(b: Builder, fake: Faker, year: int) -> None:
    rng = b.rng
    inds = rng.sample(INDUSTRIES, 4)
    taken: set[str] = set()
    comps = [
        _company(
            b,
            fake,
            company_name(rng, inds[i], taken),
            inds[i],
            rng.choice(("51-200", "201-500", "501-1000")),
            600,
        )
        for i in range(4)
    ]
    _staff(
        b, "Priya Nair", "priya.nair@client.example", "company_admin", "Head of People", comps[0]
    )
    for i in range(4):
        n = f"{fake.first_name()} {fake.last_name()}"
        _staff(b, n, email_for(n, i, "client.example"), "company_admin", "Talent Lead", comps[i])
    specs = [
        ["Engineering", "Data & AI"],
        ["Sales", "Marketing", "Customer Success"],
        ["Product & Design", "Finance", "People & Operations"],
    ]
    recs = [
        _recruiter(
            b,
            "Jordan Reyes",
            "jordan.reyes@northbridge.example",
            "Northbridge Talent",
            specs[0],
            "Ex-engineer turned tech recruiter; 9 years placing engineers.",
        )
    ]
    for i in (1, 2):
        n = f"{fake.first_name()} {fake.last_name()}"
        recs.append(
            _recruiter(
                b,
                n,
                email_for(n, i, "recruit.example"),
                f"{fake.last_name()} Search",
                specs[i],
                f"Independent recruiter focused on {', '.join(specs[i])}.",
            )
        )
    families = [
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
    jobs = []
    for i, fam in enumerate(families):
        jid = _job(b, fake, comps[i % 4], fam, "open", rng.uniform(10, 45))
        _assign(b, jid, next(r for r, s in zip(recs, specs) if fam in s), 9)
        jobs.append(jid)
    for comp in comps:
        _subscription(b, comp, rng.choice(("Starter", "Growth")), rng.randint(3, 5))
    cands = _people(
        b,
        fake,
        sorted(set(families)) * 2,
        50,
        year,
        ("Sam Carter", "sam.carter@mail.example", "Engineering"),
    )
    stages = (
        ["applied"] * 7
        + ["screening"] * 6
        + ["interview"] * 5
        + ["offer"] * 3
        + ["hired"] * 2
        + ["rejected"] * 2
    )
    apps = [
        b.application(jobs[0], cands[0], "interview", start_days_ago=12, recruiter_id=recs[0]),
        b.application(
            jobs[1], cands[0], "applied", start_days_ago=2, recruiter_id=None, source="Job board"
        ),
    ]
    stages.remove("interview")
    stages.remove("applied")
    rng.shuffle(stages)
    pairs = [
        (j, c)
        for c in cands[1:]
        for j in jobs
        if b.get(t.jobs, j)["family"] == b.get(t.candidates, c)["family"]
    ]
    for stage, (job, cand) in zip(stages, rng.sample(pairs, len(stages))):
        rec = next(a["recruiter_id"] for a in b.rows[t.assignments] if a["job_id"] == job)
        apps.append(
            b.application(job, cand, stage, start_days_ago=rng.uniform(3, 30), recruiter_id=rec)
        )
    _recent_emails(b, apps, 8)


def enterprise(b: Builder, fake: Faker, year: int) -> None:
    rng = b.rng
    comp = _company(b, fake, "Northwind Global", "Logistics", "10,000+", 3000)
    admins = [
        _staff(
            b,
            "Dana Whitfield",
            "dana.whitfield@northwind.example",
            "company_admin",
            "Head of Talent Acquisition",
            comp,
        ),
        _staff(
            b,
            "Grace Okafor",
            "grace.okafor@northwind.example",
            "company_admin",
            "Finance Director",
            comp,
        ),
        _staff(
            b,
            "Omar Haddad",
            "omar.haddad@northwind.example",
            "company_admin",
            "HR Operations Lead",
            comp,
        ),
    ]
    sizes = {
        "Engineering": 14,
        "Data & AI": 8,
        "Product & Design": 6,
        "Sales": 10,
        "Marketing": 6,
        "Customer Success": 6,
        "Finance": 5,
        "People & Operations": 5,
    }
    managers: dict[str, int] = {}
    depts: dict[str, int] = {}
    for fam in sizes:
        n, title = (
            ("Marcus Lee", "VP Engineering")
            if fam == "Engineering"
            else (f"{fake.first_name()} {fake.last_name()}", f"Head of {fam}")
        )
        email = (
            "marcus.lee@northwind.example"
            if fam == "Engineering"
            else email_for(n, len(managers), "northwind.example")
        )
        managers[fam] = _staff(b, n, email, "hiring_manager", title, comp)
        depts[fam] = b.add(
            t.departments,
            company_id=comp,
            name=fam,
            budget_k=rng.randint(8, 60) * 100,
            head_user_id=managers[fam],
        )
    recs = [
        _recruiter(
            b,
            "Elena Novak",
            "elena.novak@northwind.example",
            "Northwind Talent",
            ["Engineering", "Data & AI", "Product & Design"],
            "Senior talent partner for R&D.",
        )
    ]
    rec_specs = [["Engineering", "Data & AI", "Product & Design"]]
    for i, spec in enumerate(
        [
            ["Sales", "Marketing", "Customer Success"],
            ["Finance", "People & Operations"],
            ["Engineering"],
            ["Data & AI"],
            ["Sales"],
        ]
    ):
        n = f"{fake.first_name()} {fake.last_name()}"
        agency_name = "Northwind Talent" if i < 2 else f"{fake.last_name()} Partners"
        recs.append(
            _recruiter(
                b,
                n,
                email_for(n, i, "northwind.example" if i < 2 else "partners.example"),
                agency_name,
                spec,
                f"Specialist in {', '.join(spec)} hiring.",
            )
        )
        rec_specs.append(spec)
    statuses = (
        ["open"] * 38 + ["pending_approval"] * 10 + ["draft"] * 4 + ["filled"] * 5 + ["closed"] * 3
    )
    rng.shuffle(statuses)
    if (
        "pending_approval" not in statuses[:14]
    ):  # the VP Engineering persona has a requisition to approve
        k = statuses.index("pending_approval")
        statuses[0], statuses[k] = statuses[k], statuses[0]
    jobs: list[int] = []
    pending = 0
    for fam, size in sizes.items():
        for _ in range(size):
            status = statuses[len(jobs)]
            jid = _job(
                b,
                fake,
                comp,
                fam,
                status,
                rng.uniform(5, 120),
                dept=depts[fam],
                manager=managers[fam],
            )
            jobs.append(jid)
            chain = [
                ("Hiring manager", managers[fam]),
                ("Finance", admins[1]),
                ("Talent Acquisition", admins[0]),
            ]
            done = {"draft": 0, "pending_approval": pending % 3 if fam != "Engineering" else 0}.get(
                status, 3
            )
            pending += status == "pending_approval"
            if status == "draft":
                continue
            for step, (label, who) in enumerate(chain, start=1):
                state = (
                    "approved" if step <= done else ("pending" if step == done + 1 else "waiting")
                )
                b.add(
                    t.job_approvals,
                    job_id=jid,
                    step=step,
                    label=label,
                    approver_id=who,
                    status=state,
                    note="Budgeted headcount" if state == "approved" else "",
                    decided_at=b.ago(rng.uniform(1, 4)) if state == "approved" else None,
                )
            for r, spec in zip(recs, rec_specs):
                if fam in spec and status != "pending_approval":
                    _assign(b, jid, r, 20)
    _subscription(b, comp, "Enterprise", 96)
    weights = {
        "Engineering": 4,
        "Data & AI": 3,
        "Sales": 3,
        "Product & Design": 2,
        "Marketing": 2,
        "Customer Success": 2,
        "Finance": 1,
        "People & Operations": 1,
    }
    fams = [f for f, w in weights.items() for _ in range(w)]
    cands = _people(
        b, fake, fams, 240, year, ("Chris Patel", "chris.patel@mail.example", "Data & AI")
    )
    live = [j for j in jobs if b.get(t.jobs, j)["status"] in ("open", "filled", "closed")]
    by_family: dict[str, list[int]] = {}
    for c in cands:
        by_family.setdefault(b.get(t.candidates, c)["family"], []).append(c)
    pairs = sorted(
        {
            (j, c)
            for j in live
            for c in rng.sample(
                by_family[b.get(t.jobs, j)["family"]],
                min(14, len(by_family[b.get(t.jobs, j)["family"]])),
            )
        }
    )
    chris = [p for p in pairs if p[1] == cands[0]][:2]  # the candidate persona has applications
    chosen = chris + rng.sample([p for p in pairs if p not in chris], 480 - len(chris))
    apps = []
    filled_hired: set[int] = set()
    for job, cand in chosen:
        status = b.get(t.jobs, job)["status"]
        if status == "filled" and job not in filled_hired:
            stage = "hired"
            filled_hired.add(job)
        else:
            stage = rng.choices(
                ["applied", "screening", "interview", "offer", "hired", "rejected"],
                [30, 20, 15, 5, 3, 27],
            )[0]
        rec = next((a["recruiter_id"] for a in b.rows[t.assignments] if a["job_id"] == job), None)
        apps.append(
            b.application(
                job,
                cand,
                stage,
                start_days_ago=rng.uniform(4, 90),
                step_days=(2, 9),
                recruiter_id=rec,
                source=rng.choice(("Recruiter", "Referral", "Careers site", "LinkedIn")),
            )
        )
    _recent_emails(b, apps, 12)


def startup(b: Builder, fake: Faker, year: int) -> None:
    rng = b.rng
    comp = _company(b, fake, "Lumen Labs", "Climate tech", "11-50", 400)
    _staff(b, "Alex Morgan", "alex.morgan@lumenlabs.example", "founder", "Co-founder & CEO", comp)
    cto = _staff(
        b, "Riley Chen", "riley.chen@lumenlabs.example", "hiring_manager", "Co-founder & CTO", comp
    )
    _staff(
        b,
        "Sasha Ortiz",
        "sasha.ortiz@lumenlabs.example",
        "company_admin",
        "Operations & People",
        comp,
    )
    recs = [
        _recruiter(
            b,
            "Taylor Kim",
            "taylor.kim@foundry-talent.example",
            "Foundry Talent",
            ["Engineering", "Data & AI", "Product & Design"],
            "Fractional talent partner for seed-stage startups.",
        ),
        _recruiter(
            b,
            f"{fake.first_name()} {fake.last_name()}",
            "growth.partner@recruit.example",
            f"{fake.last_name()} & Co",
            ["Marketing", "Sales"],
            "Growth and GTM hiring.",
        ),
    ]
    roles = [
        ("Engineering", "Founding Engineer", "Senior"),
        ("Data & AI", "Machine Learning Engineer", "Senior"),
        ("Product & Design", "Founding Product Designer", "Senior"),
        ("Marketing", "Head of Growth", "Lead"),
    ]
    jobs = []
    for fam, title, level in roles:
        jid = _job(
            b,
            fake,
            comp,
            fam,
            "open",
            rng.uniform(8, 20),
            manager=cto,
            level=level,
            title=title,
            priority="critical",
        )
        _assign(b, jid, recs[0] if fam != "Marketing" else recs[1], 8)
        jobs.append(jid)
    _subscription(b, comp, "Starter", 4)
    cands = []
    for i in range(20):
        fam, _, _ = roles[i % 4]
        req = b.get(t.jobs, jobs[i % 4])["required_skills"].split(", ")
        must = req if i % 5 != 4 else req[:2]
        kw: dict[str, Any] = (
            {"name": "Jamie Rivera", "email": "jamie.rivera@mail.example"} if i == 0 else {}
        )
        person = make_person(
            fake, rng, i, fam, min_years=5, max_years=14, must_skills=must, year_now=year, **kw
        )
        person.title = f"{seniority(person.years)} {person.title.split(' ', 1)[-1]}".strip()
        cands.append(b.candidate(person, rng.uniform(1, 14)))
    stages = [
        "interview",
        "applied",
        "applied",
        "applied",
        "screening",
        "screening",
        "screening",
        "screening",
        "screening",
        "interview",
        "interview",
        "interview",
        "interview",
        "interview",
        "interview",
        "interview",
        "offer",
        "offer",
        "offer",
        "offer",
        "hired",
        "rejected",
        "rejected",
        "applied",
    ]
    apps = []
    for i, stage in enumerate(stages):
        c = i if i < 20 else i - 15  # four second applications, to another critical role
        job = jobs[c % 4] if i < 20 else jobs[(c + 1) % 4]
        cand = cands[c]
        apps.append(
            b.application(
                job,
                cand,
                stage,
                start_days_ago=rng.uniform(2, 14),
                step_days=(0.3, 2.0),
                recruiter_id=recs[0] if i % 4 != 3 else recs[1],
            )
        )
    _recent_emails(b, apps, 10)


SCENARIOS: dict[str, Callable[[Builder, Faker, int], None]] = {
    "agency": agency,
    "enterprise": enterprise,
    "startup": startup,
}


def build(scenario: str, seed: int, now: datetime) -> Builder:
    fake = Faker("en_US")
    fake.seed_instance(seed)
    b = Builder(now, random.Random(seed))
    SCENARIOS[scenario](b, fake, now.year)
    return b
