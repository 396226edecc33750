"""Builds the ASGI application: the REST API, and the host router in front of it that sends
`demo-<id>.<route>.<base domain>` requests to the demos."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from demo_orchestrator import web
from demo_orchestrator.api import errors, instances, system
from demo_orchestrator.bootstrap import Orchestrator
from demo_orchestrator.engine.routing import resolve_route
from demo_orchestrator.router import HostRouter, RouteDecision, Upstream


def create_api(orchestrator: Orchestrator, *, manage_lifecycle: bool = False) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if manage_lifecycle:
            await anyio.to_thread.run_sync(orchestrator.start)
        try:
            yield
        finally:
            if manage_lifecycle:
                await anyio.to_thread.run_sync(orchestrator.stop)

    app = FastAPI(
        title="demo-orchestrator",
        version="0.1.0",
        description="One-click, isolated, temporary demo environments.",
        lifespan=lifespan,
    )
    app.state.orchestrator = orchestrator
    errors.install(app)
    app.include_router(instances.router)
    app.include_router(system.router)

    web.install(app)

    @app.get("/", include_in_schema=False)
    def landing() -> RedirectResponse:
        return RedirectResponse("/portal", status_code=303)

    return app


def create_app(orchestrator: Orchestrator, *, manage_lifecycle: bool = False) -> Any:
    """The API wrapped by the host router: one port serves the API and every demo."""
    api = create_api(orchestrator, manage_lifecycle=manage_lifecycle)

    async def resolve(instance_id: str, route: str) -> RouteDecision:
        info = await anyio.to_thread.run_sync(resolve_route, orchestrator.ctx, instance_id, route)
        upstream = Upstream(host=info.host, port=info.port) if info.host and info.port else None
        return RouteDecision(
            kind=info.kind,  # type: ignore[arg-type]
            instance_id=instance_id,
            upstream=upstream,
            status=info.status,
            message=info.message,
        )

    return HostRouter(api, base_domain=orchestrator.ctx.settings.base_domain, resolve=resolve)
