"""The ASGI middleware that puts the orchestrator and every demo behind one port.

Requests for ``demo-<id>.<route>.<base domain>`` go to that demo's service (after asking the
resolver where it is and whether it is up); everything else goes to the wrapped orchestrator app
untouched. The router keeps no instance state of its own: it asks the resolver on every request,
so sleeping, waking and deleting demos never leave it with a stale view.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from demo_orchestrator.router import pages
from demo_orchestrator.router.decisions import Resolver, RouteDecision
from demo_orchestrator.router.framing import malformed
from demo_orchestrator.router.headers import header
from demo_orchestrator.router.hosts import looks_like_demo_host, parse_demo_host
from demo_orchestrator.router.proxy import HttpProxy, UpstreamTimedOut, UpstreamUnavailable
from demo_orchestrator.router.websocket import deny, proxy_websocket

log = logging.getLogger(__name__)

# Paths a demo page requests by itself (its stack serves them: the ending banner's poll, the
# live event stream).
BACKGROUND_PREFIX = "/__demo/"


def problem_for(decision: RouteDecision) -> pages.Problem | None:
    """The page to show instead of proxying, or None when the request may go through."""
    iid = decision.instance_id
    if decision.kind == "proxy":
        return None if decision.upstream is not None else pages.not_answering(iid)
    if decision.kind == "starting":
        return pages.starting(iid, decision.status, decision.message)
    if decision.kind == "failed":
        return pages.failed(iid, decision.status, decision.message)
    if decision.kind == "ended" and decision.ended is not None:
        return pages.ended(iid, decision.ended)
    return pages.not_found(iid)


def _with_header(send: Send, name: bytes, value: str) -> Send:
    """`send` that adds one header to the response start."""

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [*message.get("headers", []), (name, value.encode("latin-1"))]
            message = {**message, "headers": headers}
        await send(message)

    return sending


class HostRouter:
    """Route by ``Host``: demo hosts are proxied, all other requests reach ``app``."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        base_domain: str,
        resolve: Resolver,
        on_proxied: Callable[[str], None] | None = None,
        quiet_resolve: Resolver | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        total_timeout: float | None = None,
    ) -> None:
        self.app = app
        self.base_domain = base_domain
        self._resolve = resolve
        self._on_proxied = on_proxied
        self._quiet_resolve = quiet_resolve or resolve
        self._http = HttpProxy(
            connect_timeout=connect_timeout, read_timeout=read_timeout, total_timeout=total_timeout
        )

    async def aclose(self) -> None:
        """Close the pooled upstream connections."""
        await self._http.aclose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in {"http", "websocket"}:
            await self.app(scope, receive, send)
            return
        if (why := malformed(scope)) is not None:
            # Ambiguous framing or target (RFC 9112): answered here, never forwarded.
            if scope["type"] == "websocket" and (await receive())["type"] != "websocket.connect":
                return
            # problem+json whatever the Accept: a malformed request is no visitor's page view
            bad = pages.Problem(400, "Bad request", why)
            await self._refuse(scope, send, bad, accept="application/problem+json")
            return
        host = header(scope["headers"], b"host") or ""
        target = parse_demo_host(host, self.base_domain)
        if target is None and not looks_like_demo_host(host, self.base_domain):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket" and (await receive())["type"] != "websocket.connect":
            return  # ASGI: the first message is websocket.connect; anything else, give up
        if target is None:
            await self._refuse(scope, send, pages.not_found(None))
            return
        instance_id, route = target
        # A page's own background requests (the demo's `/__demo/...` polls and event stream) are
        # nobody's visit: they neither wake a sleeping demo nor count as activity, so an open tab
        # does not undo a sleep or keep an idle demo awake.
        background = scope.get("path", "").startswith(BACKGROUND_PREFIX)
        resolve = self._quiet_resolve if background else self._resolve
        try:
            decision = await resolve(instance_id, route)
        except Exception:
            log.exception("resolving %s (%s) failed", instance_id, route)
            await self._refuse(scope, send, pages.lookup_failed(instance_id))
            return
        problem = problem_for(decision)
        if problem is None and decision.upstream is not None:
            if not background:
                self._notify(instance_id)
            try:
                if scope["type"] == "websocket":
                    await proxy_websocket(scope, receive, send, decision.upstream)
                else:
                    if decision.server_timing:
                        send = _with_header(send, b"server-timing", decision.server_timing)
                    await self._http.forward(scope, receive, send, decision.upstream)
                return
            except UpstreamTimedOut:
                problem = pages.timed_out(instance_id)
            except UpstreamUnavailable:
                problem = pages.not_answering(instance_id)
        if problem is not None:
            await self._refuse(scope, send, problem)

    def _notify(self, instance_id: str) -> None:
        if self._on_proxied is None:
            return
        try:
            self._on_proxied(instance_id)
        except Exception:  # idle tracking must never break a demo
            log.exception("on_proxied(%s) failed", instance_id)

    @staticmethod
    async def _refuse(
        scope: Scope, send: Send, problem: pages.Problem, accept: str | None = None
    ) -> None:
        accept = accept or header(scope["headers"], b"accept")
        status, headers, body = pages.render(problem, accept)
        if scope["type"] == "websocket":
            await deny(scope, send, status, headers, body)
            return
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})
