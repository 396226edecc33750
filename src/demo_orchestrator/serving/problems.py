"""RFC 9457 problem+json responses: one shape for every error the HTTP entry points render."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from demo_orchestrator.domain.errors import DemoError


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
