"""Multi-step job approval (enterprise): hiring manager -> finance -> talent acquisition.

A job waits in `pending_approval` while one step is `pending`; approving it makes the next step
pending, approving the last step opens the job; rejecting any step sends the job back to draft.
The queue and the decisions stay within the viewer's company (`Scope`, services/readapi.py): a step
of another company's job is "not waiting for a decision" as far as they can tell.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select, update

from splits_stack import tables as t
from splits_stack.services.pipeline import InvalidMove
from splits_stack.services.readapi import Scope, job_visible


def queue(
    engine: Engine, approver_id: int | None = None, scope: Scope = Scope.WHOLE
) -> list[dict[str, Any]]:
    q = (
        select(
            t.job_approvals,
            t.jobs.c.title,
            t.jobs.c.salary_min,
            t.jobs.c.salary_max,
            t.jobs.c.created_at.label("requested_at"),
            t.departments.c.name.label("department"),
            t.users.c.name.label("approver"),
        )
        .join(t.jobs, t.jobs.c.id == t.job_approvals.c.job_id)
        .join(t.users, t.users.c.id == t.job_approvals.c.approver_id)
        .outerjoin(t.departments, t.departments.c.id == t.jobs.c.department_id)
        .where(t.job_approvals.c.status == "pending", job_visible(scope))
        .order_by(t.jobs.c.created_at)
    )
    if approver_id is not None:
        q = q.where(t.job_approvals.c.approver_id == approver_id)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


def decide(
    engine: Engine,
    approval_id: int,
    *,
    approve: bool,
    note: str = "",
    scope: Scope = Scope.WHOLE,
) -> str:
    """Approve or reject one pending step; returns the job's new status."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        step = (
            conn.execute(
                select(t.job_approvals)
                .join(t.jobs, t.jobs.c.id == t.job_approvals.c.job_id)
                .where(t.job_approvals.c.id == approval_id, job_visible(scope))
            )
            .mappings()
            .first()
        )
        if step is None or step["status"] != "pending":
            raise InvalidMove("this approval step is not waiting for a decision")
        conn.execute(
            update(t.job_approvals)
            .where(t.job_approvals.c.id == approval_id)
            .values(status="approved" if approve else "rejected", decided_at=now, note=note)
        )
        if not approve:
            conn.execute(update(t.jobs).where(t.jobs.c.id == step["job_id"]).values(status="draft"))
            return "draft"
        nxt = conn.execute(
            select(t.job_approvals.c.id).where(
                t.job_approvals.c.job_id == step["job_id"],
                t.job_approvals.c.step == step["step"] + 1,
            )
        ).scalar()
        if nxt is not None:
            conn.execute(
                update(t.job_approvals).where(t.job_approvals.c.id == nxt).values(status="pending")
            )
            return "pending_approval"
        conn.execute(
            update(t.jobs).where(t.jobs.c.id == step["job_id"]).values(status="open", opened_at=now)
        )
        return "open"
