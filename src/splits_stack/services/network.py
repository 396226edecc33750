"""Network service: independent recruiters, their specialisations, job assignments and split terms.

The directory and the split terms (percentages) are the marketplace's public face; the money is not:
company staff see what each recruiter placed and earned at their company and the terms of their own
jobs, a recruiter sees their own earnings only (`Scope`, services/readapi.py).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, select

from splits_stack import tables as t
from splits_stack.services.readapi import Scope, job_visible, placement_visible


def recruiters(engine: Engine, scope: Scope = Scope.WHOLE) -> list[dict[str, Any]]:
    placed = (
        select(
            t.placements.c.recruiter_id,
            func.count().label("placements"),
            func.sum(t.placements.c.recruiter_amount).label("earned"),
        )
        .where(placement_visible(scope))
        .group_by(t.placements.c.recruiter_id)
        .subquery()
    )
    q = (
        select(
            t.recruiters,
            func.coalesce(placed.c.placements, 0).label("placements"),
            func.coalesce(placed.c.earned, 0).label("earned"),
        )
        .outerjoin(placed, placed.c.recruiter_id == t.recruiters.c.id)
        .order_by(t.recruiters.c.id)
    )
    with engine.connect() as conn:
        out = [dict(r) for r in conn.execute(q).mappings()]
        terms = (
            conn.execute(
                select(
                    t.assignments.c.recruiter_id,
                    t.assignments.c.recruiter_share_pct,
                    t.jobs.c.id,
                    t.jobs.c.title,
                    t.jobs.c.fee_pct,
                    t.companies.c.name.label("company_name"),
                )
                .join(t.jobs, t.jobs.c.id == t.assignments.c.job_id)
                .join(t.companies, t.companies.c.id == t.jobs.c.company_id)
                .where(t.jobs.c.status == "open", job_visible(scope))
                .order_by(t.jobs.c.title)
            )
            .mappings()
            .all()
        )
    for rec in out:
        rec["assignments"] = [dict(a) for a in terms if a["recruiter_id"] == rec["id"]]
        rec["specialisations_list"] = [s for s in rec["specialisations"].split(", ") if s]
        # another recruiter's earnings are theirs: a recruiter sees only their own
        rec["private"] = scope.recruiter_id is not None and rec["id"] != scope.recruiter_id
    return out
