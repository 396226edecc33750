"""Read models behind the gateway's JSON API: paged lists of plain, JSON-ready dicts.

One query per resource, narrowed by `_filtered()` (the optional equality filters of the query
string) and paged by `_page()` (total, limit/offset, stable order); `jsonable()` shapes each row:
comma-separated skill columns come out as lists, timestamps as ISO 8601 strings.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, Select, func, select

from splits_stack import tables as t

LIST_COLUMNS = {"skills", "required_skills", "nice_skills", "specialisations"}


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


def companies(
    engine: Engine, limit: int, offset: int, **_: Any
) -> tuple[list[dict[str, Any]], int]:
    return _page(engine, select(t.companies).order_by(t.companies.c.id), limit, offset)


def jobs(
    engine: Engine,
    limit: int,
    offset: int,
    *,
    status: str | None = None,
    company_id: int | None = None,
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
    return _page(engine, q, limit, offset)


def candidates(
    engine: Engine, limit: int, offset: int, **_: Any
) -> tuple[list[dict[str, Any]], int]:
    return _page(engine, select(t.candidates).order_by(t.candidates.c.id), limit, offset)


def applications(
    engine: Engine,
    limit: int,
    offset: int,
    *,
    job_id: int | None = None,
    stage: str | None = None,
    candidate_id: int | None = None,
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
    return _page(engine, q, limit, offset)


def recruiters(
    engine: Engine, limit: int, offset: int, **_: Any
) -> tuple[list[dict[str, Any]], int]:
    return _page(engine, select(t.recruiters).order_by(t.recruiters.c.id), limit, offset)


def users(
    engine: Engine, limit: int, offset: int, *, role: str | None = None, **_: Any
) -> tuple[list[dict[str, Any]], int]:
    q = _filtered(select(t.users).order_by(t.users.c.id), (t.users.c.role, role))
    return _page(engine, q, limit, offset)
