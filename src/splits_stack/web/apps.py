"""Assemble the two Starlette apps (portal, candidate) that share one `Stack`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from splits_stack.web import access, api, auth, live
from splits_stack.web.context import Stack
from splits_stack.web.tracking import Tracking

STATIC = Path(__file__).resolve().parent / "static"


def build_apps(stack: Stack) -> dict[str, Any]:
    from splits_stack.web import candidate, portal

    apps: dict[str, Any] = {}
    for site, pages in (("portal", portal.routes()), ("candidate", candidate.routes())):
        app = Starlette(
            routes=[
                *api.routes(),
                *auth.routes(),
                *live.routes(),
                *pages,
                Mount("/static", StaticFiles(directory=STATIC), name="static"),
            ],
            # Nothing but health, assets and sign-in answers without a session (web/access.py);
            # page views are counted outside that check (web/tracking.py).
            middleware=[Middleware(Tracking), Middleware(access.SessionRequired)],
        )
        app.state.stack = stack
        app.state.site = site
        apps[site] = app
    return apps
