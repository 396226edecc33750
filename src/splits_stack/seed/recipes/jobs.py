"""Job postings: level, salary band, skills and a readable description drawn from the job family.

Every recipe posts its jobs through `add_job`, so the job board reads alike across scenarios while
the counts, statuses and owners stay each recipe's own.
"""

from __future__ import annotations

import random

from splits_stack import tables as t
from splits_stack.seed.builder import Builder
from splits_stack.seed.catalog import FAMILIES, LOCATIONS
from splits_stack.seed.people import field_name, pick_skills
from splits_stack.seed.roles import ROLE_CORE

MIN_YEARS_BY_LEVEL = {"Junior": 0, "Mid": 2, "Senior": 5, "Staff": 8, "Lead": 7, "Principal": 10}


def add_job(
    b: Builder,
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
    role: str | None = None,
) -> int:
    """A job created `days` ago; opened and closed dates follow from its `status`. `title` is the
    whole title; `role` only the title without its level (drawn from the family if neither)."""
    fam, rng = FAMILIES[family], b.rng
    level = level or rng.choice(("Mid", "Senior", "Senior", "Staff", "Lead"))
    min_years = MIN_YEARS_BY_LEVEL[level]
    bare = title or role or rng.choice(fam.titles)
    base = title or f"{'' if level == 'Mid' else level + ' '}{bare}"
    core = ROLE_CORE.get(bare)
    skills = pick_skills(rng, family, 7, rng.sample(core, 4) if core else None)
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
        f"What you bring\n- {min_years}+ years of experience in {field_name(family)}.\n"
        f"- Hands-on with {', '.join(required[:-1])} and {required[-1]}.\n"
        f"- Clear written communication and a bias for action.\n\n"
        f"Nice to have\n- {', '.join(nice)}.\n\n"
        "Why join\n" + "\n".join(f"- {p}." for p in rng.sample(_PERKS, 3))
    )
