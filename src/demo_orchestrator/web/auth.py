"""Browser sign-in for the web UI: session cookies (HttpOnly, SameSite=Lax, stored hashed) and a
per-session CSRF token checked on every form post."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request

from demo_orchestrator.domain.errors import DemoError, Forbidden
from demo_orchestrator.engine.service import Principal
from demo_orchestrator.serving.deps import OrchestratorDep

COOKIE = "demo_session"


class LoginRequired(Exception):
    """Raised for an anonymous visitor; answered with a redirect to the sign-in page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class CsrfRefused(DemoError):
    status = 403
    title = "Form refused"
    type_slug = "csrf"


@dataclass(frozen=True)
class WebUser:
    principal: Principal
    csrf: str

    @property
    def name(self) -> str:
        return self.principal.name

    @property
    def role(self) -> str:
        return self.principal.role


def source_of(request: Request) -> str | None:
    return request.client.host if request.client else None


def current_user(request: Request, orchestrator: OrchestratorDep) -> WebUser:
    found = orchestrator.accounts.session_of(request.cookies.get(COOKIE), source=source_of(request))
    if found is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    principal, csrf = found
    return WebUser(principal=principal, csrf=csrf)


UserDep = Annotated[WebUser, Depends(current_user)]


def require_role(user: WebUser, *roles: str) -> None:
    if user.role not in roles:
        raise Forbidden(
            f"this page is for {' or '.join(roles)} users; you are signed in as {user.role}"
        )


def verify_csrf(user: WebUser, token: str | None) -> None:
    if not token or not secrets.compare_digest(token, user.csrf):
        raise CsrfRefused(
            "the form was not sent from this site or has expired; reload the page and try again"
        )


def safe_next(value: str | None) -> str:
    """Only local portal paths, so the sign-in page cannot be used as an open redirect."""
    if value and value.startswith("/portal") and "//" not in value and "\\" not in value:
        return value
    return "/portal"


def login_redirect(next_path: str) -> str:
    return f"/login?next={quote(next_path, safe='/')}"
