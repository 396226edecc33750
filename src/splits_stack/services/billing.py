"""Billing service: subscriptions, placements (fee and split) and recruiter payouts.

A placement is booked when an application reaches `hired`: the fee is the job's fee percentage of
the agreed salary (the middle of the job's band), split with the assigned recruiter by the
assignment's share; the recruiter's payout falls due 30 days later.

Reads take the viewer's `Scope` (services/readapi.py): company staff read their company's
placements, the payouts made on them and their own subscription; a recruiter their own splits and
payouts; the rep (the default) everything.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Select, false, func, select, true

from splits_stack import tables as t
from splits_stack.services.readapi import Scope, payout_visible, placement_visible


def book_placement(conn: Connection, app_id: int, now: datetime) -> dict[str, Any] | None:
    if conn.execute(
        select(t.placements.c.id).where(t.placements.c.application_id == app_id)
    ).scalar():
        return None
    app = conn.execute(select(t.applications).where(t.applications.c.id == app_id)).mappings().one()
    job = conn.execute(select(t.jobs).where(t.jobs.c.id == app["job_id"])).mappings().one()
    assignment = (
        conn.execute(
            select(t.assignments)
            .where(t.assignments.c.job_id == job["id"])
            .order_by(t.assignments.c.id)
        )
        .mappings()
        .first()
    )
    recruiter_id = app["recruiter_id"] or (assignment["recruiter_id"] if assignment else None)
    share = float(assignment["recruiter_share_pct"]) if assignment and recruiter_id else 0.0
    salary = (job["salary_min"] + job["salary_max"]) // 2 // 1000 * 1000
    fee = int(salary * job["fee_pct"] / 100)
    rec_amount = int(fee * share / 100)
    pid = _new_id(
        conn.execute(
            t.placements.insert().values(
                application_id=app_id,
                job_id=job["id"],
                candidate_id=app["candidate_id"],
                company_id=job["company_id"],
                recruiter_id=recruiter_id,
                salary=salary,
                fee_pct=job["fee_pct"],
                fee_amount=fee,
                recruiter_share_pct=share,
                recruiter_amount=rec_amount,
                placed_at=now,
            )
        )
    )
    if recruiter_id and rec_amount:
        conn.execute(
            t.payouts.insert().values(
                placement_id=pid,
                recruiter_id=recruiter_id,
                amount=rec_amount,
                status="pending",
                due_at=now + timedelta(days=30),
                paid_at=None,
            )
        )
    return {
        "placement_id": pid,
        "salary": salary,
        "fee_amount": fee,
        "recruiter_amount": rec_amount,
    }


def _new_id(result: Any) -> int:
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def placements(engine: Engine, scope: Scope = Scope.WHOLE) -> list[dict[str, Any]]:
    q = (
        _with_job_and_candidate(select(t.placements))
        .add_columns(
            t.companies.c.name.label("company_name"),
            t.recruiters.c.name.label("recruiter_name"),
        )
        .join(t.companies, t.companies.c.id == t.placements.c.company_id)
        .outerjoin(t.recruiters, t.recruiters.c.id == t.placements.c.recruiter_id)
        .where(placement_visible(scope))
        .order_by(t.placements.c.placed_at.desc())
    )
    return _rows_of(engine, q)


def payouts(engine: Engine, scope: Scope = Scope.WHOLE) -> list[dict[str, Any]]:
    q = (
        _with_job_and_candidate(
            select(t.payouts, t.recruiters.c.name.label("recruiter_name"))
            .join(t.recruiters, t.recruiters.c.id == t.payouts.c.recruiter_id)
            .join(t.placements, t.placements.c.id == t.payouts.c.placement_id)
        )
        .where(payout_visible(scope))
        .order_by(t.payouts.c.due_at.desc())
    )
    return _rows_of(engine, q)


def _with_job_and_candidate(query: Select[Any]) -> Select[Any]:
    """`query` (which reaches `placements`) with the placed job's title and candidate's name."""
    return (
        query.add_columns(
            t.jobs.c.title.label("job_title"),
            t.candidates.c.name.label("candidate_name"),
        )
        .join(t.jobs, t.jobs.c.id == t.placements.c.job_id)
        .join(t.candidates, t.candidates.c.id == t.placements.c.candidate_id)
    )


def _rows_of(engine: Engine, query: Select[Any]) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def subscriptions(engine: Engine, scope: Scope = Scope.WHOLE) -> list[dict[str, Any]]:
    """A company's own subscription to its staff; none to recruiters or candidates."""
    if scope.company_id is not None:
        mine = t.subscriptions.c.company_id == scope.company_id
    else:
        mine = true() if scope.whole else false()
    q = (
        select(t.subscriptions, t.companies.c.name.label("company_name"))
        .join(t.companies, t.companies.c.id == t.subscriptions.c.company_id)
        .where(mine)
        .order_by(t.companies.c.name)
    )
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


def fee_totals(engine: Engine, scope: Scope = Scope.WHOLE) -> dict[str, int]:
    q = select(func.coalesce(func.sum(t.placements.c.fee_amount), 0), func.count()).where(
        placement_visible(scope)
    )
    with engine.connect() as conn:
        fees, count = conn.execute(q).one()
    return {"fees": int(fees), "placements": int(count)}
