"""Sign-in routes of the identity service: one-click demo login, sign out, persona picker.

The session cookie is HttpOnly and SameSite=Lax; each host (portal, candidate) keeps its own.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from splits_stack.services import identity
from splits_stack.web.context import Stack
from splits_stack.web.render import render

PORTAL_ROLES = {"recruiter", "company_admin", "hiring_manager", "founder"}


def current_user(request: Request) -> dict[str, Any] | None:
    stack: Stack = request.app.state.stack
    token = request.cookies.get(identity.SESSION_COOKIE)
    if not token:
        return None
    user_id = stack.sessions.get(token)
    return identity.user_by_id(stack.engine, user_id) if user_id else None


def site_url(request: Request, site: str) -> str:
    """Base URL of the portal or candidate site: from the env, else derived from this host."""
    stack: Stack = request.app.state.stack
    configured = stack.settings.url_portal if site == "portal" else stack.settings.url_candidate
    if configured:
        return configured
    host = request.headers.get("host", "localhost")
    name, _, port = host.partition(":")
    if name.replace(".", "").isdigit() or name in ("localhost", "[::1]"):
        name = "localhost"  # bare IP or localhost: use the *.localhost names browsers resolve
    labels = name.split(".")
    other = "candidate" if site == "portal" else "portal"
    if other in labels:
        labels[labels.index(other)] = site
    elif site == "candidate":
        labels.insert(0, "candidate")
    return f"{request.url.scheme}://{'.'.join(labels)}{':' + port if port else ''}"


def login_link(request: Request, user: dict[str, Any]) -> str:
    stack: Stack = request.app.state.stack
    site = "candidate" if user["role"] == "candidate" else "portal"
    token = identity.login_token(stack.settings.login_secret, user["email"])
    return f"{site_url(request, site)}/auth/demo-login?email={user['email']}&token={token}"


def home_for(user: dict[str, Any]) -> str:
    return identity.HOME.get(user["role"], "/")


def demo_login(request: Request) -> Response:
    stack: Stack = request.app.state.stack
    email = request.query_params.get("email", "")
    token = request.query_params.get("token", "")
    user = identity.user_by_email(stack.engine, email) if email else None
    if user is None or not identity.verify_token(stack.settings.login_secret, email, token):
        return render(
            request,
            "shared/denied.html",
            status_code=403,
            reason="This sign-in link is not valid for this demo.",
        )
    wanted = "candidate" if user["role"] == "candidate" else "portal"
    if request.app.state.site != wanted:
        return RedirectResponse(
            f"{site_url(request, wanted)}/auth/demo-login?email={email}&token={token}", 303
        )
    old = request.cookies.get(identity.SESSION_COOKIE)
    if old:
        stack.sessions.drop(old)
    response = RedirectResponse(home_for(user), status_code=303)
    response.set_cookie(
        identity.SESSION_COOKIE,
        stack.sessions.create(user["id"]),
        httponly=True,
        samesite="lax",
        max_age=identity.SESSION_TTL_S,
        path="/",
    )
    return response


def logout(request: Request) -> Response:
    stack: Stack = request.app.state.stack
    token = request.cookies.get(identity.SESSION_COOKIE)
    if token:
        stack.sessions.drop(token)
    response = RedirectResponse("/personas?flash=Signed+out", status_code=303)
    response.delete_cookie(identity.SESSION_COOKIE, path="/")
    return response


def personas(request: Request) -> Response:
    stack: Stack = request.app.state.stack
    people = identity.personas(stack.engine, stack.scenario)
    for person in people:
        person["link"] = login_link(request, person)
    return render(request, "shared/personas.html", personas=people)


def routes() -> list[Route]:
    return [
        Route("/auth/demo-login", demo_login),
        Route("/auth/logout", logout, methods=["GET", "POST"]),
        Route("/personas", personas),
        Route("/auth/switch", personas),
    ]
