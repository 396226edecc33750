"""A scenario's talent pool: candidates spread over job families, the first one a fixed persona.

The persona comes first so that the blueprint can list its e-mail and a rep can sign in as it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from faker import Faker

from splits_stack.seed.builder import Builder
from splits_stack.seed.people import make_person


class Persona(NamedTuple):
    """The fixed candidate a scenario's blueprint names: who they are and what they do."""

    name: str
    email: str
    family: str


def add_candidates(
    b: Builder, fake: Faker, families: list[str], count: int, year: int, persona: Persona
) -> list[int]:
    """`count` candidates cycling through `families`, each with a resume and a user; ids in order."""
    ids = []
    for i in range(count):
        family = families[i % len(families)]
        kw: dict[str, Any] = {"name": persona.name, "email": persona.email} if i == 0 else {}
        fam = persona.family if i == 0 else family
        person = make_person(fake, b.rng, i, fam, min_years=1, year_now=year, **kw)
        ids.append(b.candidate(person, b.rng.uniform(3, 120)))
    return ids
