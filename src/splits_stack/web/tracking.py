"""Counts page visits for the orchestrator's engagement timeline (services/activity.py).

An ASGI middleware outside the session check: once a page has answered, it reads which route
template matched (Starlette leaves it in `scope["route"]`) and who was looking (the viewer the
session check memoised, or the persona a one-click sign-in just made), and records one visit.
Only page views count: GETs that answered 2xx (and a persona's one-click sign-in, a redirect),
not redirects elsewhere, not the JSON API the pages call, not assets, health or the sign-out. The query string is never read.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

IGNORED_PREFIXES = (
    *("/static/", "/api/", "/healthz", "/auth/logout", "/auth/switch", "/personas"),
    "/__demo/",  # the page script's live updates and lifetime (web/live.py): not page views
)
_CONVERTOR = re.compile(r"\{(\w+):\w+\}")
SIGNED_IN_AS = "activity_persona"  # set in scope["state"] by a successful persona sign-in


def pattern_of(route: Any) -> str | None:
    """`/jobs/{job_id:int}` -> `/jobs/{job_id}`: the template, without Starlette's convertors."""
    path = getattr(route, "path", None)
    return _CONVERTOR.sub(r"{\1}", path) if isinstance(path, str) else None


def viewer_of(scope: Scope) -> tuple[str | None, bool]:
    """(the persona's name or None, whether anyone was signed in at all: a persona or the rep)."""
    state = scope.get("state") or {}
    if state.get(SIGNED_IN_AS):
        return str(state[SIGNED_IN_AS]), True
    viewer = state.get("viewer")
    user = getattr(viewer, "user", None)
    if user:
        return str(user["name"]), True
    return None, bool(getattr(viewer, "rep", False))


class Tracking:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or scope["path"].startswith(IGNORED_PREFIXES)
        ):
            await self.app(scope, receive, send)
            return
        status = 500

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, watch)
        pattern = pattern_of(scope.get("route"))
        persona, signed_in = viewer_of(scope)
        signed_in_now = bool((scope.get("state") or {}).get(SIGNED_IN_AS))
        if not (200 <= status < 300 or signed_in_now) or pattern is None or not signed_in:
            return  # refused, redirected, unknown, or nobody yet
        app = scope.get("app")
        stack = getattr(getattr(app, "state", None), "stack", None)
        reporter = getattr(stack, "reporter", None)
        if reporter is None:
            return
        reporter.record(
            persona=persona,
            route=str(getattr(getattr(app, "state", None), "site", "")),
            path=pattern,
            page=scope["path"],
        )
