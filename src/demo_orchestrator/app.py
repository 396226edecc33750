"""The composition root: the REST API and the web pages in one FastAPI app, behind the host
router that sends `demo-<id>.<route>.<base domain>` requests to the demos. The API and the web
know nothing of each other; this module is the only place that knows both."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from demo_orchestrator import api, web
from demo_orchestrator.api.errors import demo_error
from demo_orchestrator.bootstrap import Orchestrator
from demo_orchestrator.domain.errors import DemoError
from demo_orchestrator.domain.instance import Status
from demo_orchestrator.engine.ended import EndedDemos
from demo_orchestrator.engine.routing import RouteInfo
from demo_orchestrator.router import HostRouter, RouteDecision, Upstream
from demo_orchestrator.router.decisions import EndedNotice
from demo_orchestrator.serving.allowed_hosts import AllowedHosts, allowed_names
from demo_orchestrator.serving.metrics import Monitoring
from demo_orchestrator.serving.problems import LastResort

WAKE_POLL_SECONDS = 0.02


def create_api(orchestrator: Orchestrator, *, manage_lifecycle: bool = False) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if manage_lifecycle:
            await anyio.to_thread.run_sync(orchestrator.start)
        try:
            yield
        finally:
            monitoring.unsubscribe()
            if manage_lifecycle:
                await anyio.to_thread.run_sync(orchestrator.stop)

    app = FastAPI(
        title="demo-orchestrator",
        version="0.1.0",
        description="One-click, isolated, temporary demo environments.",
        lifespan=lifespan,
    )
    app.state.orchestrator = orchestrator
    app.state.monitoring = monitoring = Monitoring(orchestrator)
    api.install(app)
    web.install(app)

    @app.exception_handler(DemoError)
    async def _error(request: Request, exc: DemoError) -> Response:
        return web.error_page(request, exc) if web.serves(request) else demo_error(exc)

    @app.get("/", include_in_schema=False)
    def landing() -> RedirectResponse:
        return RedirectResponse("/portal", status_code=303)

    return app


def create_app(orchestrator: Orchestrator, *, manage_lifecycle: bool = False) -> Any:
    """The API wrapped by the host router: one port serves the API and every demo."""
    inner = create_api(orchestrator, manage_lifecycle=manage_lifecycle)
    routes = orchestrator.routes
    hold = orchestrator.ctx.settings.wake_hold_seconds

    async def lookup(instance_id: str, route: str) -> RouteInfo:
        info = routes.cached(instance_id, route)
        if info is None:  # not in memory: one store read, off the event loop
            info = await anyio.to_thread.run_sync(routes.resolve, instance_id, route)
        return info

    ended = EndedDemos(orchestrator.ctx)

    async def ended_or_not_found(instance_id: str, route: str, info: RouteInfo) -> RouteDecision:
        """No live route: a demo that ended lately gets its ended page (410), others the 404."""
        known, gone = ended.cached(instance_id, route)
        if not known:
            gone = await anyio.to_thread.run_sync(ended.lookup, instance_id, route)
        if gone is None:
            return _decision(instance_id, info)
        notice = EndedNotice(gone.status, gone.contact_name, gone.contact_email, gone.company)
        return RouteDecision(
            kind="ended", instance_id=instance_id, status=gone.status, ended=notice
        )

    async def resolve(instance_id: str, route: str) -> RouteDecision:
        info = await lookup(instance_id, route)
        if info.kind == "not_found":
            return await ended_or_not_found(instance_id, route, info)
        if info.kind != "starting" or info.status != Status.SLEEPING.value:
            return _decision(instance_id, info)
        # A request to a sleeping demo wakes it, and is held until the demo answers. A demo
        # still falling asleep is woken once it is down (asking sooner would be refused).
        started = time.monotonic()
        asked = False
        while info.kind == "starting" and time.monotonic() - started < hold:
            if not asked and info.status == Status.SLEEPING.value:
                wake = orchestrator.instances.wake_for_request
                asked = await anyio.to_thread.run_sync(wake, instance_id)
            await anyio.sleep(WAKE_POLL_SECONDS)
            info = await lookup(instance_id, route)
        if info.kind != "proxy":
            return _decision(instance_id, info)
        waited = (time.monotonic() - started) * 1000
        return _decision(instance_id, info, f'wake;dur={waited:.0f};desc="cold start"')

    async def look(instance_id: str, route: str) -> RouteDecision:
        """Where a demo's background request goes, never waking it (an ended demo's page
        still learns that it ended: the banner's script reloads on the 410)."""
        info = await lookup(instance_id, route)
        if info.kind == "not_found":
            return await ended_or_not_found(instance_id, route, info)
        return _decision(instance_id, info)

    monitoring: Monitoring = inner.state.monitoring
    settings = orchestrator.ctx.settings
    names = allowed_names(settings.allowed_hosts, settings.host, settings.base_domain)
    return monitoring.wrap(
        LastResort(
            HostRouter(
                AllowedHosts(inner, names),
                base_domain=settings.base_domain,
                resolve=resolve,
                on_proxied=orchestrator.requests.note,
                quiet_resolve=look,
                connect_timeout=settings.router_connect_timeout_seconds,
                read_timeout=settings.router_read_timeout_seconds,
                total_timeout=settings.router_total_timeout_seconds,
            )
        )
    )


def _decision(instance_id: str, info: RouteInfo, server_timing: str | None = None) -> RouteDecision:
    upstream = Upstream(host=info.host, port=info.port) if info.host and info.port else None
    return RouteDecision(
        kind=info.kind,  # type: ignore[arg-type]
        instance_id=instance_id,
        upstream=upstream,
        status=info.status,
        message=info.message,
        server_timing=server_timing,
    )
