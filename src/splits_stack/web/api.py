"""The JSON read API, served on both hosts: `{"items": [...], "total": n}` with limit/offset.

Bad query values (limit outside 1..500, a negative offset, a non-integer id) get a 422 JSON error
naming the parameter, like FastAPI would, without paying FastAPI's import cost at start-up.
Each answer is narrowed to the session's scope (`readapi.Scope`): a persona's, or the whole demo
for the rep; without a session the middleware of `web/access.py` has already answered 401.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from splits_stack.services import ai, readapi
from splits_stack.web import access
from splits_stack.web.context import Stack

MAX_LIMIT = 500


class BadParam(ValueError):
    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


def _int(
    request: Request, name: str, default: int | None, lo: int | None = None, hi: int | None = None
) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadParam(name, f"{name} must be an integer, got {raw!r}") from None
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise BadParam(name, f"{name} must be between {lo} and {hi}, got {value}")
    return value


def scope_of(request: Request) -> readapi.Scope:
    """A persona's session reads that persona's scope (also for a rep who signed in as one)."""
    return readapi.Scope.of(access.viewer(request).user)


def _error(exc: BadParam) -> JSONResponse:
    return JSONResponse(
        {"detail": [{"loc": ["query", exc.name], "msg": str(exc), "type": "value_error"}]},
        status_code=422,
    )


def _lister(
    fn: Callable[..., tuple[list[dict[str, Any]], int]],
    int_filters: tuple[str, ...] = (),
    str_filters: tuple[str, ...] = (),
) -> Callable[[Request], JSONResponse]:
    def endpoint(request: Request) -> JSONResponse:
        stack: Stack = request.app.state.stack
        try:
            limit = _int(request, "limit", 100, 1, MAX_LIMIT)
            offset = _int(request, "offset", 0, 0, None)
            filters: dict[str, Any] = {k: _int(request, k, None) for k in int_filters}
        except BadParam as exc:
            return _error(exc)
        filters.update({k: request.query_params.get(k) or None for k in str_filters})
        items, total = fn(stack.engine, limit, offset, scope=scope_of(request), **filters)
        return JSONResponse({"items": items, "total": total, "limit": limit, "offset": offset})

    return endpoint


def matches(request: Request) -> JSONResponse:
    stack: Stack = request.app.state.stack
    try:
        job_id = _int(request, "job_id", None)
        limit = _int(request, "limit", 100, 1, MAX_LIMIT)
        offset = _int(request, "offset", 0, 0, None)
    except BadParam as exc:
        return _error(exc)
    if job_id is None:
        return _error(BadParam("job_id", "job_id is required"))
    scope = scope_of(request)
    if not readapi.sees_job(stack.engine, job_id, scope):
        return JSONResponse({"detail": f"job {job_id} does not exist"}, status_code=404)
    ranked = stack.cache.get_or_set(
        f"matches:{job_id}", 60, lambda: ai.matches(stack.engine, job_id)
    )
    if ranked is None:
        return JSONResponse({"detail": f"job {job_id} does not exist"}, status_code=404)
    visible = readapi.visible_candidate_ids(stack.engine, scope)
    if visible is not None:  # company staff: their pipelines and the open pool, not another's
        ranked = [m for m in ranked if m["candidate_id"] in visible]
    assert limit is not None and offset is not None
    return JSONResponse(
        {
            "items": ranked[offset : offset + limit],
            "total": len(ranked),
            "job_id": job_id,
            "limit": limit,
            "offset": offset,
        }
    )


def healthz(request: Request) -> JSONResponse:
    stack: Stack = request.app.state.stack
    if stack.db_ok():
        # `settings`: the version of the settings file it serves from (reload in place).
        return JSONResponse(
            {
                "status": "ok",
                "scenario": stack.meta.get("scenario"),
                "settings": stack.settings.settings_version or None,
            }
        )
    return JSONResponse(
        {"status": "unavailable", "detail": "database does not answer"}, status_code=503
    )


def routes() -> list[Route]:
    return [
        Route("/healthz", healthz),
        Route("/api/companies", _lister(readapi.companies)),
        Route("/api/jobs", _lister(readapi.jobs, ("company_id",), ("status",))),
        Route("/api/candidates", _lister(readapi.candidates)),
        Route(
            "/api/applications",
            _lister(readapi.applications, ("job_id", "candidate_id"), ("stage",)),
        ),
        Route("/api/recruiters", _lister(readapi.recruiters)),
        Route("/api/users", _lister(readapi.users, (), ("role",))),
        Route("/api/matches", matches),
    ]
