"""`/api/v1/demo-instances`: thin routes that parse input, call one service function, map the result."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse

from demo_orchestrator.api.schemas import (
    ExtendIn,
    InstanceCreate,
    InstancePage,
    InstancePublic,
    RejectIn,
)
from demo_orchestrator.domain.instance import as_utc
from demo_orchestrator.engine.service import CreateInstance, Principal
from demo_orchestrator.serving.deps import OrchestratorDep, PrincipalDep
from demo_orchestrator.serving.sse import event_stream

router = APIRouter(prefix="/api/v1/demo-instances", tags=["demo instances"])
EVENT_ID = re.compile(r"[0-9]{1,18}")


@router.post("", status_code=202, response_model=InstancePublic)
def create_instance(
    body: InstanceCreate,
    orchestrator: OrchestratorDep,
    who: PrincipalDep,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> dict[str, Any]:
    instance, created = orchestrator.instances.create(
        who,
        CreateInstance(
            scenario=body.scenario,
            duration_hours=body.duration_hours,
            name=body.name,
            prospect=body.prospect.model_dump(exclude_none=True) if body.prospect else None,
            notes=body.notes,
            blueprint=body.blueprint,
            idempotency_key=idempotency_key,
            meeting_at=as_utc(body.meeting_at) if body.meeting_at else None,
        ),
    )
    response.headers["Location"] = f"/api/v1/demo-instances/{instance['id']}"
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    return instance


@router.get("", response_model=InstancePage)
def list_instances(
    orchestrator: OrchestratorDep,
    who: PrincipalDep,
    status: str | None = None,
    scenario: str | None = None,
    owner: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
    q: Annotated[
        str | None, Query(max_length=200, description="Search id, name, owner, prospect.")
    ] = None,
) -> Response:
    page = orchestrator.instances.list_page(
        who, status=status, scenario=scenario, owner=owner, limit=limit, cursor=cursor, search=q
    )
    # Already in the documented shape (InstancePage, tested): one JSON encode, no validation of
    # every item again on the way out.
    return JSONResponse(page)


@router.get("/{instance_id}", response_model=InstancePublic)
def get_instance(
    instance_id: str, orchestrator: OrchestratorDep, who: PrincipalDep
) -> dict[str, Any]:
    return orchestrator.instances.get(who, instance_id)


def _action(name: str, summary: str) -> Callable[..., dict[str, Any]]:
    """A route that takes nothing but the instance and calls the service's `name` use case."""

    def route(instance_id: str, orchestrator: OrchestratorDep, who: PrincipalDep) -> dict[str, Any]:
        use_case: Callable[[Principal, str], dict[str, Any]] = getattr(orchestrator.instances, name)
        return use_case(who, instance_id)

    route.__name__ = f"{name}_instance"
    route.__doc__ = summary
    return route


for _path, _method, _name, _summary in (
    ("/{instance_id}", "DELETE", "delete", "Delete the demo: every resource of it is removed."),
    ("/{instance_id}/reset", "POST", "reset", "Back to pristine seed data, same URLs and expiry."),
    ("/{instance_id}/approve", "POST", "approve", "Start a request waiting for approval (admins)."),
    (
        "/{instance_id}/sleep",
        "POST",
        "sleep",
        "Stop the demo's processes, keep its data (409 unless ready).",
    ),
    ("/{instance_id}/wake", "POST", "wake", "Start a sleeping demo again (409 unless sleeping)."),
):
    router.add_api_route(
        _path,
        _action(_name, _summary),
        methods=[_method],
        status_code=202,
        response_model=InstancePublic,
    )


@router.post("/{instance_id}/rotate-links", response_model=InstancePublic)
def rotate_links(
    instance_id: str, orchestrator: OrchestratorDep, who: PrincipalDep
) -> dict[str, Any]:
    """New sign-in links: a new login secret, applied to the running demo; every old link and
    every session in the demo stop working (admin or owner; 409 unless ready, and on Kubernetes)."""
    return orchestrator.instances.rotate_links(who, instance_id)


@router.post("/{instance_id}/extend", response_model=InstancePublic)
def extend_instance(
    instance_id: str, body: ExtendIn, orchestrator: OrchestratorDep, who: PrincipalDep
) -> dict[str, Any]:
    return orchestrator.instances.extend(who, instance_id, body.hours)


@router.post("/{instance_id}/reject", response_model=InstancePublic)
def reject_instance(
    instance_id: str, body: RejectIn, orchestrator: OrchestratorDep, who: PrincipalDep
) -> dict[str, Any]:
    return orchestrator.instances.reject(who, instance_id, body.reason)


@router.get("/{instance_id}/logs", response_class=PlainTextResponse)
def instance_logs(
    instance_id: str,
    orchestrator: OrchestratorDep,
    who: PrincipalDep,
    service: str | None = None,
    tail: Annotated[int, Query(ge=1, le=10000)] = 200,
) -> str:
    return orchestrator.instances.logs(who, instance_id, service, tail)


@router.get("/{instance_id}/audit")
def instance_audit(
    instance_id: str, orchestrator: OrchestratorDep, who: PrincipalDep
) -> dict[str, Any]:
    items = orchestrator.instances.audit(who, instance_id)
    return {"items": items, "total": len(items)}


@router.get("/{instance_id}/events", response_class=StreamingResponse)
async def instance_events(
    instance_id: str,
    orchestrator: OrchestratorDep,
    who: PrincipalDep,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """Server-sent events: a `snapshot` of the instance, then every `step` and `status` change."""
    if last_event_id is not None and not EVENT_ID.fullmatch(last_event_id):
        last_event_id = None  # not an id we sent (ours fit in 64 bits): start afresh
    return await event_stream(orchestrator, who, instance_id, last_event_id)
