"""The prospect's share: a one-click link that shows the demo read-only, or guided by its tour.

The orchestrator hands out `/auth/share?token=...` (its engine/shares.py); the token is an HMAC
under a key derived from the demo's login secret for the current share, which the demo learns
through its settings (`DEMO_SHARE` = `<mode>:<nonce>`, reloaded in place). The session cookie
`splits_share` holds `<expiry>.<mac>`, a MAC over the demo, the share (mode and nonce) and the
expiry under another derived key: a replaced or revoked share (another nonce, or none) and a
rotated secret end every such session at once, with no row to clean up.

What a prospect sees: the portal as the scenario's first portal persona sees it (the widest view
a rep shows), without the persona switcher; every write (any method but GET/HEAD/OPTIONS) is
refused with 403 by `web/access.py`, and the pages hide their write controls (`read_only`).
A guided share adds the tour panel: each step's title, persona and page, never the rep's talking
points (the orchestrator does not send them).
"""

from __future__ import annotations

import hmac
import json
import time
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from splits_stack.services import identity
from splits_stack.web.context import Stack
from splits_stack.web.render import render

SHARE_COOKIE = "splits_share"
SHARE_PATH = "/auth/share"
MODES = ("read_only", "guided")
READ_METHODS = ("GET", "HEAD", "OPTIONS")


def current_share(stack: Stack) -> tuple[str, str] | None:
    """(mode, nonce) of the demo's share, or None when it is not shared."""
    mode, _, nonce = stack.settings.share.partition(":")
    return (mode, nonce) if mode in MODES and nonce else None


def new_share_session(stack: Stack) -> str:
    expires = int(time.time()) + identity.SESSION_TTL_S
    mac = identity.share_session_mac(
        stack.settings.login_secret, stack.settings.instance_id, stack.settings.share, expires
    )
    return f"{expires}.{mac}"


def share_mode(stack: Stack, cookie: str | None) -> str | None:
    """The mode of a valid share session, None for anything else (expired, replaced, revoked)."""
    share = current_share(stack)
    expires, _, mac = (cookie or "").partition(".")
    if share is None or not expires.isdigit() or int(expires) < time.time():
        return None
    wanted = identity.share_session_mac(
        stack.settings.login_secret, stack.settings.instance_id, stack.settings.share, int(expires)
    )
    return share[0] if hmac.compare_digest(wanted, mac) else None


def share_persona(stack: Stack) -> dict[str, Any] | None:
    """Whom the prospect sees the portal as: the scenario's first portal persona."""
    for person in identity.personas(stack.engine, stack.scenario):
        if person["role"] != "candidate":
            return person
    return None


def tour(stack: Stack) -> list[dict[str, str]]:
    try:
        steps = json.loads(stack.settings.share_tour or "[]")
    except ValueError:
        return []
    return [
        {
            "title": str(s.get("title", "")),
            "path": str(s.get("path", "/")),
            "persona": str(s.get("persona", "")),
        }
        for s in steps
        if isinstance(s, dict)
    ]


def tour_panel(request: Request) -> dict[str, Any] | None:
    """The guided tour's panel for this page: the current step (`?tour=N`, else the first step
    on this path, else the first) with links to the steps before and after it."""
    stack: Stack = request.app.state.stack
    steps = tour(stack)
    if not steps:
        return None
    asked = request.query_params.get("tour", "")
    index = int(asked) - 1 if asked.isdigit() and 0 < int(asked) <= len(steps) else None
    if index is None:
        on_path = [i for i, s in enumerate(steps) if s["path"].split("#")[0] == request.url.path]
        index = on_path[0] if on_path else 0

    def link(i: int) -> str:
        path, _, fragment = steps[i]["path"].partition("#")
        return f"{path}?{urlencode({'tour': i + 1})}{'#' + fragment if fragment else ''}"

    return {
        "number": index + 1,
        "total": len(steps),
        "step": steps[index],
        "go": link(index),
        "previous": link(index - 1) if index > 0 else None,
        "next": link(index + 1) if index + 1 < len(steps) else None,
    }


def share_login(request: Request) -> Response:
    """Open the demo through the prospect's link: a share session, no persona's sign-in."""
    stack: Stack = request.app.state.stack
    token = request.query_params.get("token", "")
    share = current_share(stack)
    valid = share is not None and hmac.compare_digest(
        identity.share_token(stack.settings.login_secret, stack.settings.instance_id, *share),
        token,
    )
    if not valid:
        return render(
            request,
            "shared/denied.html",
            status_code=403,
            reason="This share link is no longer valid: it was replaced or revoked, or the demo "
            "ended. Ask your contact for a new link.",
        )
    if request.app.state.site != "portal":
        from splits_stack.web.auth import site_url

        return RedirectResponse(f"{site_url(request, 'portal')}{SHARE_PATH}?token={token}", 303)
    assert share is not None
    response = RedirectResponse(
        "/?tour=1" if share[0] == "guided" and tour(stack) else "/", status_code=303
    )
    response.set_cookie(
        SHARE_COOKIE,
        new_share_session(stack),
        httponly=True,
        samesite="lax",
        max_age=identity.SESSION_TTL_S,
        path="/",
    )
    # A share is the only way in for its browser: no persona or rep session rides along.
    response.delete_cookie(identity.SESSION_COOKIE, path="/")
    response.delete_cookie("splits_rep", path="/")
    return response


def refusal(request: Request) -> Response:
    """What a write through a share gets: 403, JSON to scripts, a page to a browser."""
    detail = "this demo was shared read-only: changes are not allowed through a share link"
    if request.url.path.startswith("/api/") or "json" in request.headers.get("accept", ""):
        from starlette.responses import JSONResponse

        return JSONResponse({"detail": detail}, status_code=403)
    return render(request, "shared/denied.html", status_code=403, reason=detail)
