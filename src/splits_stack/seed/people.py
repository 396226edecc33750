"""Candidates and their resumes with a coherent career: titles climb, dates line up, skills recur.

Everything is drawn from one seeded `random.Random` and one seeded Faker, so the same seed gives the
same people on every machine (Faker is pinned to an exact version for that reason).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

from faker import Faker

from splits_stack.seed.achievements import achievements
from splits_stack.seed.catalog import DEGREES, FAMILIES, LOCATIONS, SCHOOLS, SOURCES
from splits_stack.seed.roles import ROLE_CORE


@dataclass
class Person:
    name: str
    email: str
    phone: str
    location: str
    family: str
    title: str
    company: str
    years: int
    skills: list[str]
    source: str
    headline: str = ""
    resume: str = ""
    extra: dict[str, str] = field(default_factory=dict)


def _slug(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum() or ch == ".")


def field_name(family: str) -> str:
    """A job family as it reads in a sentence: "Data & AI" -> "data and AI"."""
    return family.replace("&", "and").lower().replace(" ai", " AI")


def employer(fake: Faker) -> str:
    """A company name from Faker without a name twice in it ("Smith, Smith and Lee" is redrawn)."""
    name = fake.company()
    for _ in range(5):
        words = [w.lower() for w in re.findall(r"[A-Za-z]+", name)]
        if len(words) == len(set(words)):
            break
        name = fake.company()
    return name


def email_for(name: str, index: int, domain: str) -> str:
    first, _, last = name.partition(" ")
    return f"{_slug(first)}.{_slug(last.split(' ')[-1])}{index}@{domain}"


def pick_skills(
    rng: random.Random, family: str, k: int, must: list[str] | None = None
) -> list[str]:
    pool = list(FAMILIES[family].skills)
    chosen = list(must or [])
    rest = [s for s in pool if s not in chosen]
    rng.shuffle(rest)
    chosen.extend(rest[: max(0, k - len(chosen))])
    return chosen


def seniority(years: int) -> str:
    if years >= 10:
        return "Principal"
    if years >= 7:
        return "Lead"
    if years >= 5:
        return "Senior"
    return "" if years >= 2 else "Junior"


def make_person(
    fake: Faker,
    rng: random.Random,
    index: int,
    family: str,
    *,
    min_years: int = 1,
    max_years: int = 15,
    must_skills: list[str] | None = None,
    name: str | None = None,
    email: str | None = None,
    year_now: int = 2025,
    base_title: str | None = None,
) -> Person:
    """A candidate of `family`; `base_title` (a title without its level, e.g. the title of the job
    they are built for) and `must_skills` make them fit one role rather than the family at large."""
    fam = FAMILIES[family]
    years = rng.randint(min_years, max_years)
    base = base_title or rng.choice(fam.titles)
    level = seniority(years)
    title = f"{level} {base}".strip()
    full_name = name or f"{fake.first_name()} {fake.last_name()}"
    core = ROLE_CORE.get(base)
    if core and not must_skills:  # the skills that make their role, before the family's others
        must_skills = rng.sample(core, 3)
    skills = pick_skills(rng, family, rng.randint(5, 9), must_skills)
    person = Person(
        name=full_name,
        email=email
        or email_for(
            full_name, index, rng.choice(("gmail.com", "outlook.com", "proton.me", "icloud.com"))
        ),
        phone=f"+1 ({rng.randint(201, 989)}) {rng.randint(200, 999)}-{rng.randint(1000, 9999)}",
        location=rng.choice(LOCATIONS),
        family=family,
        title=title,
        company=employer(fake),
        years=years,
        skills=skills,
        source=rng.choice(SOURCES),
    )
    person.headline = f"{title} · {years} {'yr' if years == 1 else 'yrs'} · {', '.join(skills[:3])}"
    person.resume = render_resume(fake, rng, person, base, year_now)
    return person


def render_resume(
    fake: Faker, rng: random.Random, p: Person, base_title: str, year_now: int
) -> str:
    strength = rng.choice(
        (
            "calm ownership",
            "shipping fast",
            "clear communication",
            "measurable results",
            "mentoring teams",
        )
    )
    lines = [
        p.name.upper(),
        f"{p.title} | {p.location} | {p.email} | {p.phone}",
        "",
        "SUMMARY",
        (
            f"{p.title} with {p.years} {'year' if p.years == 1 else 'years'} of experience in {field_name(p.family)}, strongest in "
            f"{', '.join(p.skills[:3])}. Known for {strength} and a track record at companies "
            f"like {p.company}."
        ),
        "",
        "SKILLS",
        ", ".join(p.skills),
        "",
        "EXPERIENCE",
    ]
    remaining = max(p.years, 1)
    roles = min(4, 1 + remaining // 3)
    end: int | None = None
    claims = achievements(rng, p.family, p.skills, 3 * roles)  # all different, newest role first
    for i in range(roles):
        span = max(1, remaining // (roles - i))
        remaining -= span
        start = (end or year_now) - span
        level = seniority(remaining + span)
        title = p.title if i == 0 else f"{level} {base_title}".strip()
        company = p.company if i == 0 else employer(fake)
        when = f"{start} - {'Present' if end is None else end}"
        lines.append(f"{title}, {company} ({when})")
        told, claims = claims[: rng.randint(2, 3)], claims[3:]  # older roles may get fewer
        lines += [f"  - {claim}" for claim in told]
        end = start
    lines += [
        "",
        "EDUCATION",
        f"{rng.choice(DEGREES[p.family])}, {rng.choice(SCHOOLS)} ({(end or year_now) - rng.randint(0, 2)})",
    ]
    return "\n".join(lines) + "\n"
