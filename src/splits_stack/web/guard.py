"""Page guards: load the signed-in user and keep each app to its own kind of user."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from splits_stack.web.auth import PORTAL_ROLES, current_user, site_url

Page = Callable[[Request], Response]
AsyncPage = Callable[[Request], Awaitable[Response]]


def _gate(request: Request, roles: set[str]) -> Response | None:
    user = current_user(request)
    request.state.user = user
    if user is None:
        return RedirectResponse(f"/personas?next={request.url.path}", status_code=303)
    if user["role"] not in roles:
        target = "candidate" if user["role"] == "candidate" else "portal"
        return RedirectResponse(site_url(request, target) + "/", status_code=303)
    return None


def portal_page(fn: Page) -> Page:
    @wraps(fn)
    def wrapper(request: Request) -> Response:
        return _gate(request, PORTAL_ROLES) or fn(request)

    return wrapper


def portal_action(fn: AsyncPage) -> AsyncPage:
    @wraps(fn)
    async def wrapper(request: Request) -> Response:
        denied = await run_in_threadpool(_gate, request, PORTAL_ROLES)
        return denied or await fn(request)

    return wrapper


def optional_user(request: Request) -> dict[str, Any] | None:
    request.state.user = current_user(request)
    return request.state.user  # type: ignore[no-any-return]
