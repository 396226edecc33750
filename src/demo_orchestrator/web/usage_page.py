"""Usage and cost page (`/portal/admin/usage`) with server-side SVG charts and a CSV export."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from demo_orchestrator.bootstrap import Orchestrator
from demo_orchestrator.domain.errors import BadRequest
from demo_orchestrator.engine.service import Principal
from demo_orchestrator.engine.usage import usage
from demo_orchestrator.serving.deps import OrchestratorDep
from demo_orchestrator.web.auth import UserDep, require_role
from demo_orchestrator.web.charts import bar_chart, column_chart
from demo_orchestrator.web.render import page

router = APIRouter(include_in_schema=False)


def _period(start: str | None, end: str | None) -> tuple[datetime, datetime, str, str]:
    """[from, to) from two dates (inclusive `to` day); the last 7 days by default."""
    try:
        last = date.fromisoformat(end) if end else datetime.now(UTC).date()
        first = date.fromisoformat(start) if start else last - timedelta(days=6)
    except ValueError:
        raise BadRequest("from and to must be dates like 2026-11-26") from None
    if first > last:
        raise BadRequest("`from` must not be after `to`")
    if first.year < 1970 or last.year >= 9000:
        raise BadRequest("from and to must be dates between 1970-01-01 and 8999-12-31")
    begin = datetime(first.year, first.month, first.day, tzinfo=UTC)
    finish = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
    return begin, finish, first.isoformat(), last.isoformat()


def _report(
    orchestrator: Orchestrator, who: Principal, begin: datetime, finish: datetime
) -> dict[str, Any]:
    ctx = orchestrator.ctx
    return {
        g: usage(ctx, who, start=begin, end=finish, group_by=g)
        for g in ("owner", "scenario", "day", "instance")
    }


@router.get("/portal/admin/usage", response_class=HTMLResponse)
def usage_page(
    request: Request,
    orchestrator: OrchestratorDep,
    user: UserDep,
    start: str | None = None,
    end: str | None = None,
) -> Response:
    require_role(user, "admin", "viewer")
    start = request.query_params.get("from") or start
    end = request.query_params.get("to") or end
    begin, finish, first, last = _period(start, end)
    report = _report(orchestrator, user.principal, begin, finish)
    days = {item["key"]: item["demos"] for item in report["day"]["items"]}
    series = []
    cursor = begin.date()
    while cursor < finish.date():
        series.append((cursor.isoformat(), float(days.get(cursor.isoformat(), 0))))
        cursor += timedelta(days=1)
    charts = {
        "per_day": column_chart(series, title="Demos started per day"),
        "hours_owner": bar_chart(
            [(i["key"], i["demo_hours"]) for i in report["owner"]["items"]],
            title="Demo-hours by owner",
            unit=" h",
            decimals=3,
        ),
        "cost_scenario": bar_chart(
            [(i["key"], i["cost_usd"]) for i in report["scenario"]["items"]],
            title="Cost by scenario",
            unit=" $",
            decimals=4,
        ),
        "hours_scenario": bar_chart(
            [(i["key"], i["demo_hours"]) for i in report["scenario"]["items"]],
            title="Demo-hours by scenario",
            unit=" h",
            decimals=3,
        ),
    }
    return page(
        request,
        "usage.html",
        user=user,
        orchestrator=orchestrator,
        first=first,
        last=last,
        totals=report["owner"]["totals"],
        by_owner=report["owner"]["items"],
        by_scenario=report["scenario"]["items"],
        charts=charts,
        hourly=orchestrator.ctx.blueprint.cost.hourly_usd,
        hourly_total=orchestrator.ctx.blueprint.cost.total_hourly_usd,
    )


@router.get("/portal/admin/usage.csv")
def usage_csv(request: Request, orchestrator: OrchestratorDep, user: UserDep) -> Response:
    """One row per demo in the period, with its demo-hours and cost inside the period."""
    require_role(user, "admin", "viewer")
    begin, finish, first, last = _period(
        request.query_params.get("from"), request.query_params.get("to")
    )
    report = usage(orchestrator.ctx, user.principal, start=begin, end=finish, group_by="instance")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["instance", "owner", "scenario", "started_at", "ended_at", "demo_hours", "cost_usd"]
    )
    for item in report["items"]:
        writer.writerow(
            [
                item["key"],
                item["owner"],
                item["scenario"],
                item["started_at"],
                item["ended_at"],
                f"{item['demo_hours']:.4f}",
                f"{item['cost_usd']:.4f}",
            ]
        )
    return Response(
        out.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="demo-usage-{first}-to-{last}.csv"'},
    )
