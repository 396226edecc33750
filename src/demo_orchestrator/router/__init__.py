"""Host-based HTTP router: one port for the orchestrator and every demo.

``HostRouter`` wraps the orchestrator's ASGI app; requests for
``demo-<id>.<route>.<base domain>`` are proxied (HTTP and WebSocket) to that demo's service as
told by a ``Resolver``, all others reach the wrapped app.
"""

from demo_orchestrator.router.decisions import Resolver, RouteDecision, Upstream
from demo_orchestrator.router.hosts import parse_demo_host
from demo_orchestrator.router.middleware import HostRouter

__all__ = ["HostRouter", "Resolver", "RouteDecision", "Upstream", "parse_demo_host"]
