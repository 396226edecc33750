"""The share section's form posts on a demo's detail page: create (or replace) and revoke the
prospect's link. Thin: the same service as `POST`/`DELETE /api/v1/demo-instances/{id}/share`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import Response

from demo_orchestrator.domain.errors import DemoError
from demo_orchestrator.engine.shares import Shares
from demo_orchestrator.serving.deps import OrchestratorDep
from demo_orchestrator.web.auth import UserDep, verify_csrf
from demo_orchestrator.web.pages import detail_path
from demo_orchestrator.web.render import back

router = APIRouter(include_in_schema=False)
CsrfField = Annotated[str, Form()]


@router.post("/portal/demo-instances/{instance_id}/share/create")
def create_share(
    instance_id: str,
    orchestrator: OrchestratorDep,
    user: UserDep,
    csrf_token: CsrfField = "",
    mode: Annotated[str, Form()] = "read_only",
) -> Response:
    verify_csrf(user, csrf_token)
    here = detail_path(user, instance_id)
    try:
        Shares(orchestrator.instances).share(user.principal, instance_id, mode)
    except DemoError as exc:
        return back(here, error=exc.detail)
    return back(here, notice="Shared: copy the link for the prospect (any earlier link has ended)")


@router.post("/portal/demo-instances/{instance_id}/share/revoke")
def revoke_share(
    instance_id: str, orchestrator: OrchestratorDep, user: UserDep, csrf_token: CsrfField = ""
) -> Response:
    verify_csrf(user, csrf_token)
    here = detail_path(user, instance_id)
    try:
        Shares(orchestrator.instances).revoke(user.principal, instance_id)
    except DemoError as exc:
        return back(here, error=exc.detail)
    return back(here, notice="Share revoked: the prospect's link has stopped working")
