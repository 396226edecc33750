"""Billing service: subscriptions, placements (fee and split) and recruiter payouts.

A placement is booked when an application reaches `hired`: the fee is the job's fee percentage of
the agreed salary (the middle of the job's band), split with the assigned recruiter by the
assignment's share; the recruiter's payout falls due 30 days later.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Select, func, select

from splits_stack import tables as t


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


def placements(engine: Engine, company_id: int | None = None) -> list[dict[str, Any]]:
    q = (
        _with_job_and_candidate(select(t.placements))
        .add_columns(
            t.companies.c.name.label("company_name"),
            t.recruiters.c.name.label("recruiter_name"),
        )
        .join(t.companies, t.companies.c.id == t.placements.c.company_id)
        .outerjoin(t.recruiters, t.recruiters.c.id == t.placements.c.recruiter_id)
        .order_by(t.placements.c.placed_at.desc())
    )
    return _rows_of(engine, q, t.placements.c.company_id, company_id)


def payouts(engine: Engine, recruiter_id: int | None = None) -> list[dict[str, Any]]:
    q = _with_job_and_candidate(
        select(t.payouts, t.recruiters.c.name.label("recruiter_name"))
        .join(t.recruiters, t.recruiters.c.id == t.payouts.c.recruiter_id)
        .join(t.placements, t.placements.c.id == t.payouts.c.placement_id)
    ).order_by(t.payouts.c.due_at.desc())
    return _rows_of(engine, q, t.payouts.c.recruiter_id, recruiter_id)


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


def _rows_of(
    engine: Engine, query: Select[Any], owner: ColumnElement[Any], owner_id: int | None
) -> list[dict[str, Any]]:
    """The rows of `query`; with an `owner_id`, only those whose `owner` column holds it."""
    if owner_id is not None:
        query = query.where(owner == owner_id)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def subscriptions(engine: Engine) -> list[dict[str, Any]]:
    q = (
        select(t.subscriptions, t.companies.c.name.label("company_name"))
        .join(t.companies, t.companies.c.id == t.subscriptions.c.company_id)
        .order_by(t.companies.c.name)
    )
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


def fee_totals(engine: Engine, company_id: int | None = None) -> dict[str, int]:
    q = select(func.coalesce(func.sum(t.placements.c.fee_amount), 0), func.count())
    if company_id is not None:
        q = q.where(t.placements.c.company_id == company_id)
    with engine.connect() as conn:
        fees, count = conn.execute(q).one()
    return {"fees": int(fees), "placements": int(count)}
