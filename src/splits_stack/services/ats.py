"""ATS service: jobs and their pipeline, candidates, applications and their stage history.

Writes (apply, move a card) commit first and then publish the domain event, so the notification
service never e-mails about something that was rolled back.

Reads take the viewer's `Scope` (services/readapi.py; the default is the whole demo, the rep's):
a record outside it is `NotFound`, exactly like one that does not exist, so a page answers 404 and
never tells another company's job or candidate apart from a missing one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, or_, select, update

from splits_stack import tables as t
from splits_stack.services.billing import _new_id, book_placement
from splits_stack.services.events import EventBus
from splits_stack.services.pipeline import ALL_STAGES, InvalidMove, check_move
from splits_stack.services.readapi import Scope, candidate_visible, job_visible

WHOLE = Scope.WHOLE


class NotFound(LookupError):
    """The requested record does not exist."""


def _one(conn: Connection, query: Any) -> dict[str, Any]:
    row = conn.execute(query).mappings().first()
    if row is None:
        raise NotFound("not found")
    return dict(row)


def event_context(conn: Connection, app_id: int) -> dict[str, Any]:
    q = (
        select(
            t.candidates.c.name.label("candidate_name"),
            t.candidates.c.email.label("candidate_email"),
            t.candidates.c.headline,
            t.jobs.c.title.label("job_title"),
            t.jobs.c.id.label("job_id"),
            t.companies.c.name.label("company_name"),
            t.companies.c.id.label("company_id"),
        )
        .select_from(t.applications)
        .join(t.candidates, t.candidates.c.id == t.applications.c.candidate_id)
        .join(t.jobs, t.jobs.c.id == t.applications.c.job_id)
        .join(t.companies, t.companies.c.id == t.jobs.c.company_id)
        .where(t.applications.c.id == app_id)
    )
    ctx = _one(conn, q)
    team = conn.execute(
        select(t.users.c.name, t.users.c.email)
        .where(
            t.users.c.company_id == ctx["company_id"],
            t.users.c.role.in_(("company_admin", "founder")),
        )
        .order_by(t.users.c.id)
        .limit(2)
    ).all()
    ctx["team"] = [(n, e) for n, e in team]
    ctx["application_id"] = app_id
    return ctx


def job(engine: Engine, job_id: int, scope: Scope = WHOLE) -> dict[str, Any]:
    with engine.connect() as conn:
        row = _one(
            conn,
            select(
                t.jobs,
                t.companies.c.name.label("company_name"),
                t.departments.c.name.label("department"),
            )
            .join(t.companies, t.companies.c.id == t.jobs.c.company_id)
            .outerjoin(t.departments, t.departments.c.id == t.jobs.c.department_id)
            .where(t.jobs.c.id == job_id, job_visible(scope)),
        )
        row["approvals"] = [
            dict(r)
            for r in conn.execute(
                select(t.job_approvals, t.users.c.name.label("approver"))
                .join(t.users, t.users.c.id == t.job_approvals.c.approver_id)
                .where(t.job_approvals.c.job_id == job_id)
                .order_by(t.job_approvals.c.step)
            ).mappings()
        ]
        row["recruiters"] = [
            dict(r)
            for r in conn.execute(
                select(
                    t.recruiters.c.id,
                    t.recruiters.c.name,
                    t.recruiters.c.agency,
                    t.assignments.c.recruiter_share_pct,
                )
                .join(t.assignments, t.assignments.c.recruiter_id == t.recruiters.c.id)
                .where(t.assignments.c.job_id == job_id)
            ).mappings()
        ]
    return row


def pipeline(engine: Engine, job_id: int) -> dict[str, list[dict[str, Any]]]:
    q = (
        select(
            t.applications,
            t.candidates.c.name,
            t.candidates.c.headline,
            t.candidates.c.years_experience,
            t.recruiters.c.name.label("recruiter"),
        )
        .join(t.candidates, t.candidates.c.id == t.applications.c.candidate_id)
        .outerjoin(t.recruiters, t.recruiters.c.id == t.applications.c.recruiter_id)
        .where(t.applications.c.job_id == job_id)
        .order_by(t.applications.c.updated_at.desc())
    )
    board: dict[str, list[dict[str, Any]]] = {s: [] for s in ALL_STAGES}
    with engine.connect() as conn:
        for row in conn.execute(q).mappings():
            board[row["stage"]].append(dict(row))
    return board


def jobs_overview(
    engine: Engine,
    *,
    company_id: int | None = None,
    status: str | None = None,
    q: str = "",
    department_id: int | None = None,
    scope: Scope = WHOLE,
) -> list[dict[str, Any]]:
    counts = (
        select(t.applications.c.job_id, func.count().label("applicants"))
        .where(t.applications.c.stage != "rejected")
        .group_by(t.applications.c.job_id)
        .subquery()
    )
    query = (
        select(
            t.jobs,
            t.companies.c.name.label("company_name"),
            t.departments.c.name.label("department"),
            func.coalesce(counts.c.applicants, 0).label("applicants"),
        )
        .join(t.companies, t.companies.c.id == t.jobs.c.company_id)
        .outerjoin(t.departments, t.departments.c.id == t.jobs.c.department_id)
        .outerjoin(counts, counts.c.job_id == t.jobs.c.id)
        .where(job_visible(scope))
        .order_by(t.jobs.c.created_at.desc())
    )
    if company_id is not None:
        query = query.where(t.jobs.c.company_id == company_id)
    if department_id is not None:
        query = query.where(t.jobs.c.department_id == department_id)
    if status:
        query = query.where(t.jobs.c.status == status)
    if q:
        like = f"%{q.lower()}%"
        query = query.where(
            or_(
                func.lower(t.jobs.c.title).like(like),
                func.lower(t.jobs.c.required_skills).like(like),
                func.lower(t.companies.c.name).like(like),
                func.lower(t.jobs.c.location).like(like),
            )
        )
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def candidates_overview(
    engine: Engine, q: str = "", limit: int = 300, scope: Scope = WHOLE
) -> list[dict[str, Any]]:
    apps = (
        select(t.applications.c.candidate_id, func.count().label("applications"))
        .join(t.jobs, t.jobs.c.id == t.applications.c.job_id)
        .where(job_visible(scope))  # count only the applications this viewer may see
        .group_by(t.applications.c.candidate_id)
        .subquery()
    )
    query = (
        select(t.candidates, func.coalesce(apps.c.applications, 0).label("applications"))
        .outerjoin(apps, apps.c.candidate_id == t.candidates.c.id)
        .where(candidate_visible(scope))
        .order_by(t.candidates.c.name)
        .limit(limit)
    )
    if q:
        like = f"%{q.lower()}%"
        query = query.where(
            or_(
                func.lower(t.candidates.c.name).like(like),
                func.lower(t.candidates.c.skills).like(like),
                func.lower(t.candidates.c.headline).like(like),
            )
        )
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def candidate(engine: Engine, cand_id: int, scope: Scope = WHOLE) -> dict[str, Any]:
    with engine.connect() as conn:
        row = _one(
            conn,
            select(t.candidates).where(t.candidates.c.id == cand_id, candidate_visible(scope)),
        )
        row["resumes"] = [
            dict(r)
            for r in conn.execute(
                select(t.resumes)
                .where(t.resumes.c.candidate_id == cand_id)
                .order_by(t.resumes.c.id)
            ).mappings()
        ]
        row["applications"] = applications_of(conn, cand_id, scope)
    return row


def applications_of(conn: Connection, cand_id: int, scope: Scope = WHOLE) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(
            t.applications,
            t.jobs.c.title.label("job_title"),
            t.companies.c.name.label("company_name"),
            t.jobs.c.location,
        )
        .join(t.jobs, t.jobs.c.id == t.applications.c.job_id)
        .join(t.companies, t.companies.c.id == t.jobs.c.company_id)
        .where(t.applications.c.candidate_id == cand_id, job_visible(scope))
        .order_by(t.applications.c.created_at.desc())
    ).mappings()
    out = []
    for r in rows:
        item = dict(r)
        item["history"] = [
            dict(h)
            for h in conn.execute(
                select(t.application_moves)
                .where(t.application_moves.c.application_id == r["id"])
                .order_by(t.application_moves.c.moved_at, t.application_moves.c.id)
            ).mappings()
        ]
        out.append(item)
    return out


def my_applications(engine: Engine, cand_id: int) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return applications_of(conn, cand_id)


def resume(engine: Engine, resume_id: int, scope: Scope = WHOLE) -> dict[str, Any]:
    with engine.connect() as conn:
        return _one(
            conn,
            select(t.resumes, t.candidates.c.name)
            .join(t.candidates, t.candidates.c.id == t.resumes.c.candidate_id)
            .where(t.resumes.c.id == resume_id, candidate_visible(scope)),
        )


def apply(
    engine: Engine,
    bus: EventBus,
    *,
    job_id: int,
    cand_id: int,
    resume_id: int | None,
    upload: tuple[str, str] | None = None,
) -> int:
    """Create an application (optionally with a newly uploaded resume) and announce it."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        status = conn.execute(select(t.jobs.c.status).where(t.jobs.c.id == job_id)).scalar()
        if status != "open":
            raise InvalidMove("this job is not open for applications")
        dup = conn.execute(
            select(t.applications.c.id).where(
                t.applications.c.job_id == job_id, t.applications.c.candidate_id == cand_id
            )
        ).scalar()
        if dup is not None:
            raise InvalidMove("you already applied to this job")
        if upload is not None:
            filename, body = upload
            resume_id = _new_id(
                conn.execute(
                    t.resumes.insert().values(
                        candidate_id=cand_id,
                        title=filename.rsplit(".", 1)[0][:200] or "Uploaded resume",
                        kind="uploaded",
                        filename=filename[:200],
                        body=body,
                        created_at=now,
                    )
                )
            )
        elif resume_id is not None:
            owner = conn.execute(
                select(t.resumes.c.candidate_id).where(t.resumes.c.id == resume_id)
            ).scalar()
            if owner != cand_id:
                raise InvalidMove("pick one of your own resumes")
        app_id = _new_id(
            conn.execute(
                t.applications.insert().values(
                    job_id=job_id,
                    candidate_id=cand_id,
                    recruiter_id=None,
                    resume_id=resume_id,
                    stage="applied",
                    source="Careers site",
                    created_at=now,
                    updated_at=now,
                )
            )
        )
        conn.execute(
            t.application_moves.insert().values(
                application_id=app_id,
                from_stage=None,
                to_stage="applied",
                moved_by=None,
                moved_at=now,
            )
        )
        ctx = event_context(conn, app_id)
    bus.publish("application.created", ctx)
    return app_id


