"""Templates saved from a demo: `POST .../{id}/save-as-template`, `DELETE /api/v1/scenarios/{name}`.

Thin routes over `engine.templates.Templates`; `GET /api/v1/scenarios` (api/system.py) lists the
built-in scenarios and the saved templates the caller may use.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from demo_orchestrator.bootstrap import Orchestrator
from demo_orchestrator.engine.templates import Templates
from demo_orchestrator.serving.deps import OrchestratorDep, PrincipalDep

router = APIRouter(tags=["scenarios"])


class SaveAsTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        max_length=200,  # checked against the name rule by the service, with a clear detail
        description="The new scenario's name: ^[a-z][a-z0-9-]{2,39}$, not taken by a built-in "
        "scenario or another saved template.",
    )
    title: str | None = Field(default=None, max_length=200, description="Shown in the UI.")
    shared: bool = Field(
        default=False, description="Visible to and usable by the whole team; else only yours."
    )


class SavedScenario(BaseModel):
    """A scenario as `GET /api/v1/scenarios` lists it; a saved one has `based_on` and an owner."""

    name: str
    title: str
    description: str
    default: bool
    blueprint: str
    counts: dict[str, int] = Field(description="Rows per table, recomputed from the saved data.")
    personas: list[dict[str, Any]]
    tour: list[dict[str, Any]]
    hourly_usd: float
    based_on: str | None = Field(description="The built-in scenario it was saved from.")
    owner: str
    shared: bool
    created_at: str


def templates_of(orchestrator: Orchestrator) -> Templates:
    return Templates(orchestrator.ctx, orchestrator.instances)


@router.post(
    "/api/v1/demo-instances/{instance_id}/save-as-template",
    status_code=201,
    response_model=SavedScenario,
)
def save_as_template(
    instance_id: str, body: SaveAsTemplate, orchestrator: OrchestratorDep, who: PrincipalDep
) -> dict[str, Any]:
    """Save a ready demo's current data as a new scenario based on the demo's scenario."""
    return templates_of(orchestrator).save(
        who, instance_id, name=body.name, title=body.title, shared=body.shared
    )


@router.delete("/api/v1/scenarios/{name}", status_code=204)
def delete_template(name: str, orchestrator: OrchestratorDep, who: PrincipalDep) -> Response:
    """Delete a saved template (its owner or an admin); demos made from it keep their data."""
    templates_of(orchestrator).delete(who, name)
    return Response(status_code=204)
