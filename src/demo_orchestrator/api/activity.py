"""`/api/v1/demo-instances/{id}/activity`: engagement from the live demo; `.../self`: what the
live demo learns about itself.

`POST .../activity` and `GET .../self` are for the demo's own stack, authenticated by the demo's
activity token (never by a user's token: a person cannot report for a demo); `GET .../activity`
is for whoever may see the demo. The service (engine/activity_log.py) checks meaning; this module
only bounds and parses the input.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from demo_orchestrator.domain.errors import DemoError
from demo_orchestrator.engine.activity_log import MAX_EVENTS, MAX_REQUESTS, ActivityEvent
from demo_orchestrator.serving.deps import OrchestratorDep, PrincipalDep

router = APIRouter(prefix="/api/v1/demo-instances", tags=["activity"])

MAX_BODY = 256 * 1024  # 500 events of bounded fields fit in well under this


class PayloadTooLarge(DemoError):
    status = 413
    title = "Payload too large"
    type_slug = "payload-too-large"


class ActivityEventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    at: datetime = Field(description="The minute the visits fell in (RFC 3339, with offset).")
    persona: str | None = Field(
        default=None, max_length=120, description="The persona's name; null for the rep."
    )
    route: str = Field(min_length=1, max_length=40, description="The blueprint route (host).")
    path: str = Field(
        min_length=1, max_length=200, description="The path pattern, e.g. `/jobs/{job_id}`."
    )
    page: str = Field(
        min_length=1,
        max_length=500,
        description="The concrete path (no query string): used to match tour steps, not stored.",
    )
    requests: int = Field(ge=1, le=MAX_REQUESTS)


class ActivityReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[ActivityEventIn] = Field(max_length=MAX_EVENTS)


class ActivityAccepted(BaseModel):
    requests: int = Field(description="Requests added by this report.")


class ActivityItem(BaseModel):
    at: str
    persona: str | None
    route: str
    path: str
    tour_step: int | None = Field(description="The tour step reached (1-based), if any.")
    requests: int


class ActivityPage(BaseModel):
    items: list[ActivityItem]
    next_cursor: str | None


class Prospect(BaseModel):
    company: str
    industry: str | None


class Contact(BaseModel):
    name: str = Field(description="The demo owner's user name.")
    email: str | None = Field(description="The owner's e-mail, when set on the user.")


class DemoSelf(BaseModel):
    """What a running demo shows about itself: expiry banner, prospect, whom to contact."""

    id: str
    status: str = Field(
        description="The demo's status; `deleted` or `expired` once it ended (or is ending)."
    )
    expires_at: str | None = Field(description="ISO-8601 UTC.")
    warning_minutes: list[int] = Field(
        description="DEMO_EXPIRY_WARNING_MINUTES, the earliest lead time first: show a banner "
        "from the first."
    )
    prospect: Prospect | None
    contact: Contact | None = Field(
        description="The demo's owner: whom the prospect contacts; null for no person."
    )
    now: str = Field(description="The orchestrator's clock, ISO-8601 UTC (count down from it).")


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def reporting_demo(instance_id: str, request: Request, orchestrator: OrchestratorDep) -> str:
    """The demo's own token, checked before the body is looked at; then the body's size."""
    orchestrator.activity.authenticate(instance_id, _bearer(request))
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_BODY:
        raise PayloadTooLarge(
            f"an activity report is at most {MAX_BODY} bytes; send at most {MAX_EVENTS} "
            "events per report"
        )
    return instance_id


ReportingDemo = Annotated[str, Depends(reporting_demo)]


@router.post("/{instance_id}/activity", status_code=202, response_model=ActivityAccepted)
def report_activity(
    report: ActivityReport, demo: ReportingDemo, orchestrator: OrchestratorDep
) -> dict[str, Any]:
    events = [
        ActivityEvent(
            at=e.at, persona=e.persona, route=e.route, path=e.path, page=e.page, requests=e.requests
        )
        for e in report.events
    ]
    return {"requests": orchestrator.activity.record(demo, events)}


@router.get("/{instance_id}/activity", response_model=ActivityPage)
def list_activity(
    instance_id: str,
    orchestrator: OrchestratorDep,
    who: PrincipalDep,
    limit: int = Query(default=500, ge=1, le=2000),
    cursor: str | None = Query(default=None, max_length=200),
) -> dict[str, Any]:
    return orchestrator.activity.page(who, instance_id, limit=limit, cursor=cursor)


@router.get("/{instance_id}/self", response_model=DemoSelf, tags=["demo"])
def demo_self(instance_id: str, request: Request, orchestrator: OrchestratorDep) -> dict[str, Any]:
    """For the demo's own stack, with `Authorization: Bearer $DEMO_ACTIVITY_TOKEN`: its status,
    expiry, the expiry warning lead times, the prospect and the owner to contact. A demo that
    ended answers 200 with status `deleted` or `expired`, so it can show its ended page."""
    orchestrator.activity.authenticate(instance_id, _bearer(request), purpose="self")
    return orchestrator.activity.demo_self(instance_id)