def move(
    engine: Engine,
    bus: EventBus,
    *,
    app_id: int,
    to_stage: str,
    user_id: int | None,
    scope: Scope = WHOLE,
) -> dict[str, Any]:
    """Move an application to `to_stage`, keep its history, book a placement on hire.
    Only on a job the mover may see: another company's card is `NotFound`."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        app = _one(
            conn,
            select(t.applications)
            .join(t.jobs, t.jobs.c.id == t.applications.c.job_id)
            .where(t.applications.c.id == app_id, job_visible(scope)),
        )
        check_move(app["stage"], to_stage)
        conn.execute(
            update(t.applications)
            .where(t.applications.c.id == app_id)
            .values(stage=to_stage, updated_at=now)
        )
        conn.execute(
            t.application_moves.insert().values(
                application_id=app_id,
                from_stage=app["stage"],
                to_stage=to_stage,
                moved_by=user_id,
                moved_at=now,
            )
        )
        ctx = event_context(conn, app_id)
        placement = book_placement(conn, app_id, now) if to_stage == "hired" else None
    bus.publish("application.moved", {**ctx, "from_stage": app["stage"], "to_stage": to_stage})
    if placement:
        bus.publish("placement.made", {**ctx, **placement})
    return {"id": app_id, "from_stage": app["stage"], "stage": to_stage, "job_id": app["job_id"]}


def prospect(engine: Engine, fallback: str = "") -> dict[str, Any] | None:
    """The prospect's company: the one the prospect transform marked, else a company named like
    `fallback` (the demo's DEMO_PROSPECT_COMPANY); `{"id": None, "name": fallback}` when none of
    the seeded companies carries that name yet; None when the demo has no prospect."""
    with engine.connect() as conn:
        row = (
            conn.execute(
                select(t.companies.c.id, t.companies.c.name)
                .where(t.companies.c.is_prospect.is_(True))
                .order_by(t.companies.c.id)
            )
            .mappings()
            .first()
        )
        if row is None and fallback:
            row = (
                conn.execute(
                    select(t.companies.c.id, t.companies.c.name).where(
                        func.lower(t.companies.c.name) == fallback.lower()
                    )
                )
                .mappings()
                .first()
            )
    if row is not None:
        return dict(row)
    return {"id": None, "name": fallback} if fallback else None


def company_name(engine: Engine, company_id: int) -> str | None:
    with engine.connect() as conn:
        name = conn.execute(
            select(t.companies.c.name).where(t.companies.c.id == company_id)
        ).scalar()
    return str(name) if name is not None else None
