"""The web UI: admin pages, sales self-service and usage, served by the orchestrator itself
(server-rendered templates, a small local script, no CDN)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from demo_orchestrator.domain.errors import DemoError
from demo_orchestrator.web import (
    login,
    notifications_page,
    pages,
    schedule_page,
    share_page,
    template_page,
    usage_page,
)
from demo_orchestrator.web.auth import LoginRequired, current_user, login_redirect
from demo_orchestrator.web.render import HERE, page

WEB_PREFIXES = ("/portal", "/login", "/logout")


def install(app: FastAPI) -> None:
    app.include_router(login.router)
    app.include_router(pages.router)
    app.include_router(usage_page.router)
    app.include_router(schedule_page.router)
    app.include_router(notifications_page.router)
    app.include_router(share_page.router)
    app.include_router(template_page.router)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.exception_handler(LoginRequired)
    async def _login(_: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(login_redirect(exc.next_path), status_code=303)


def serves(request: Request) -> bool:
    """Whether the request is for a web page (errors then render as a page, not as JSON)."""
    return request.url.path.startswith(WEB_PREFIXES)


def error_page(request: Request, exc: DemoError) -> Response:
    orchestrator = request.app.state.orchestrator
    try:
        user = current_user(request, orchestrator)
    except LoginRequired:
        user = None
    return page(
        request,
        "error.html",
        user=user,
        orchestrator=orchestrator,
        status_code=exc.status,
        title=exc.title,
        detail=exc.detail,
    )
