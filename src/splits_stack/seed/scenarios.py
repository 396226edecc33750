"""The scenarios by name, and `build`: one scenario's rows drawn from one seed at one moment.

Each recipe lives in its own module under `recipes/`. Counts are exact (the blueprint's `counts`
and the tests rely on them); everything else is drawn from the seed. Personas are fixed people so
that the blueprint can list their e-mails.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime

from faker import Faker

from splits_stack.seed.builder import Builder
from splits_stack.seed.recipes.agency import agency
from splits_stack.seed.recipes.enterprise import enterprise
from splits_stack.seed.recipes.startup import startup

Recipe = Callable[[Builder, Faker, int], None]
"""Fills a `Builder` from a seeded Faker; the int is the current year, for career dates."""

SCENARIOS: dict[str, Recipe] = {
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
