"""RFC 9457 problem+json responses: one shape for every error the HTTP entry points render."""

from __future__ import annotations

import logging
from typing import Any

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from demo_orchestrator.domain.errors import DemoError

log = logging.getLogger(__name__)


def problem(status: int, title: str, detail: str, slug: str, **extra: Any) -> JSONResponse:
    body = {
        "type": f"https://demo-orchestrator.dev/problems/{slug}",
        "title": title,
        "status": status,
        "detail": detail,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def problem_of(exc: DemoError) -> JSONResponse:
    response = problem(exc.status, exc.title, exc.detail, exc.type_slug)
    retry_after = getattr(exc, "retry_after", None)  # a limit says when to try again (429)
    if isinstance(retry_after, int):
        response.headers["Retry-After"] = str(retry_after)
    return response


class LastResort:
    """Outermost guard: an exception nothing else caught becomes a problem+json 500 (logged,
    never shown: no message, no traceback, no internal address), instead of the ASGI server's
    bare text/plain 500. An exception re-raised after a complete answer (FastAPI's handler
    answers, then re-raises) is dropped here, so the connection stays usable; one in the middle
    of an answer still ends the connection, which is all that can be done then."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def __getattr__(self, name: str) -> object:  # the router's aclose(), for the server
        return getattr(self.app, name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = finished = False

        async def sending(message: Message) -> None:
            nonlocal started, finished
            if message["type"] == "http.response.start":
                started = True
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                finished = True
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception:
            if finished:
                return  # answered (and logged) by the app's own handler
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            answer = problem(500, "Internal error", "the server failed; see its log", "internal")
            await answer(scope, receive, send)
