"""Read models behind the gateway's JSON API: paged lists of plain, JSON-ready dicts.

One query per resource, narrowed by `_filtered()` (the optional equality filters of the query
string) and paged by `_page()` (total, limit/offset, stable order); `jsonable()` shapes each row:
comma-separated skill columns come out as lists, timestamps as ISO 8601 strings.

`Scope` narrows every list to what one persona may see (the portal's own rules: company staff see
their company, recruiters the marketplace, a candidate their own applications and the open jobs);
`Scope.WHOLE` (the rep's session) sees the whole demo, which is what the blueprint's counts count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import ColumnElement, Engine, Select, false, func, select

from splits_stack import tables as t

LIST_COLUMNS = {"skills", "required_skills", "nice_skills", "specialisations"}


@dataclass(frozen=True)
class Scope:
    """What one session may read: None everywhere is the whole demo (the rep)."""

    company_id: int | None = None  # company staff: their company only
    candidate_id: int | None = None  # a candidate: themselves only
    user_id: int | None = None  # anyone but the rep: the users list is theirs (or their company's)
    WHOLE: ClassVar[Scope]

    @classmethod
    def of(cls, user: dict[str, Any]) -> Scope:
        role = user["role"]
        if role == "candidate":
            return cls(candidate_id=user.get("candidate_id") or -1, user_id=user["id"])
        if role == "recruiter":
            return cls(user_id=user["id"])
        return cls(company_id=user.get("company_id") or -1, user_id=user["id"])

    @property
    def candidate(self) -> bool:
        return self.candidate_id is not None


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


def companies(
    engine: Engine, limit: int, offset: int, *, scope: Scope = Scope.WHOLE, **_: Any
) -> tuple[list[dict[str, Any]], int]:
    q = select(t.companies).order_by(t.companies.c.id)
    if scope.company_id is not None:
        q = q.where(t.companies.c.id == scope.company_id)
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
    if scope.company_id is not None:
        q = q.where(t.jobs.c.company_id == scope.company_id)
    if scope.candidate:  # the job board: open jobs only
        q = q.where(t.jobs.c.status == "open")
    return _page(engine, q, limit, offset)


def candidates(
    engine: Engine, limit: int, offset: int, *, scope: Scope = Scope.WHOLE, **_: Any
) -> tuple[list[dict[str, Any]], int]:
    q = select(t.candidates).order_by(t.candidates.c.id)
    if scope.candidate_id is not None:
        q = q.where(t.candidates.c.id == scope.candidate_id)
    if scope.company_id is not None:  # those who applied to the company's jobs
        applied = select(t.applications.c.candidate_id).where(
            t.applications.c.job_id.in_(_company_jobs(scope.company_id))
        )
        q = q.where(t.candidates.c.id.in_(applied))
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
    if scope.candidate_id is not None:
        q = q.where(t.applications.c.candidate_id == scope.candidate_id)
    if scope.company_id is not None:
        q = q.where(t.jobs.c.company_id == scope.company_id)
    return _page(engine, q, limit, offset)


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


def job_visible(engine: Engine, job_id: int, scope: Scope) -> bool:
    """Whether `scope` may see the match ranking of this job (the portal's staff only)."""
    if scope.candidate:
        return False
    if scope.company_id is None:
        return True
    with engine.connect() as conn:
        found = conn.execute(
            select(t.jobs.c.id).where(
                t.jobs.c.id == job_id, t.jobs.c.company_id == scope.company_id
            )
        ).first()
    return found is not None
