"""FastAPI dependencies: the wired orchestrator and the authenticated principal.

Routes take them as `Annotated` aliases, so tests can swap either with `dependency_overrides`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from demo_orchestrator.bootstrap import Orchestrator
from demo_orchestrator.engine.service import Principal


def get_orchestrator(request: Request) -> Orchestrator:
    orchestrator: Orchestrator = request.app.state.orchestrator
    return orchestrator


OrchestratorDep = Annotated[Orchestrator, Depends(get_orchestrator)]


def current_principal(request: Request, orchestrator: OrchestratorDep) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    source = request.client.host if request.client else None
    return orchestrator.accounts.authenticate(
        token.strip() if scheme.lower() == "bearer" else None, source=source
    )


PrincipalDep = Annotated[Principal, Depends(current_principal)]
