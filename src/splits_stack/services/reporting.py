"""Reporting: dashboard KPIs and the enterprise reporting dashboards' series.

Aggregations are computed in Python over small projections, which keeps the SQL identical on
SQLite and PostgreSQL (no dialect-specific date functions) and is fast at demo sizes.
Each takes the viewer's `Scope` (services/readapi.py): company staff count their company, a
recruiter the jobs they may see and their own placements and fees, the rep the whole demo.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from statistics import mean
from typing import Any

from sqlalchemy import Engine, func, select

from splits_stack import tables as t
from splits_stack.services.pipeline import ALL_STAGES
from splits_stack.services.readapi import Scope, job_visible, placement_visible


def _apps(engine: Engine, scope: Scope) -> list[Any]:
    q = (
        select(
            t.applications.c.id,
            t.applications.c.stage,
            t.applications.c.created_at,
            t.applications.c.updated_at,
            t.applications.c.candidate_id,
            t.applications.c.source,
            t.jobs.c.department_id,
            t.departments.c.name.label("department"),
        )
        .join(t.jobs, t.jobs.c.id == t.applications.c.job_id)
        .outerjoin(t.departments, t.departments.c.id == t.jobs.c.department_id)
        .where(job_visible(scope))
    )
    with engine.connect() as conn:
        return list(conn.execute(q))


def kpis(engine: Engine, scope: Scope = Scope.WHOLE) -> dict[str, Any]:
    apps = _apps(engine, scope)
    jq = select(t.jobs.c.status, func.count()).where(job_visible(scope)).group_by(t.jobs.c.status)
    pq = (
        select(t.placements.c.placed_at, t.placements.c.fee_amount, t.applications.c.created_at)
        .join(t.applications, t.applications.c.id == t.placements.c.application_id)
        .where(placement_visible(scope))
    )
    with engine.connect() as conn:
        jobs: dict[str, int] = {str(k): int(v) for k, v in conn.execute(jq).all()}
        placed = conn.execute(pq).all()
    active = {a.candidate_id for a in apps if a.stage not in ("hired", "rejected")}
    days = [(p.placed_at - p.created_at).total_seconds() / 86400 for p in placed]
    funnel = Counter(a.stage for a in apps)
    week_ago = datetime.now(UTC) - timedelta(days=7)
    return {
        "open_jobs": int(jobs.get("open", 0)),
        "pending_jobs": int(jobs.get("pending_approval", 0)),
        "active_candidates": len(active),
        "applications": len(apps),
        "new_this_week": sum(1 for a in apps if a.created_at >= week_ago),
        "time_to_hire_days": round(mean(days), 1) if days else None,
        "placements": len(placed),
        "fees": sum(int(p.fee_amount) for p in placed),
        "funnel": [(s, funnel.get(s, 0)) for s in ALL_STAGES],
    }


def recent_moves(
    engine: Engine, scope: Scope = Scope.WHOLE, limit: int = 8
) -> list[dict[str, Any]]:
    q = (
        select(
            t.application_moves,
            t.candidates.c.name.label("candidate_name"),
            t.jobs.c.title.label("job_title"),
            t.jobs.c.id.label("job_id"),
        )
        .join(t.applications, t.applications.c.id == t.application_moves.c.application_id)
        .join(t.candidates, t.candidates.c.id == t.applications.c.candidate_id)
        .join(t.jobs, t.jobs.c.id == t.applications.c.job_id)
        .where(job_visible(scope))
        .order_by(t.application_moves.c.moved_at.desc(), t.application_moves.c.id.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


def reports(engine: Engine, scope: Scope = Scope.WHOLE) -> dict[str, Any]:
    apps = _apps(engine, scope)
    now = datetime.now(UTC)
    weeks: list[tuple[str, int]] = []
    for w in range(11, -1, -1):
        start, end = now - timedelta(days=7 * (w + 1)), now - timedelta(days=7 * w)
        weeks.append((start.strftime("%b %d"), sum(1 for a in apps if start <= a.created_at < end)))
    jq = (
        select(t.departments.c.id, t.departments.c.name, t.jobs.c.status, func.count())
        .join(t.jobs, t.jobs.c.department_id == t.departments.c.id)
        .where(job_visible(scope))
        .group_by(t.departments.c.id, t.departments.c.name, t.jobs.c.status)
    )
    pq = (
        select(
            t.departments.c.name,
            t.placements.c.placed_at,
            t.applications.c.created_at,
            t.placements.c.fee_amount,
        )
        .join(t.jobs, t.jobs.c.id == t.placements.c.job_id)
        .join(t.departments, t.departments.c.id == t.jobs.c.department_id)
        .join(t.applications, t.applications.c.id == t.placements.c.application_id)
        .where(placement_visible(scope))
    )
    by_dept: dict[str, dict[str, int]] = defaultdict(dict)
    dept_ids: dict[str, int] = {}
    tth: dict[str, list[float]] = defaultdict(list)
    fees: Counter[str] = Counter()
    with engine.connect() as conn:
        for dept_id, name, status, n in conn.execute(jq):
            by_dept[name][status] = int(n)
            dept_ids[name] = int(dept_id)
        for name, placed, created, fee in conn.execute(pq):
            tth[name].append((placed - created).total_seconds() / 86400)
            fees[name] += int(fee)
    stage_counts = Counter(a.stage for a in apps)
    reached = {
        s: sum(stage_counts[x] for x in ALL_STAGES[i:5]) for i, s in enumerate(ALL_STAGES[:5])
    }
    return {
        "applications_per_week": weeks,
        "jobs_by_department": sorted(by_dept.items()),
        "department_ids": dept_ids,  # name -> id, for the `?dept=` drill-down links
        "time_to_hire": sorted(
            ((d, round(mean(v), 1)) for d, v in tth.items()), key=lambda x: x[1]
        ),
        "fees_by_department": fees.most_common(),
        "funnel": [(s, reached[s]) for s in ALL_STAGES[:5]],
        "sources": Counter(a.source for a in apps).most_common(),
        "offer_acceptance": round(
            100 * stage_counts["hired"] / max(1, stage_counts["hired"] + stage_counts["offer"]), 1
        ),
    }
