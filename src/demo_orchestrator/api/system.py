"""Health, metrics, scenarios, usage and the audit log (tokens and users: api/tokens.py)."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from demo_orchestrator.api.schemas import ApiDatetime
from demo_orchestrator.domain.errors import Unauthorized
from demo_orchestrator.domain.instance import as_utc
from demo_orchestrator.engine.templates import Templates
from demo_orchestrator.engine.usage import usage as compute_usage
from demo_orchestrator.serving.deps import OrchestratorDep, PrincipalDep
from demo_orchestrator.serving.metrics import Monitoring

router = APIRouter()


@router.get("/healthz", tags=["system"])
def healthz(orchestrator: OrchestratorDep) -> dict[str, Any]:
    with orchestrator.ctx.db.read() as session:
        session.execute(text("SELECT 1"))
    orchestrator.reachable()  # 503 problem+json naming the cluster when it cannot be reached
    return {"status": "ok", "busy": len(orchestrator.reconciler.busy())}


@router.get(
    "/metrics",
    tags=["system"],
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus exposition."}},
)
def metrics(request: Request, orchestrator: OrchestratorDep) -> Response:
    """Prometheus exposition: see the README's Monitoring section for every series."""
    expected = orchestrator.ctx.settings.metrics_token
    if expected is not None:
        scheme, _, given = (request.headers.get("authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), expected.encode()):
            raise Unauthorized(
                "/metrics is protected by DEMO_METRICS_TOKEN: send `Authorization: Bearer "
                "<token>` (Prometheus: the scrape config's `authorization` credentials)"
            )
    monitoring: Monitoring = request.app.state.monitoring
    return Response(monitoring.exposition(), media_type=CONTENT_TYPE_LATEST)


@router.get("/api/v1/scenarios", tags=["scenarios"])
def scenarios(orchestrator: OrchestratorDep, who: PrincipalDep) -> dict[str, Any]:
    """The built-in scenarios, then the saved templates the caller may use (`based_on` set)."""
    items = Templates(orchestrator.ctx, orchestrator.instances).list(who)
    return {"items": items, "total": len(items)}


@router.get("/api/v1/usage", tags=["usage"])
def usage(
    orchestrator: OrchestratorDep,
    who: PrincipalDep,
    start: Annotated[ApiDatetime | None, Query(alias="from")] = None,
    end: Annotated[ApiDatetime | None, Query(alias="to")] = None,
    group_by: Annotated[
        str,
        Query(description="owner, scenario, day, instance, prospect (company) or opportunity."),
    ] = "owner",
) -> dict[str, Any]:
    now = datetime.now(UTC)
    end = as_utc(end) if end else now
    start = as_utc(start) if start else end - timedelta(days=30)
    return compute_usage(orchestrator.ctx, who, start=start, end=end, group_by=group_by)


@router.get("/api/v1/audit", tags=["audit"])
def audit_log(
    orchestrator: OrchestratorDep,
    who: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Who did what, when and from where, newest first (admins only)."""
    items = orchestrator.instances.audit_log(who, limit)
    return {"items": items, "total": len(items)}
