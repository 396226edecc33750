"""Companies with their staff and subscriptions, recruiters with their job assignments.

Shared by every recipe so that a company or a recruiter looks the same whichever scenario made it.
"""

from __future__ import annotations

from splits_stack import tables as t
from splits_stack.seed.builder import Builder
from splits_stack.seed.catalog import LOCATIONS, PLANS


def add_company(b: Builder, name: str, industry: str, size: str, days: float) -> int:
    """A company founded `days` ago, with a website and a one-line description."""
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


def add_staff(
    b: Builder,
    name: str,
    email: str,
    role: str,
    title: str,
    company: int | None,
    recruiter: int | None = None,
) -> int:
    """A user who works for a company (or, with `recruiter`, a recruiter's own login)."""
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


def add_recruiter(
    b: Builder, name: str, email: str, agency: str, specs: list[str], bio: str
) -> int:
    """A recruiter of `agency` working the `specs` families, with a user to sign in as."""
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
    add_staff(b, name, email, "recruiter", f"Recruiter, {agency}", None, rid)
    return rid


def assign_recruiter(b: Builder, job: int, recruiter: int, days: float) -> None:
    """Put `recruiter` on `job` with a share of the fee, `days` ago."""
    b.add(
        t.assignments,
        job_id=job,
        recruiter_id=recruiter,
        recruiter_share_pct=b.rng.choice((50.0, 60.0, 70.0)),
        status="active",
        created_at=b.ago(days),
    )


def add_subscription(b: Builder, company: int, plan: str, used: int) -> None:
    """An active subscription to `plan` with at least `used` seats."""
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
