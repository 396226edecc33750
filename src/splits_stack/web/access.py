"""Who is looking at this demo: a persona (that persona's scope) or the rep (the whole demo).

A demo's URL is not a secret worth the name, so nothing but `/healthz`, the static files and the
sign-in routes answers without a session (`SessionRequired`, an ASGI middleware): the JSON API
answers 401 JSON, pages redirect to `/personas`, which then only says to open the demo through the
link from the orchestrator.

Two kinds of session, each tied to the demo's current login secret so that a rotation by the
orchestrator (a new `DEMO_LOGIN_SECRET`, applied by reload in place or a restart) ends them at once:
- a persona's: the cookie `splits_session` holds `<generation>.<token>`, where the token is the
  session store's (Redis or the `sessions` table) and the generation names the secret it was made
  under (`identity.session_generation`); a session of another generation is refused and dropped;
- the rep's: the cookie `splits_rep` holds `<expiry>.<mac>`, an HMAC under a key derived from the
  secret, so it needs no row of its own (the rep is no user of the demo) and dies with the secret.
A rep who signs in as a persona keeps the rep cookie, so the picker still lists every persona.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from splits_stack.services import identity
from splits_stack.web import share
from splits_stack.web.context import Stack

REP_COOKIE = "splits_rep"
# Paths that answer without a session: health, assets, and the ways to get a session.
OPEN_PATHS = (
    "/healthz",
    "/auth/demo-login",
    "/auth/rep-login",
    "/auth/share",
    "/auth/logout",
    "/personas",
)
OPEN_PREFIXES = ("/static/",)


@dataclass(frozen=True)
class Viewer:
    """The signed-in persona (None for the rep alone), whether the rep's session is present, and
    the mode of the prospect's share session (`web/share.py`; then `user` is whom it views as)."""

    user: dict[str, Any] | None
    rep: bool
    share: str | None = None

    @property
    def signed_in(self) -> bool:
        return self.rep or self.user is not None


def _stack(request: Request) -> Stack:
    return request.app.state.stack  # type: ignore[no-any-return]


def new_session(stack: Stack, user_id: int) -> str:
    """The cookie value of a new persona session under the current secret."""
    generation = identity.session_generation(stack.settings.login_secret)
    return f"{generation}.{stack.sessions.create(user_id)}"


def session_user_id(stack: Stack, cookie: str) -> int | None:
    generation, _, token = cookie.partition(".")
    if not token:
        return None
    current = identity.session_generation(stack.settings.login_secret)
    if not hmac.compare_digest(generation, current):
        stack.sessions.drop(token)  # made under a rotated secret: gone for good
        return None
    return stack.sessions.get(token)


def drop_session(stack: Stack, cookie: str) -> None:
    _, _, token = cookie.partition(".")
    if token:
        stack.sessions.drop(token)


def new_rep_session(stack: Stack) -> str:
    expires = int(time.time()) + identity.SESSION_TTL_S
    mac = identity.rep_session_mac(stack.settings.login_secret, stack.settings.instance_id, expires)
    return f"{expires}.{mac}"


def is_rep(stack: Stack, cookie: str | None) -> bool:
    expires, _, mac = (cookie or "").partition(".")
    if not expires.isdigit() or int(expires) < time.time():
        return False
    wanted = identity.rep_session_mac(
        stack.settings.login_secret, stack.settings.instance_id, int(expires)
    )
    return hmac.compare_digest(wanted, mac)


def viewer(request: Request) -> Viewer:
    """Memoised per request: the middleware and the page both ask."""
    cached = getattr(request.state, "viewer", None)
    if isinstance(cached, Viewer):
        return cached
    stack = _stack(request)
    user = None
    cookie = request.cookies.get(identity.SESSION_COOKIE)
    if cookie:
        user_id = session_user_id(stack, cookie)
        user = identity.user_by_id(stack.engine, user_id) if user_id else None
    rep = is_rep(stack, request.cookies.get(REP_COOKIE))
    mode = None
    if user is None and not rep:
        mode = share.share_mode(stack, request.cookies.get(share.SHARE_COOKIE))
        user = share.share_persona(stack) if mode else None
    found = Viewer(user=user, rep=rep, share=mode)
    request.state.viewer = found
    return found


def set_cookie(response: Response, name: str, value: str) -> None:
    response.set_cookie(
        name, value, httponly=True, samesite="lax", max_age=identity.SESSION_TTL_S, path="/"
    )


def is_open(path: str) -> bool:
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


class SessionRequired:
    """Refuses every request without a session, except to the open paths."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_open(scope["path"]):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        found = await run_in_threadpool(viewer, request)
        if found.share and scope["method"] not in share.READ_METHODS:
            await share.refusal(request)(scope, receive, send)  # read-only, whatever the path
            return
        if found.signed_in:
            await self.app(scope, receive, send)
            return
        refusal: Response
        if scope["path"].startswith("/api/"):
            refusal = JSONResponse(
                {
                    "detail": "sign in first: open this demo through a sign-in link from the "
                    "orchestrator (the instance's rep_login_url or a persona's login_url)"
                },
                status_code=401,
            )
        else:
            refusal = RedirectResponse(f"/personas?next={scope['path']}", status_code=303)
        await refusal(scope, receive, send)
