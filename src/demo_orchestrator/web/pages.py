"""The web UI's pages: sign in, the admin's demo instances, the sales self-service portal.

Each route parses a form or query, calls the same service the REST API uses, and renders a
template or redirects (post/redirect/get). Every form post carries the session's CSRF token.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Header, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from demo_orchestrator.bootstrap import Orchestrator
from demo_orchestrator.domain.errors import BadRequest, DemoError
from demo_orchestrator.domain.instance import Status
from demo_orchestrator.engine.service import CreateInstance
from demo_orchestrator.engine.shares import Shares
from demo_orchestrator.engine.templates import Templates
from demo_orchestrator.serving.deps import OrchestratorDep
from demo_orchestrator.serving.sse import event_stream
from demo_orchestrator.web.auth import (
    COOKIE,
    UserDep,
    WebUser,
    require_role,
    verify_csrf,
)
from demo_orchestrator.web.render import back, page

router = APIRouter(include_in_schema=False)

ADMIN_LIST = "/portal/admin/demo-instances"
SALES_LIST = "/portal/demos"
CsrfField = Annotated[str, Form()]


def home_of(user: WebUser) -> str:
    return SALES_LIST if user.role == "sales" else ADMIN_LIST


def detail_path(user: WebUser, instance_id: str) -> str:
    return f"{home_of(user)}/{instance_id}"


# -- sign out (sign-in is web/login.py) ----------------------------------------------------------------------------------


@router.post("/logout")
def logout(
    request: Request, orchestrator: OrchestratorDep, user: UserDep, csrf_token: CsrfField = ""
) -> Response:
    verify_csrf(user, csrf_token)
    orchestrator.accounts.end_session(request.cookies.get(COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/portal")
def portal_home(user: UserDep) -> Response:
    return RedirectResponse(home_of(user), status_code=303)


# -- lists ------------------------------------------------------------------------------------


@router.get(ADMIN_LIST, response_class=HTMLResponse)
def admin_list(
    request: Request,
    orchestrator: OrchestratorDep,
    user: UserDep,
    q: str | None = None,
    status: str | None = None,
    scenario: str | None = None,
    owner: str | None = None,
    cursor: str | None = None,
    prospect: str | None = None,
    opportunity: str | None = None,
    ended: str | None = None,
) -> Response:
    require_role(user, "admin", "viewer")
    show_ended = bool(ended)
    listed = orchestrator.instances.list_page(
        user.principal,
        status=status or None,
        scenario=scenario or None,
        owner=owner or None,
        search=q or None,
        cursor=cursor or None,
        limit=50,
        prospect=(prospect or "")[:200] or None,
        opportunity=(opportunity or "")[:100] or None,
        hide_ended=not show_ended,  # the UI's default; the API lists every demo
    )
    return page(
        request,
        "instances.html",
        user=user,
        orchestrator=orchestrator,
        items=listed["items"],
        next_cursor=listed["next_cursor"],
        scenarios=_scenarios(orchestrator, user),
        statuses=[s.value for s in Status],
        filters={
            "q": q or "",
            "status": status or "",
            "scenario": scenario or "",
            "owner": owner or "",
            "prospect": prospect or "",
            "opportunity": opportunity or "",
            "ended": "1" if show_ended else "",
        },
    )


@router.get(SALES_LIST, response_class=HTMLResponse)
def sales_list(
    request: Request, orchestrator: OrchestratorDep, user: UserDep, ended: str | None = None
) -> Response:
    require_role(user, "sales", "admin")
    listed = orchestrator.instances.list_page(
        user.principal, owner=user.name, limit=100, hide_ended=not ended
    )
    return page(
        request,
        "demos.html",
        user=user,
        orchestrator=orchestrator,
        items=listed["items"],
        scenarios=_scenarios(orchestrator, user),
        show_ended=bool(ended),
    )


# -- create -----------------------------------------------------------------------------------


@router.get(f"{ADMIN_LIST}/new", response_class=HTMLResponse)
@router.get(f"{SALES_LIST}/new", response_class=HTMLResponse)
def create_form(request: Request, orchestrator: OrchestratorDep, user: UserDep) -> Response:
    require_role(user, "admin", "sales")
    return _form(request, orchestrator, user, {})


@router.post(ADMIN_LIST, response_class=HTMLResponse)
@router.post(SALES_LIST, response_class=HTMLResponse)
def create(
    request: Request,
    orchestrator: OrchestratorDep,
    user: UserDep,
    csrf_token: CsrfField = "",
    scenario: Annotated[str, Form()] = "",
    duration_hours: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    company: Annotated[str, Form()] = "",
    industry: Annotated[str, Form()] = "",
    contact_name: Annotated[str, Form()] = "",
    contact_email: Annotated[str, Form()] = "",
    opportunity_id: Annotated[str, Form()] = "",
    opportunity_url: Annotated[str, Form()] = "",
    stage: Annotated[str, Form()] = "",
    notes: Annotated[str, Form()] = "",
    starts_at: Annotated[str, Form()] = "",
) -> Response:
    verify_csrf(user, csrf_token)
    require_role(user, "admin", "sales")
    values = {
        "scenario": scenario,
        "duration_hours": duration_hours,
        "name": name,
        "company": company,
        "industry": industry,
        "contact_name": contact_name,
        "contact_email": contact_email,
        "opportunity_id": opportunity_id,
        "opportunity_url": opportunity_url,
        "stage": stage,
        "notes": notes,
        "starts_at": starts_at,
    }
    try:
        hours = _hours(duration_hours)
        prospect = None
        crm = {
            "industry": industry,
            "contact_name": contact_name,
            "contact_email": contact_email,
            "opportunity_id": opportunity_id,
            "opportunity_url": opportunity_url,
            "stage": stage,
        }
        if company.strip():
            prospect = {"company": company.strip()[:300]}
            prospect.update({k: v.strip()[:2100] for k, v in crm.items() if v.strip()})
        elif any(v.strip() for v in crm.values()):
            raise BadRequest("a prospect needs its company name first")
        instance, _ = orchestrator.instances.create(
            user.principal,
            CreateInstance(
                scenario=scenario or None,
                duration_hours=hours,
                name=name.strip()[:200] or None,
                prospect=prospect,
                notes=notes.strip()[:5000] or None,
                starts_at=_starts(starts_at, orchestrator.instances.timezone_of(user.name)),
            ),
        )
    except DemoError as exc:
        return _form(request, orchestrator, user, values, error=exc.detail, status_code=exc.status)
    notice = (
        "Request sent: it waits for an admin's approval"
        if instance["status"] == Status.PENDING_APPROVAL.value
        else "Booked: it will be ready before the start"
        if instance["status"] == Status.SCHEDULED.value
        else CREATING
    )
    return back(detail_path(user, instance["id"]), notice=notice)


CREATING = "Demo environment is being created"
# What the page says instead of a notice about work in progress once that work is over; the
# page's script does the same when the live stream reports the change (static/app.js).
_IN_PROGRESS = {"pending", "provisioning"}


def _notice_now(notice: str | None, status: str) -> str | None:
    """The post/redirect/get notice, unless it speaks of a creation that is over by now (the
    page was reloaded, or its address kept, after the demo became ready or failed)."""
    if notice == CREATING and status not in _IN_PROGRESS:
        return "Demo environment is ready" if status == Status.READY.value else None
    return notice


def _form(
    request: Request,
    orchestrator: Orchestrator,
    user: WebUser,
    values: dict[str, str],
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    return page(
        request,
        "instance_form.html",
        user=user,
        orchestrator=orchestrator,
        scenarios=_scenarios(orchestrator, user),
        values=values,
        error=error,
        status_code=status_code,
        action=SALES_LIST if user.role == "sales" else ADMIN_LIST,
        default_scenario=orchestrator.ctx.blueprint.default_scenario,
        timezone=str(orchestrator.instances.timezone_of(user.name)),
    )


def _hours(raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise BadRequest("duration_hours must be a number of hours, e.g. 2 or 0.25") from None


def _starts(raw: str, tz: ZoneInfo) -> datetime | None:
    """The form's datetime-local, read in the user's time zone (an explicit offset wins)."""
    if not raw.strip():
        return None
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise BadRequest("starts at must be a date and time, e.g. 2026-12-01T14:00") from None
    return value if value.tzinfo else value.replace(tzinfo=tz)


# -- one instance -----------------------------------------------------------------------------


@router.get(f"{ADMIN_LIST}/{{instance_id}}", response_class=HTMLResponse)
@router.get(f"{SALES_LIST}/{{instance_id}}", response_class=HTMLResponse)
def detail(
    request: Request,
    orchestrator: OrchestratorDep,
    user: UserDep,
    instance_id: str,
    service: Annotated[str | None, Query()] = None,
) -> Response:
    instance = orchestrator.instances.get(user.principal, instance_id)
    blueprint = orchestrator.ctx.blueprints.get(instance["blueprint"])
    scenario = (
        orchestrator.ctx.find_scenario(blueprint, instance["scenario"]) if blueprint else None
    )
    services = [s.name for s in blueprint.services] if blueprint else []
    logs, chosen = "", service or (services[0] if services else None)
    if chosen and instance["status"] in {"ready", "provisioning"}:
        try:
            logs = orchestrator.instances.logs(user.principal, instance_id, chosen, 100)
        except DemoError as exc:
            logs = exc.detail
    notice = _notice_now(request.query_params.get("notice"), instance["status"])
    return page(
        request,
        "instance_detail.html",
        user=user,
        orchestrator=orchestrator,
        i=instance,
        notice=notice,
        notice_follows_status=notice == CREATING,
        scenario_title=scenario.title if scenario else instance["scenario"],
        services=services,
        service=chosen,
        logs=logs,
        audit=orchestrator.instances.audit(user.principal, instance_id),
        engagement=orchestrator.activity.timeline(user.principal, instance_id),
        base=home_of(user),
        share=Shares(orchestrator.instances).current(user.principal, instance_id),
    )


@router.get("/portal/demo-instances/{instance_id}/events")
async def events(
    instance_id: str,
    orchestrator: OrchestratorDep,
    user: UserDep,
    last_event_id: Annotated[str | None, Header()] = None,
) -> Response:
    return await event_stream(orchestrator, user.principal, instance_id, last_event_id)


@router.post("/portal/demo-instances/{instance_id}/{action}")
def act(
    instance_id: str,
    action: str,
    orchestrator: OrchestratorDep,
    user: UserDep,
    csrf_token: CsrfField = "",
    hours: Annotated[str, Form()] = "1",
    reason: Annotated[str, Form()] = "",
) -> Response:
    verify_csrf(user, csrf_token)
    service = orchestrator.instances
    here = detail_path(user, instance_id)
    try:
        if action == "extend":
            service.extend(user.principal, instance_id, _hours(hours))
            return back(here, notice=f"Extended by {hours} h")
        if action == "reset":
            service.reset(user.principal, instance_id)
            return back(here, notice="Resetting to pristine data")
        if action == "rotate-links":
            service.rotate_links(user.principal, instance_id)
            return back(
                here, notice="New sign-in links: the old ones and every open session have ended"
            )
        if action == "delete":
            service.delete(user.principal, instance_id)
            return back(here, notice="Deleting: every resource of this demo is being removed")
        if action == "sleep":
            service.sleep(user.principal, instance_id)
            return back(here, notice="Going to sleep: processes stop, data is kept")
        if action == "wake":
            service.wake(user.principal, instance_id)
            return back(here, notice="Waking up")
        if action == "approve":
            service.approve(user.principal, instance_id)
            return back(here, notice="Approved: the demo is starting")
        if action == "reject":
            service.reject(user.principal, instance_id, reason)
            return back(here, notice="Rejected")
    except DemoError as exc:
        return back(here, error=exc.detail)
    return back(here, error=f"unknown action {action!r}")


def _scenarios(orchestrator: Orchestrator, user: WebUser) -> list[dict[str, Any]]:
    """The built-in scenarios, then the saved templates this user may use (engine/templates)."""
    return Templates(orchestrator.ctx, orchestrator.instances).list(user.principal)
