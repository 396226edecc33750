"""The rep's tour inside the demo: a panel on every page of the rep's session, and "Go" to a step.

The steps come from the orchestrator as `DEMO_TOUR` (a JSON list, one object per step in order:
`step`, `persona`, `email`, `route`, `page`, `action`, `talking_point`, `expect`), through the
settings like every other value it gives the demo (read here by `tour_json`, which works whether
`Settings` has a `tour` field or not: before it had one the value is read from the settings file
or the environment the settings came from).

Who sees the panel: the rep's session only (a rep signed in as a persona keeps the rep cookie, so
it shows then too); a persona alone and a prospect's share never (a guided share keeps its own
panel, web/share.py). The current step is the one whose persona and page are this page (on this
host), else the last one "gone" to, which the cookie `splits_tour` remembers per host.

"Go" (`POST /__demo/tour/go/<n>`, a form of the panel) signs in as the step's persona and opens
its page; a step on the other host goes through that host's rep sign-in with `step=<n>` (the deep
link of `/auth/rep-login`), which carries the rep's session there. The form carries a token
derived from the rep's cookie, so another site (or another demo under the same parent domain)
cannot make the rep's browser switch persona.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from splits_stack.services import identity
from splits_stack.web import access
from splits_stack.web.context import Stack
from splits_stack.web.render import render

TOUR_COOKIE = "splits_tour"
GO_PATH = "/__demo/tour/go"
ROUTES = ("portal", "candidate")


@dataclass(frozen=True)
class Step:
    number: int
    persona: str
    email: str
    route: str
    page: str
    action: str
    talking_point: str

    @property
    def path(self) -> str:
        """The page without its fragment (`/jobs/1#matches` is on `/jobs/1`)."""
        return self.page.split("#", 1)[0] or "/"


def tour_json(settings: Any) -> str:
    """`DEMO_TOUR` as the settings hold it, else as the settings file or environment has it."""
    given = getattr(settings, "tour", "")
    if given:
        return str(given)
    return _tour_from_env(settings.settings_file, settings.settings_version)


@lru_cache(maxsize=8)
def _tour_from_env(path: str, version: str) -> str:  # version: a reload re-reads the file
    if path:
        try:
            with open(path) as handle:
                return str(json.load(handle).get("env", {}).get("DEMO_TOUR", ""))
        except (OSError, ValueError, AttributeError):
            return ""
    return os.environ.get("DEMO_TOUR", "")


@lru_cache(maxsize=8)
def _parse(raw: str) -> tuple[Step, ...]:
    try:
        given = json.loads(raw or "[]")
    except ValueError:
        return ()
    if not isinstance(given, list):
        return ()
    out: list[Step] = []
    for item in given:
        if not isinstance(item, dict) or not str(item.get("page", "")).startswith("/"):
            continue
        route = str(item.get("route") or "portal")
        out.append(
            Step(
                number=len(out) + 1,
                persona=str(item.get("persona", "")),
                email=str(item.get("email", "")),
                route=route if route in ROUTES else "portal",
                page=str(item["page"]),
                action=str(item.get("action", "")),
                talking_point=str(item.get("talking_point", "")),
            )
        )
    return tuple(out)


def steps(stack: Stack) -> tuple[Step, ...]:
    """The scenario's tour, in order; empty when the orchestrator gave none."""
    return _parse(tour_json(stack.settings))


def go_token(stack: Stack, rep_cookie: str) -> str:
    """What the panel's forms carry: bound to this rep session and to the demo's secret."""
    key = hmac.new(
        stack.settings.login_secret.encode(), b"\x00splits:tour-go", hashlib.sha256
    ).digest()
    return hmac.new(key, rep_cookie.encode(), hashlib.sha256).hexdigest()


def _last_gone(request: Request, total: int) -> int | None:
    value = request.cookies.get(TOUR_COOKIE, "")
    return int(value) if value.isdigit() and 0 < int(value) <= total else None


def _is_persona(user: dict[str, Any] | None, step: Step) -> bool:
    if user is None:
        return False
    if step.email and str(user.get("email", "")).lower() == step.email.lower():
        return True
    return bool(step.persona) and user.get("name") == step.persona


