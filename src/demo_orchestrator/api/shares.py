"""`/api/v1/demo-instances/{id}/share`: one prospect link per demo (engine/shares.py says how)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict

from demo_orchestrator.domain.errors import NotFound
from demo_orchestrator.engine.shares import Shares
from demo_orchestrator.serving.deps import OrchestratorDep, PrincipalDep

router = APIRouter(prefix="/api/v1/demo-instances", tags=["demo instances"])


class ShareIn(BaseModel):
    """`read_only`: the demo as the rep sees it, every write refused; `guided`: the same, with
    the scenario's tour as a panel (without the rep's talking points)."""

    model_config = ConfigDict(extra="forbid")
    mode: Literal["read_only", "guided"] = "read_only"


class SharePublic(BaseModel):
    url: str
    mode: str
    expires_at: str | None


@router.post("/{instance_id}/share", status_code=201, response_model=SharePublic)
def share_instance(
    instance_id: str, body: ShareIn, orchestrator: OrchestratorDep, who: PrincipalDep
) -> dict[str, Any]:
    """Share the demo with the prospect (owner or admin; 409 unless ready). A second share
    replaces the first: the old link stops working once the demo has reloaded."""
    return Shares(orchestrator.instances).share(who, instance_id, body.mode)


@router.get("/{instance_id}/share", response_model=SharePublic)
def get_share(instance_id: str, orchestrator: OrchestratorDep, who: PrincipalDep) -> dict[str, Any]:
    """The demo's current share (its `expires_at` follows an extend); 404 when not shared."""
    found = Shares(orchestrator.instances).current(who, instance_id)
    if found is None:
        raise NotFound(
            f"{instance_id} is not shared (never, revoked, or ended by a rotation of its "
            f"sign-in links); POST .../{instance_id}/share makes a link"
        )
    return found


@router.delete("/{instance_id}/share", status_code=204, response_class=Response)
def revoke_share(instance_id: str, orchestrator: OrchestratorDep, who: PrincipalDep) -> Response:
    """Revoke the prospect's link (owner or admin; 409 unless ready)."""
    Shares(orchestrator.instances).revoke(who, instance_id)
    return Response(status_code=204)
