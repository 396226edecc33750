"""The REST API under `/api/v1` plus `/healthz` and `/metrics`: thin routes over the services."""

from __future__ import annotations

from fastapi import FastAPI

from demo_orchestrator.api import (
    activity,
    errors,
    instances,
    openapi,
    shares,
    system,
    templates,
    tokens,
    warm_pool,
    webhooks,
)


def install(app: FastAPI) -> None:
    errors.install(app)
    app.include_router(instances.router)
    app.include_router(activity.router)
    app.include_router(system.router)
    app.include_router(tokens.router)
    app.include_router(warm_pool.router)
    app.include_router(webhooks.router)
    app.include_router(shares.router)
    app.include_router(templates.router)
    openapi.install(app)
