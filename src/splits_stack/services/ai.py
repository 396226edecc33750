"""AI service: rank candidates for a job with an explainable score.

Not a black box: the score (0-100) blends three signals a recruiter can check by eye:
- required-skill coverage (60 %): which of the job's must-have skills the candidate lists or
  mentions in the resume;
- BM25 relevance (25 %) of the candidate's skills + resume text to the job's title, required and
  nice-to-have skills, normalised by the best candidate for that job;
- experience fit (15 %): years of experience against the job's minimum.
Coverage dominates on purpose: holding the must-haves beats a long resume with the right words.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select

from splits_stack import tables as t

_TOKEN = re.compile(r"[a-z0-9][a-z0-9+#./-]*[a-z0-9+#]|[a-z0-9]")
_K1, _B = 1.5, 0.75


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


@dataclass(frozen=True)
class Profile:
    candidate_id: int
    name: str
    headline: str
    years: int
    skills: list[str]
    resume: str


@dataclass(frozen=True)
class JobSpec:
    job_id: int
    title: str
    required: list[str]
    nice: list[str]
    min_years: int


def _has(skill: str, skills: set[str], text: str) -> bool:
    s = skill.lower()
    return (
        s in skills
        or re.search(r"(?<![a-z0-9])" + re.escape(s) + r"(?![a-z0-9])", text) is not None
    )


def rank(job: JobSpec, profiles: list[Profile]) -> list[dict[str, Any]]:
    """Score every profile for `job`, best first, each with its reasons."""
    docs = [tokens(" ".join(p.skills) + " " + p.resume) for p in profiles]
    avgdl = (sum(len(d) for d in docs) / len(docs)) if docs else 1.0
    df: Counter[str] = Counter()
    for doc in docs:
        df.update(set(doc))
    query = tokens(" ".join([job.title, *job.required, *job.required, *job.nice]))
    n = len(docs)

    def bm25(doc: list[str]) -> float:
        tf = Counter(doc)
        score = 0.0
        for term in query:
            if term not in tf:
                continue
            idf = math.log(1 + (n - df[term] + 0.5) / (df[term] + 0.5))
            f = tf[term]
            score += idf * f * (_K1 + 1) / (f + _K1 * (1 - _B + _B * len(doc) / avgdl))
        return score

    raw = [bm25(d) for d in docs]
    best = max(raw, default=0.0) or 1.0
    results: list[dict[str, Any]] = []
    for p, rel in zip(profiles, raw):
        skillset = {s.lower() for s in p.skills}
        text = p.resume.lower()
        matched = [s for s in job.required if _has(s, skillset, text)]
        missing = [s for s in job.required if s not in matched]
        nice = [s for s in job.nice if _has(s, skillset, text)]
        coverage = len(matched) / len(job.required) if job.required else 1.0
        fit = 1.0 if p.years >= job.min_years else p.years / max(job.min_years, 1)
        score = 100 * (0.60 * coverage + 0.25 * rel / best + 0.15 * fit)
        exp = f"{p.years} yrs vs {job.min_years}+ required: " + (
            "meets the bar" if p.years >= job.min_years else f"{job.min_years - p.years} yrs short"
        )
        results.append(
            {
                "candidate_id": p.candidate_id,
                "name": p.name,
                "headline": p.headline,
                "score": round(score, 1),
                "reasons": {
                    "matched_required": matched,
                    "missing_required": missing,
                    "matched_nice": nice,
                    "experience": exp,
                    "relevance": round(rel / best, 3),
                },
            }
        )
    results.sort(key=lambda r: (-r["score"], r["candidate_id"]))
    return results


def _split(text: str) -> list[str]:
    return [x for x in text.split(", ") if x]


def load_job(engine: Engine, job_id: int) -> JobSpec | None:
    with engine.connect() as conn:
        row = conn.execute(select(t.jobs).where(t.jobs.c.id == job_id)).mappings().first()
    if row is None:
        return None
    return JobSpec(
        row["id"],
        row["title"],
        _split(row["required_skills"]),
        _split(row["nice_skills"]),
        row["min_years"],
    )


def load_profiles(engine: Engine) -> list[Profile]:
    q = (
        select(
            t.candidates.c.id,
            t.candidates.c.name,
            t.candidates.c.headline,
            t.candidates.c.years_experience,
            t.candidates.c.skills,
            t.resumes.c.body,
        )
        .outerjoin(t.resumes, t.resumes.c.candidate_id == t.candidates.c.id)
        .order_by(t.candidates.c.id, t.resumes.c.id)
    )
    merged: dict[int, Profile] = {}
    with engine.connect() as conn:
        for r in conn.execute(q):
            prev = merged.get(r.id)
            body = (prev.resume + "\n" if prev else "") + (r.body or "")
            merged[r.id] = Profile(
                r.id,
                r.name,
                r.headline,
                r.years_experience,
                [s for s in r.skills.split(", ") if s],
                body,
            )
    return list(merged.values())


def matches(engine: Engine, job_id: int) -> list[dict[str, Any]] | None:
    job = load_job(engine, job_id)
    if job is None:
        return None
    return rank(job, load_profiles(engine))
