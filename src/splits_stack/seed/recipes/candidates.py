"""A scenario's talent pool: candidates spread over job families, the first one a fixed persona.

The persona comes first so that the blueprint can list its e-mail and a rep can sign in as it.
Each candidate is built for one open role of their family (its title without the level, and a few
of its required skills), the way a recruiter's talent pool really looks: people who fit the roles
being worked, so that most applications share at least two required skills with their job.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from faker import Faker

from splits_stack import tables as t
from splits_stack.seed.builder import Builder
from splits_stack.seed.people import make_person
from splits_stack.seed.roles import bare_title, compatible


class Persona(NamedTuple):
    """The fixed candidate a scenario's blueprint names: who they are and what they do."""

    name: str
    email: str
    family: str


def required(job: dict[str, Any]) -> list[str]:
    return [s for s in job["required_skills"].split(", ") if s]


def skill_fit(b: Builder, job_id: int, cand_id: int) -> int:
    """How many of the job's required skills the candidate lists."""
    skills = set(b.get(t.candidates, cand_id)["skills"].split(", "))
    return len(skills.intersection(required(b.get(t.jobs, job_id))))


def fits(b: Builder, job_id: int, cand_id: int) -> bool:
    """A credible applicant: two of the job's required skills, and a compatible role."""
    title = b.get(t.candidates, cand_id)["current_title"]
    return skill_fit(b, job_id, cand_id) >= 2 and compatible(b.get(t.jobs, job_id)["title"], title)


def add_candidates(
    b: Builder,
    fake: Faker,
    families: list[str],
    count: int,
    year: int,
    persona: Persona,
    jobs: list[int] | None = None,
) -> list[int]:
    """`count` candidates cycling through `families`, each with a resume and a user; ids in order.
    With `jobs`, each is built for one of them of their family (the persona for the first two)."""
    by_family: dict[str, list[dict[str, Any]]] = {}
    for job_id in jobs or []:
        job = b.get(t.jobs, job_id)
        by_family.setdefault(job["family"], []).append(job)
    ids: list[int] = []
    dealt: dict[str, int] = {}
    for i in range(count):
        family = persona.family if i == 0 else families[i % len(families)]
        kw: dict[str, Any] = {"name": persona.name, "email": persona.email} if i == 0 else {}
        roles = by_family.get(family, [])
        if roles:
            targets = roles[:2] if i == 0 else [roles[dealt.get(family, 0) % len(roles)]]
            dealt[family] = dealt.get(family, 0) + (i > 0)  # round-robin: every role gets people
            must: list[str] = []
            for job in targets:
                wanted = required(job)
                for skill in b.rng.sample(wanted, min(len(wanted), b.rng.choice((2, 3, 3, 4)))):
                    if skill not in must:
                        must.append(skill)
            kw.update(must_skills=must, base_title=bare_title(targets[0]["title"]))
        person = make_person(fake, b.rng, i, family, min_years=1, year_now=year, **kw)
        ids.append(b.candidate(person, b.rng.uniform(3, 120)))
    return ids
