"""Notification pages: your webhooks and each one's deliveries (`/portal/notifications`), and
the whole audit log for admins (`/portal/admin/audit`). Same services as the REST API."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from demo_orchestrator.bootstrap import Orchestrator
from demo_orchestrator.domain.errors import BadRequest, DemoError
from demo_orchestrator.domain.notifications import EVENTS, FORMATS
from demo_orchestrator.providers.webhook_http import check_url
from demo_orchestrator.serving.deps import OrchestratorDep
from demo_orchestrator.web.auth import UserDep, WebUser, require_role, verify_csrf
from demo_orchestrator.web.render import back, page

router = APIRouter(include_in_schema=False)

HOME = "/portal/notifications"
AUDIT = "/portal/admin/audit"
AUDIT_PAGE = 200


@router.get(HOME, response_class=HTMLResponse)
def notifications(request: Request, orchestrator: OrchestratorDep, user: UserDep) -> Response:
    return _render(request, orchestrator, user)


def _render(
    request: Request,
    orchestrator: Orchestrator,
    user: WebUser,
    created_secret: str | None = None,
    created_id: str | None = None,
) -> HTMLResponse:
    notifier = orchestrator.notifier
    hooks = notifier.subscriptions(user.principal)
    deliveries = {h["id"]: notifier.deliveries(user.principal, h["id"], 20) for h in hooks}
    return page(
        request,
        "notifications.html",
        user=user,
        orchestrator=orchestrator,
        hooks=hooks,
        deliveries=deliveries,
        events=EVENTS,
        formats=FORMATS,
        created_secret=created_secret,
        created_id=created_id,
        email=orchestrator.accounts.email_of(user.name),
        smtp=bool(orchestrator.ctx.settings.smtp_url),
        mails=notifier.mail_deliveries(user.principal, 20),
    )


@router.post(HOME, response_class=HTMLResponse)
def subscribe(
    request: Request,
    orchestrator: OrchestratorDep,
    user: UserDep,
    csrf_token: Annotated[str, Form()] = "",
    url: Annotated[str, Form()] = "",
    events: Annotated[list[str] | None, Form()] = None,
    format: Annotated[str, Form()] = "json",
    scope: Annotated[str, Form()] = "own",
) -> Response:
    verify_csrf(user, csrf_token)
    allow = orchestrator.ctx.settings.webhook_allow_private_networks
    try:
        if format not in FORMATS or scope not in {"own", "global"}:
            raise BadRequest("choose a format (json or slack) and a scope (own or global)")
        if len(url) > 2000:
            raise BadRequest("the URL is too long (2,000 characters at most)")
        made = orchestrator.notifier.create(
            user.principal,
            url=url.strip(),
            events=events or [],
            secret=None,
            format=format,
            scope=scope,
            check_url=partial(check_url, allow_private=allow),
        )
    except DemoError as exc:
        return back(HOME, error=exc.detail)
    # The secret is shown once, in this answer (no-store), never in a URL: a redirect would put
    # it in the address bar, the history and the access log.
    return _render(
        request, orchestrator, user, created_secret=made["secret"], created_id=made["id"]
    )


@router.post(HOME + "/email", response_class=HTMLResponse)
def set_email(
    orchestrator: OrchestratorDep,
    user: UserDep,
    csrf_token: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
) -> Response:
    verify_csrf(user, csrf_token)
    try:
        orchestrator.accounts.set_email(user.name, email[:300] or None, user.principal)
    except DemoError as exc:
        return back(HOME, error=exc.detail)
    return back(HOME, notice="E-mail address saved" if email else "E-mail address removed")


@router.post(HOME + "/{webhook_id}/delete", response_class=HTMLResponse)
def unsubscribe(
    webhook_id: str,
    orchestrator: OrchestratorDep,
    user: UserDep,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    verify_csrf(user, csrf_token)
    try:
        orchestrator.notifier.delete(user.principal, webhook_id)
    except DemoError as exc:
        return back(HOME, error=exc.detail)
    return back(HOME, notice=f"Webhook {webhook_id} removed")


@router.get(AUDIT, response_class=HTMLResponse)
def audit(request: Request, orchestrator: OrchestratorDep, user: UserDep) -> Response:
    require_role(user, "admin")
    entries = orchestrator.instances.audit_log(user.principal, AUDIT_PAGE)
    return page(request, "audit.html", user=user, orchestrator=orchestrator, entries=entries)