def current_step(
    request: Request, tour: tuple[Step, ...], user: dict[str, Any] | None
) -> int | None:
    """The step this page is (its persona, page and host), else the last one gone to."""
    site = request.app.state.site
    last = _last_gone(request, len(tour))
    here = [
        s.number
        for s in tour
        if s.route == site and s.path == request.url.path and _is_persona(user, s)
    ]
    if here:
        return last if last in here else here[0]
    return last


def panel(request: Request) -> dict[str, Any] | None:
    """What the rep's panel shows on this page, None for anyone but the rep or without a tour."""
    stack: Stack = request.app.state.stack
    seen = access.viewer(request)
    if not seen.rep or seen.share:
        return None
    tour = steps(stack)
    if not tour:
        return None
    return {
        "rep": True,
        "steps": tour,
        "current": current_step(request, tour, seen.user),
        "go_path": GO_PATH,
        "token": go_token(stack, request.cookies.get(access.REP_COOKIE, "")),
    }


def _refused(request: Request, status: int, reason: str) -> Response:
    return render(request, "shared/denied.html", status_code=status, reason=reason)


def _persona_user(stack: Stack, step: Step) -> dict[str, Any] | None:
    user = identity.user_by_email(stack.engine, step.email) if step.email else None
    if user is not None:
        return user
    # The prospect's transform may have given the persona another e-mail: the name still holds.
    for person in identity.personas(stack.engine, stack.scenario):
        if person.get("name") == step.persona:
            return person
    return None


def open_step(request: Request, number: int) -> Response:
    """Sign in as step `number`'s persona and open its page (through the other host's rep
    sign-in when the step is there). The caller has checked that this is the rep."""
    stack: Stack = request.app.state.stack
    tour = steps(stack)
    if not tour:
        return _refused(request, 404, "This demo has no tour: open a persona from the picker.")
    if not 0 < number <= len(tour):
        return _refused(
            request,
            400,
            f"This demo's tour has steps 1 to {len(tour)}; there is no step {number}. "
            "Pick a step from the tour panel.",
        )
    step = tour[number - 1]
    if step.route != request.app.state.site:
        from splits_stack.web.auth import site_url

        token = identity.rep_token(stack.settings.login_secret, stack.settings.instance_id)
        query = urlencode({"token": token, "step": number})
        return RedirectResponse(f"{site_url(request, step.route)}/auth/rep-login?{query}", 303)
    user = _persona_user(stack, step)
    if user is None:
        return _refused(
            request,
            409,
            f"Step {number}'s persona {step.persona} is not a user of this demo; "
            "pick a persona from the picker instead.",
        )
    response = RedirectResponse(step.page, status_code=303)
    old = request.cookies.get(identity.SESSION_COOKIE)
    if old:
        access.drop_session(stack, old)
    access.set_cookie(response, identity.SESSION_COOKIE, access.new_session(stack, user["id"]))
    access.set_cookie(response, TOUR_COOKIE, str(number))
    # Not counted as a page (web/tracking.py counts the step's page that follows, which is what
    # the orchestrator matches to the tour), nor as a persona's sign-in (those are the links').
    return response


async def go(request: Request) -> Response:
    """The panel's "Go": the rep's session only, with the panel's token."""
    from starlette.concurrency import run_in_threadpool

    stack: Stack = request.app.state.stack
    form = await request.form()
    seen = await run_in_threadpool(access.viewer, request)
    if not seen.rep:
        return _refused(
            request, 403, "The tour is the rep's: open the demo through the rep's sign-in link."
        )
    given = str(form.get("token", ""))
    wanted = go_token(stack, request.cookies.get(access.REP_COOKIE, ""))
    if not hmac.compare_digest(given, wanted):
        return _refused(
            request, 403, "This tour button is out of date: reload the page and press Go again."
        )
    return await run_in_threadpool(open_step, request, int(request.path_params["number"]))


def routes() -> list[Route]:
    return [Route(GO_PATH + "/{number:int}", go, methods=["POST"])]
