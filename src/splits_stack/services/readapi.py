"""Read models behind the gateway's JSON API: paged lists of plain, JSON-ready dicts.

One query per resource, narrowed by `_filtered()` (the optional equality filters of the query
string) and paged by `_page()` (total, limit/offset, stable order); `jsonable()` shapes each row:
comma-separated skill columns come out as lists, timestamps as ISO 8601 strings.

`Scope` narrows every list to what one persona may see, with the same rules as the portal's pages
(the `*_visible` conditions below are shared by both): company staff see their company's jobs, the
candidates in their pipelines (and the open talent pool: candidates in nobody's pipeline), their
mail, placements and payouts; a recruiter sees the marketplace's open jobs and the jobs they work,
the talent pool, and their own placements, payouts and mail; a candidate their own applications and
the open jobs. `Scope.WHOLE` (the rep's session) sees the whole demo, which is what the blueprint's
counts count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Engine,
    Select,
    and_,
    false,
    func,
    literal,
    or_,
    select,
    true,
)

from splits_stack import tables as t

LIST_COLUMNS = {"skills", "required_skills", "nice_skills", "specialisations"}


@dataclass(frozen=True)
class Scope:
    """What one session may read: None everywhere is the whole demo (the rep)."""

    company_id: int | None = None  # company staff: their company only
    candidate_id: int | None = None  # a candidate: themselves only
    user_id: int | None = None  # anyone but the rep: the users list is theirs (or their company's)
    recruiter_id: int | None = None  # a recruiter: their own splits, payouts and work
    email: str = ""  # the persona's own address (mail addressed to them)
    WHOLE: ClassVar[Scope]

    @classmethod
    def of(cls, user: dict[str, Any] | None) -> Scope:
        """The scope of a signed-in persona; None (the rep alone) is the whole demo."""
        if user is None:
            return cls.WHOLE
        role, email = user["role"], str(user.get("email") or "")
        if role == "candidate":
            return cls(candidate_id=user.get("candidate_id") or -1, user_id=user["id"], email=email)
        if role == "recruiter":
            return cls(user_id=user["id"], recruiter_id=user.get("recruiter_id") or -1, email=email)
        return cls(company_id=user.get("company_id") or -1, user_id=user["id"], email=email)

    @property
    def candidate(self) -> bool:
        return self.candidate_id is not None

    @property
    def whole(self) -> bool:
        return self == Scope.WHOLE


Scope.WHOLE = Scope()


def jsonable(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, datetime):
            value = value.isoformat()
        elif key in LIST_COLUMNS and isinstance(value, str):
            value = [s for s in value.split(", ") if s]
        out[key] = value
    return out


def _page(
    engine: Engine, query: Select[Any], limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    with engine.connect() as conn:
        total = conn.execute(
            select(func.count()).select_from(query.order_by(None).subquery())
        ).scalar_one()
        rows = conn.execute(query.limit(limit).offset(offset)).mappings().all()
    return [jsonable(dict(r)) for r in rows], int(total)


def _filtered(
    query: Select[Any], *conditions: tuple[ColumnElement[Any], int | str | None]
) -> Select[Any]:
    """`query` narrowed to rows whose column equals the value, for each (column, value) given;
    a value of None or "" is a filter the caller did not ask for."""
    for column, value in conditions:
        if value is not None and value != "":
            query = query.where(column == value)
    return query


def _company_jobs(company_id: int) -> Select[Any]:
    return select(t.jobs.c.id).where(t.jobs.c.company_id == company_id)


def _worked_jobs(recruiter_id: int) -> CompoundSelect[Any]:
    """The jobs a recruiter works: assigned to them, or with a candidate they submitted."""
    assigned = select(t.assignments.c.job_id).where(t.assignments.c.recruiter_id == recruiter_id)
    submitted = select(t.applications.c.job_id).where(t.applications.c.recruiter_id == recruiter_id)
    return assigned.union(submitted)


def job_visible(scope: Scope) -> ColumnElement[bool]:
    """Condition on `jobs`: company staff their company's; a recruiter the open marketplace and
    the jobs they work; a candidate the open jobs (the job board)."""
    if scope.company_id is not None:
        return t.jobs.c.company_id == scope.company_id
    if scope.recruiter_id is not None:
        return or_(t.jobs.c.status == "open", t.jobs.c.id.in_(_worked_jobs(scope.recruiter_id)))
    if scope.candidate:
        return t.jobs.c.status == "open"
    return true()


def candidate_visible(scope: Scope) -> ColumnElement[bool]:
    """Condition on `candidates`: company staff see the candidates in their pipelines and the open
    talent pool (in nobody's pipeline), never another company's; a candidate only themselves."""
    if scope.candidate_id is not None:
        return t.candidates.c.id == scope.candidate_id
    if scope.company_id is not None:
        applied_here = select(t.applications.c.candidate_id).where(
            t.applications.c.job_id.in_(_company_jobs(scope.company_id))
        )
        anywhere = select(t.applications.c.candidate_id)
        return or_(t.candidates.c.id.in_(applied_here), t.candidates.c.id.not_in(anywhere))
    return true()


def application_visible(scope: Scope) -> ColumnElement[bool]:
    """Condition on `applications`: company staff their company's; a recruiter those they
    submitted or on the jobs they work; a candidate their own."""
    if scope.candidate_id is not None:
        return t.applications.c.candidate_id == scope.candidate_id
    if scope.company_id is not None:
        return t.applications.c.job_id.in_(_company_jobs(scope.company_id))
    if scope.recruiter_id is not None:
        return or_(
            t.applications.c.recruiter_id == scope.recruiter_id,
            t.applications.c.job_id.in_(
                select(t.assignments.c.job_id).where(
                    t.assignments.c.recruiter_id == scope.recruiter_id
                )
            ),
        )
    return true()


def placement_visible(scope: Scope) -> ColumnElement[bool]:
    """Condition on `placements`: company staff their company's, a recruiter their own splits."""
    if scope.company_id is not None:
        return t.placements.c.company_id == scope.company_id
    if scope.recruiter_id is not None:
        return t.placements.c.recruiter_id == scope.recruiter_id
    if scope.candidate:
        return false()
    return true()


def payout_visible(scope: Scope) -> ColumnElement[bool]:
    """Condition on `payouts` (joined with `placements`): a recruiter their own; company staff
    the payouts of their company's placements."""
    if scope.recruiter_id is not None:
        return t.payouts.c.recruiter_id == scope.recruiter_id
    if scope.company_id is not None:
        return t.placements.c.company_id == scope.company_id
    if scope.candidate:
        return false()
    return true()


def _companies_of(scope: Scope) -> Select[Any] | None:
    """The companies whose mail a scope reads (None: every company's)."""
    if scope.company_id is not None:
        return select(t.companies.c.id).where(t.companies.c.id == scope.company_id)
    if scope.recruiter_id is not None:
        return select(t.jobs.c.company_id).where(t.jobs.c.id.in_(_worked_jobs(scope.recruiter_id)))
    return None


def email_visible(scope: Scope) -> ColumnElement[bool]:
    """Condition on `emails` (the outbox has no owner column; the mail names its company): mail
    addressed to the persona, to a colleague of their company, or signed by its hiring team.
    Company staff read their company's; a recruiter the mail of the companies they work with."""
    if scope.whole:
        return true()
    own = func.lower(t.emails.c.to_addr) == scope.email.lower()
    companies = _companies_of(scope)
    if companies is None:
        return own
    staff = select(func.lower(t.users.c.email)).where(t.users.c.company_id.in_(companies))
    staff_names = select(t.users.c.name).where(t.users.c.company_id.in_(companies))
    signed = select(t.companies.c.id).where(
        t.companies.c.id.in_(companies),
        t.emails.c.body.like(literal("%The ") + t.companies.c.name + literal(" hiring team%")),
    )
    team_mail = and_(
        t.emails.c.event.in_(("application.created", "placement.made")),
        t.emails.c.to_name.in_(staff_names),
        ~t.emails.c.subject.like("We received%"),
    )
    return or_(
        own,
        func.lower(t.emails.c.to_addr).in_(staff),
        signed.exists(),
        team_mail,
    )


def companies(
    engine: Engine, limit: int, offset: int, *, scope: Scope = Scope.WHOLE, **_: Any
) -> tuple[list[dict[str, Any]], int]:
    q = select(t.companies).order_by(t.companies.c.id)
    if scope.company_id is not None:
        q = q.where(t.companies.c.id == scope.company_id)
    elif not scope.whole:  # the companies whose jobs this persona may see
        q = q.where(t.companies.c.id.in_(select(t.jobs.c.company_id).where(job_visible(scope))))
    return _page(engine, q, limit, offset)


def jobs(
    engine: Engine,
    limit: int,
    offset: int,
    *,
    status: str | None = None,
    company_id: int | None = None,
    scope: Scope = Scope.WHOLE,
    **_: Any,
) -> tuple[list[dict[str, Any]], int]:
    q = (
        select(
            t.jobs,
            t.companies.c.name.label("company_name"),
            t.departments.c.name.label("department"),
        )
        .join(t.companies, t.companies.c.id == t.jobs.c.company_id)
        .outerjoin(t.departments, t.departments.c.id == t.jobs.c.department_id)
        .order_by(t.jobs.c.id)
    )
    q = _filtered(q, (t.jobs.c.status, status), (t.jobs.c.company_id, company_id))
    return _page(engine, q.where(job_visible(scope)), limit, offset)


def candidates(
    engine: Engine, limit: int, offset: int, *, scope: Scope = Scope.WHOLE, **_: Any
) -> tuple[list[dict[str, Any]], int]:
    q = select(t.candidates).order_by(t.candidates.c.id).where(candidate_visible(scope))
    return _page(engine, q, limit, offset)


def applications(
    engine: Engine,
    limit: int,
    offset: int,
    *,
    job_id: int | None = None,
    stage: str | None = None,
    candidate_id: int | None = None,
    scope: Scope = Scope.WHOLE,
    **_: Any,
) -> tuple[list[dict[str, Any]], int]:
    q = (
        select(
            t.applications,
            t.jobs.c.title.label("job_title"),
            t.candidates.c.name.label("candidate_name"),
        )
        .join(t.jobs, t.jobs.c.id == t.applications.c.job_id)
        .join(t.candidates, t.candidates.c.id == t.applications.c.candidate_id)
        .order_by(t.applications.c.id)
    )
    q = _filtered(
        q,
        (t.applications.c.job_id, job_id),
        (t.applications.c.candidate_id, candidate_id),
        (t.applications.c.stage, stage),
    )
    return _page(engine, q.where(application_visible(scope)), limit, offset)


def recruiters(
    engine: Engine, limit: int, offset: int, *, scope: Scope = Scope.WHOLE, **_: Any
) -> tuple[list[dict[str, Any]], int]:
    q = select(t.recruiters).order_by(t.recruiters.c.id)
    if scope.candidate:  # recruiters are the portal's business, not the job board's
        q = q.where(false())
    return _page(engine, q, limit, offset)


def users(
    engine: Engine,
    limit: int,
    offset: int,
    *,
    role: str | None = None,
    scope: Scope = Scope.WHOLE,
    **_: Any,
) -> tuple[list[dict[str, Any]], int]:
    q = _filtered(select(t.users).order_by(t.users.c.id), (t.users.c.role, role))
    if scope.company_id is not None:
        q = q.where(t.users.c.company_id == scope.company_id)
    elif scope.user_id is not None:
        q = q.where(t.users.c.id == scope.user_id)
    return _page(engine, q, limit, offset)


def sees_job(engine: Engine, job_id: int, scope: Scope) -> bool:
    """Whether `scope` may see the match ranking of this job (the portal's staff only)."""
    if scope.candidate:
        return False
    with engine.connect() as conn:
        found = conn.execute(
            select(t.jobs.c.id).where(t.jobs.c.id == job_id, job_visible(scope))
        ).first()
    return found is not None


def visible_candidate_ids(engine: Engine, scope: Scope) -> set[int] | None:
    """The candidates `scope` may open (None: every one), to narrow a ranking of the pool."""
    if scope.whole or (scope.company_id is None and scope.candidate_id is None):
        return None
    with engine.connect() as conn:
        found = conn.execute(select(t.candidates.c.id).where(candidate_visible(scope))).scalars()
        return {int(i) for i in found}
