"""The sign-in form: CSRF-protected before any session exists, throttled, audited.

Login CSRF (a foreign site signing a browser in as the attacker) is refused with a signed
double-submit token: `GET /login` sets a random pre-session cookie and puts a sealed copy of it
(Fernet with the orchestrator's secret key, so any replica can check it) into a hidden field; the
post must bring both and they must match. A sealed copy rather than the bare value, so a cookie
tossed in from a sibling host (a demo under the same base domain) cannot be paired with a field
the attacker made up. Wrong passwords, disabled users and throttling come from the engine's
`SignIn` (see `engine/signin.py`); this module only maps them to the page: 401, or 429 with
`Retry-After`.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from demo_orchestrator.bootstrap import Orchestrator
from demo_orchestrator.domain.errors import DemoError
from demo_orchestrator.engine.signin import SignInRefused, SignInThrottled
from demo_orchestrator.serving.deps import OrchestratorDep
from demo_orchestrator.web.auth import COOKIE, safe_next, source_of
from demo_orchestrator.web.render import page

router = APIRouter(include_in_schema=False)

LOGIN_CSRF_COOKIE = "demo_login_csrf"


def _cookie_value(request: Request) -> str:
    value = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    return value if 20 <= len(value) <= 64 and value.isascii() else secrets.token_urlsafe(24)


def _form_token(orchestrator: Orchestrator, cookie: str) -> str:
    return orchestrator.ctx.box.seal({"login": cookie})


def _token_matches(orchestrator: Orchestrator, cookie: str | None, token: str) -> bool:
    if not cookie or not token:
        return False
    try:
        sealed = orchestrator.ctx.box.open(token)
    except DemoError:
        return False
    return secrets.compare_digest(str(sealed.get("login", "")), cookie)


def _form(
    request: Request,
    orchestrator: Orchestrator,
    *,
    next_path: str,
    status_code: int = 200,
    error: str | None = None,
    username: str = "",
    headers: dict[str, str] | None = None,
) -> Response:
    cookie = _cookie_value(request)
    response = page(
        request,
        "login.html",
        user=None,
        orchestrator=orchestrator,
        status_code=status_code,
        error=error,
        next=next_path,
        username=username,
        csrf=_form_token(orchestrator, cookie),
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        cookie,
        httponly=True,
        samesite="lax",
        path="/login",
        secure=orchestrator.ctx.settings.public_scheme == "https",
    )
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(
    request: Request, orchestrator: OrchestratorDep, next: str | None = None
) -> Response:
    return _form(request, orchestrator, next_path=safe_next(next))


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    orchestrator: OrchestratorDep,
    username: Annotated[str, Form(max_length=1000)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/portal",
    csrf_token: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    next_path = safe_next(next)
    if not _token_matches(orchestrator, request.cookies.get(LOGIN_CSRF_COOKIE), csrf_token):
        return _form(
            request,
            orchestrator,
            next_path=next_path,
            status_code=403,
            error="The sign-in form had expired or was not sent from this site. "
            "It has been reloaded: sign in again.",
            username=username,
        )
    try:
        session_id = orchestrator.accounts.sign_in(username, password, source=source_of(request))
    except SignInThrottled as exc:
        return _form(
            request,
            orchestrator,
            next_path=next_path,
            status_code=429,
            error=f"Too many failed sign-ins: try again in {exc.retry_after} s.",
            username=username,
            headers={"Retry-After": str(exc.retry_after)},
        )
    except SignInRefused as exc:
        return _form(
            request,
            orchestrator,
            next_path=next_path,
            status_code=401,
            error=exc.detail[:1].upper() + exc.detail[1:] + ".",
            username=username,
        )
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(
        COOKIE,
        session_id,
        httponly=True,
        samesite="lax",
        path="/",
        secure=orchestrator.ctx.settings.public_scheme == "https",
        max_age=int(orchestrator.ctx.settings.session_hours * 3600),
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response
