"""`/api/v1/warm-pool`: how many demos each scenario keeps ready ahead of demand, and how
claims went; admins set the targets."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from demo_orchestrator.serving.deps import OrchestratorDep, PrincipalDep

router = APIRouter(prefix="/api/v1/warm-pool", tags=["warm pool"])


class PoolItem(BaseModel):
    scenario: str
    blueprint: str
    target: int = Field(description="Ready demos to keep ahead of demand.")
    ready: int = Field(description="Members ready to be claimed now.")
    provisioning: int = Field(description="Members being made.")
    claims: int = Field(description="Creates served from the pool.")
    misses: int = Field(description="Creates that found no ready member while a target was set.")


class PoolPage(BaseModel):
    items: list[PoolItem]


class PoolTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: int = Field(
        ge=0, le=100, description="Ready demos to keep for this scenario (0-100); 0 empties it."
    )


@router.get("", response_model=PoolPage)
def warm_pool(orchestrator: OrchestratorDep, who: PrincipalDep) -> dict[str, Any]:
    return {"items": orchestrator.pool.status()}


@router.put("/{scenario}", response_model=PoolItem)
def set_target(
    scenario: str, body: PoolTarget, orchestrator: OrchestratorDep, who: PrincipalDep
) -> dict[str, Any]:
    item = orchestrator.pool.set_target(who, scenario, body.target)
    orchestrator.reconciler.wake()
    return item
