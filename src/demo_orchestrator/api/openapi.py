"""The OpenAPI document, completed: the Bearer scheme on the operations that need a token and the
error answers every operation can give, each an RFC 9457 problem+json.

FastAPI documents only the success answer and its own 422. Clients generated from the document,
and the fuzz tests (tests/integration/test_fuzz_api.py), need the rest: which operations take
`Authorization: Bearer`, and the problem+json answers for 401, 403, 404, 409, 422, 429 and 503.
Every operation under `/api/` takes a token (the routes there all depend on `current_principal`,
which tests/integration/test_fuzz_api.py checks by calling each without one), so a new route is
documented right without anyone remembering to.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details; `detail` says what to do about it.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "A URI naming the kind of problem."},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string", "description": "What went wrong and how to fix it."},
    },
}
WHY = {
    "400": "Malformed request (a body that cannot be parsed).",
    "401": "No token, or a token that is not valid.",
    "403": "The token's role may not do this.",
    "404": "No such demo (or one the caller may not see).",
    "405": "Method not allowed here; the Allow header lists the ones that are.",
    "409": "The demo's state does not allow this now.",
    "422": "Invalid input; `detail` names the field.",
    "429": "A quota or rate limit is reached.",
    "503": "A service the orchestrator needs cannot be reached.",
}


def _needs_token(path: str) -> bool:
    return path.startswith("/api/")


def _may_need_token(path: str) -> bool:
    return path == "/metrics"  # only when DEMO_METRICS_TOKEN is set


def _errors_of(path: str, method: str) -> list[str]:
    """The error statuses this operation can answer with."""
    codes = ["400", "405", "422", "503"]
    if _needs_token(path):
        codes += ["401", "403"]
    elif _may_need_token(path):
        codes.append("401")
    if "{" in path:
        codes.append("404")
    if method in {"post", "put", "patch", "delete"}:
        codes += ["409", "429"]
    if path.endswith("/events"):
        codes.append("429")  # the cap on open streams, per user and in total
    if path.endswith("/self"):
        codes.append("429")  # a demo's reads of itself: DEMO_ACTIVITY_RATE_PER_DEMO
    return sorted(set(codes))


def _problem(code: str) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "description": WHY[code],
        "content": {"application/problem+json": {"schema": PROBLEM_REF}},
    }
    if code == "405":
        answer["headers"] = {
            "Allow": {"description": "The methods allowed.", "schema": {"type": "string"}}
        }
    return answer


def complete(app: FastAPI) -> dict[str, Any]:
    """Build (once) the document with security and error answers added."""
    if app.openapi_schema:
        return app.openapi_schema
    document = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    components = document.setdefault("components", {})
    components.setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    components["securitySchemes"] = {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token (`democtl token create`, or DEMO_ADMIN_TOKEN).",
        }
    }
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            if _needs_token(path):
                operation["security"] = [{"bearer": []}]
            elif _may_need_token(path):
                operation["security"] = [{}, {"bearer": []}]
            answers = operation.setdefault("responses", {})
            for code in _errors_of(path, method):
                answers[code] = _problem(code)  # replaces FastAPI's own 422 (not problem+json)
    app.openapi_schema = document
    return document


def install(app: FastAPI) -> None:
    app.openapi = lambda: complete(app)  # type: ignore[method-assign]
