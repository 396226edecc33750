"""Sign-in routes of the identity service: one-click persona and rep sign-in, sign out, the picker.

The session cookies are HttpOnly and SameSite=Lax; each host (portal, candidate) keeps its own.
Who may see what is decided in `web/access.py`; the picker lists sign-in links to the rep only
(a link is a sign-in, so listing them to anyone else would make the demo's URL a key to it).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from splits_stack.services import identity
from splits_stack.web import access, share, tour
from splits_stack.web.context import Stack
from splits_stack.web.render import render
from splits_stack.web.tracking import SIGNED_IN_AS

PORTAL_ROLES = {"recruiter", "company_admin", "hiring_manager", "founder"}


def current_user(request: Request) -> dict[str, Any] | None:
    return access.viewer(request).user


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


def _invalid_link(request: Request) -> Response:
    return render(
        request,
        "shared/denied.html",
        status_code=403,
        reason="This sign-in link is not valid for this demo (it may have been replaced: "
        "ask for the demo's current link).",
    )


def demo_login(request: Request) -> Response:
    stack: Stack = request.app.state.stack
    email = request.query_params.get("email", "")
    token = request.query_params.get("token", "")
    user = identity.user_by_email(stack.engine, email) if email else None
    if user is None or not identity.verify_token(stack.settings.login_secret, email, token):
        return _invalid_link(request)
    wanted = "candidate" if user["role"] == "candidate" else "portal"
    if request.app.state.site != wanted:
        return RedirectResponse(
            f"{site_url(request, wanted)}/auth/demo-login?email={email}&token={token}", 303
        )
    old = request.cookies.get(identity.SESSION_COOKIE)
    if old:
        access.drop_session(stack, old)
    response = RedirectResponse(home_for(user), status_code=303)
    access.set_cookie(response, identity.SESSION_COOKIE, access.new_session(stack, user["id"]))
    # The sign-in itself is a visit of the sign-in page by this persona (web/tracking.py).
    request.scope.setdefault("state", {})[SIGNED_IN_AS] = user["name"]
    return response


def rep_login(request: Request) -> Response:
    """The rep's one-click sign-in: a view of the whole demo, and every persona's link.
    It works on either host (each keeps its own cookie) and lands on the picker; with `step=N`
    (the tour's deep link) it goes on to step N as its persona, on that step's host."""
    stack: Stack = request.app.state.stack
    token = request.query_params.get("token", "")
    if not identity.verify_rep_token(
        stack.settings.login_secret, stack.settings.instance_id, token
    ):
        return _invalid_link(request)
    step = request.query_params.get("step")
    response: Response
    if step is None:
        response = RedirectResponse("/personas", status_code=303)
    elif step.isdigit():
        response = tour.open_step(request, int(step))
    else:
        response = render(
            request,
            "shared/denied.html",
            status_code=400,
            reason=f"step must be a tour step's number (1, 2, ...), not {step[:20]!r}.",
        )
    access.set_cookie(response, access.REP_COOKIE, access.new_rep_session(stack))
    return response


def logout(request: Request) -> Response:
    stack: Stack = request.app.state.stack
    token = request.cookies.get(identity.SESSION_COOKIE)
    if token:
        access.drop_session(stack, token)
    response = RedirectResponse("/personas?flash=Signed+out", status_code=303)
    response.delete_cookie(identity.SESSION_COOKIE, path="/")
    response.delete_cookie(access.REP_COOKIE, path="/")
    response.delete_cookie(share.SHARE_COOKIE, path="/")
    return response


def personas(request: Request) -> Response:
    stack: Stack = request.app.state.stack
    seen = access.viewer(request)
    request.state.user = seen.user
    if not seen.rep:
        # No links for anyone but the rep: a persona stays who their link made them.
        return render(request, "shared/closed.html", status_code=200)
    people = identity.personas(stack.engine, stack.scenario)
    for person in people:
        person["link"] = login_link(request, person)
    return render(request, "shared/personas.html", personas=people)


def routes() -> list[Route]:
    return [
        Route("/auth/demo-login", demo_login),
        Route("/auth/rep-login", rep_login),
        Route(share.SHARE_PATH, share.share_login),
        Route("/auth/logout", logout, methods=["GET", "POST"]),
        Route("/personas", personas),
        Route("/auth/switch", personas),
        *tour.routes(),
    ]
