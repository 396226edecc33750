"""The day's schedule of booked demos (`/portal/admin/schedule?day=...`) in the viewer's time
zone, and a demo's .ics download for the web UI (its session, not an API token)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from demo_orchestrator.domain.errors import BadRequest
from demo_orchestrator.serving.deps import OrchestratorDep
from demo_orchestrator.web.auth import UserDep, require_role
from demo_orchestrator.web.render import page

router = APIRouter(include_in_schema=False)


@router.get("/portal/admin/schedule", response_class=HTMLResponse)
def schedule_page(
    request: Request, orchestrator: OrchestratorDep, user: UserDep, day: str | None = None
) -> Response:
    require_role(user, "admin", "viewer", "sales")
    tz = orchestrator.instances.timezone_of(user.name)
    raw = day or ""
    try:
        chosen = date.fromisoformat(raw) if raw else datetime.now(tz).date()
    except ValueError:
        raise BadRequest(f"day must be a date like 2026-11-27, not {raw[:40]!r}") from None
    return page(
        request,
        "schedule.html",
        user=user,
        orchestrator=orchestrator,
        day=chosen,
        previous=chosen - timedelta(days=1),
        following=chosen + timedelta(days=1),
        timezone=str(tz),
        items=orchestrator.instances.schedule(user.principal, chosen),
    )


@router.get("/portal/demos/{instance_id}/calendar.ics")
def calendar_download(instance_id: str, orchestrator: OrchestratorDep, user: UserDep) -> Response:
    return Response(
        orchestrator.instances.calendar(user.principal, instance_id),
        media_type="text/calendar",
        headers={"Content-Disposition": f'attachment; filename="{instance_id}.ics"'},
    )
