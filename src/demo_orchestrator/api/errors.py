"""How the API renders request errors (validation, unknown paths, crashes) as RFC 9457
problem+json with an actionable `detail`; the composition root routes `DemoError`s here too."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from demo_orchestrator.domain.errors import DemoError
from demo_orchestrator.serving.problems import problem, problem_of

log = logging.getLogger(__name__)

HINTS = {
    "duration_hours": "send a number of hours greater than 0, e.g. 2 or 0.25",
    "hours": "send a number of hours greater than 0, e.g. 1; the total life stays within "
    "DEMO_MAX_HOURS",
    "scenario": "see GET /api/v1/scenarios for the names",
    "limit": "use a whole number from 1 to 500",
}


def _describe(error: dict[str, Any]) -> str:
    loc = [str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path", "header")]
    field = ".".join(loc)
    if error.get("type") == "json_invalid":
        return 'the request body is not valid JSON; send a JSON object like {"duration_hours": 2}'
    if error.get("type") == "model_attributes_type" or (
        not field and error.get("type") == "dict_type"
    ):
        return "the request body must be a JSON object"
    if error.get("type") == "extra_forbidden":
        return f"{field}: unknown field; remove it (the fields are listed at /docs)"
    message = str(error.get("msg", "is invalid")).removeprefix("Value error, ")
    hint = HINTS.get(loc[-1] if loc else "", "")
    text = f"{field}: {message}" if field else message
    return f"{text} ({hint})" if hint else text


def allowed_methods(request: Request, named: str) -> list[str]:
    """The methods the documented operations of this request's path answer; `named` (what the
    router found) for a path the document does not list."""
    methods = {m.strip() for m in named.split(",") if m.strip()}
    for template, operations in request.app.openapi().get("paths", {}).items():
        if compile_path(template)[0].match(request.url.path):
            methods |= {m.upper() for m in operations}
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def demo_error(exc: DemoError) -> JSONResponse:
    if exc.status >= 500:
        log.warning("request failed: %s", exc.detail)
    return problem_of(exc)


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        detail = "; ".join(_describe(e) for e in errors[:5]) or "the request is not valid"
        return problem(422, "Invalid request", detail, "invalid-request")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = str(exc.detail)
        headers = dict(exc.headers or {})
        if exc.status_code == 400 and detail == "There was an error parsing the body":
            detail = (
                "the request body cannot be read: not UTF-8, nested too deeply or a number too "
                'long; send a JSON object like {"duration_hours": 2}'
            )
        elif exc.status_code == 404:
            detail = "no such API path; see /docs for the API"
        elif exc.status_code == 405:
            # Starlette names only the first route of the path; every route of it counts.
            named = headers.get("Allow", "")
            headers["Allow"] = allowed = ", ".join(allowed_methods(request, named))
            detail = f"this method is not allowed on this path (allowed: {allowed}); see /docs"
        response = problem(exc.status_code, "HTTP error", detail, f"http-{exc.status_code}")
        response.headers.update(headers)  # Allow on a 405, as RFC 9110 requires
        return response

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return problem(500, "Internal error", "the server failed; see its log", "internal")
