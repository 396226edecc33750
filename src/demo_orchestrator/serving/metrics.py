"""The `/metrics` registry of one app, and the router's request metrics.

`Monitoring` gathers what `/metrics` exports: the feed-derived counters and histograms
(`engine.metrics`), the gauges read from the store at scrape time (`engine.gauges`) and the
requests this process served. `RequestMetrics` is a thin ASGI wrapper put around the host router
at the composition root: it labels each request with the route name of its host (`portal`,
`candidate`, ... from the blueprints; `api` for the orchestrator's own host; `unknown` for any
other name), never with a demo's id, so the series stay few whatever the number of demos.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from demo_orchestrator.bootstrap import Orchestrator
from demo_orchestrator.engine.gauges import StoreCollector
from demo_orchestrator.engine.metrics import FeedMetrics
from demo_orchestrator.router.hosts import parse_demo_host

# The router adds ~1 ms; a demo answers in a few; a wake holds a request up to a few seconds.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Monitoring:
    """One registry per app: counters are per process, gauges come from the store."""

    def __init__(self, orchestrator: Orchestrator) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.feed = FeedMetrics(self.registry)
        self.registry.register(
            StoreCollector(orchestrator.ctx, orchestrator.pool, orchestrator.reconciler.busy)
        )
        self.unsubscribe = orchestrator.feed.subscribe(self.feed.observe)
        self.requests = Counter(
            "demo_router_requests",
            "HTTP requests served, by route name of the host and status class",
            ["route", "code"],
            registry=self.registry,
        )
        self.errors = Counter(
            "demo_router_errors",
            "HTTP requests answered 5xx or not answered at all, by route name of the host",
            ["route"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "demo_router_request_duration_seconds",
            "Seconds from a request's arrival to the end of its response, by route name",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        routes = {r for b in orchestrator.ctx.blueprints.values() for r in b.routes}
        self.routes = frozenset(routes)
        self.base_domain = orchestrator.ctx.settings.base_domain

    def exposition(self) -> bytes:
        return bytes(generate_latest(self.registry))

    def route_of(self, scope: Scope) -> str:
        host = ""
        for name, value in scope.get("headers") or ():
            if name == b"host":
                host = value.decode("latin-1")
                break
        parsed = parse_demo_host(host, self.base_domain) if host else None
        if parsed is None:
            return "unknown" if host.lower().startswith("demo-") else "api"
        return parsed[1] if parsed[1] in self.routes else "unknown"

    def wrap(self, app: ASGIApp) -> ASGIApp:
        return RequestMetrics(app, self)


class RequestMetrics:
    """Counts and times every HTTP request passing through `app`."""

    def __init__(self, app: ASGIApp, monitoring: Monitoring) -> None:
        self.app = app
        self.monitoring = monitoring

    def __getattr__(self, name: str) -> object:  # e.g. the router's aclose(), for the server
        return getattr(self.app, name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        monitoring = self.monitoring
        route = monitoring.route_of(scope)
        started = time.perf_counter()
        status = 0

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            monitoring.latency.labels(route).observe(time.perf_counter() - started)
            code = f"{status // 100}xx" if status else "none"
            monitoring.requests.labels(route, code).inc()
            if status >= 500 or status == 0:
                monitoring.errors.labels(route).inc()
