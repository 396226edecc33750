"""What the router needs to know about an instance, and nothing more.

The router holds no copy of instance state (DESIGN.md section 9: "let the router ask the engine").
On every request it calls a ``Resolver`` that turns ``(instance_id, route)`` into a
``RouteDecision``; whoever wires the router decides how to answer (store lookup, wake-up, ...).
Keeping this a small frozen value type means the router can be tested with a dictionary and the
engine can change without touching the proxy code.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

DecisionKind = Literal["proxy", "starting", "not_found", "failed", "ended"]


@dataclass(frozen=True)
class Upstream:
    """Where a demo's service listens (for the local runtime: a loopback port)."""

    host: str
    port: int


@dataclass(frozen=True)
class EndedNotice:
    """A demo that ended recently (kind `ended`): what its "This demo has ended" page names."""

    status: str  # deleted | expired
    contact_name: str | None = None
    contact_email: str | None = None
    company: str | None = None


@dataclass(frozen=True)
class RouteDecision:
    """The answer for one request: forward it, or explain why not."""

    kind: DecisionKind
    instance_id: str
    upstream: Upstream | None = None
    status: str | None = None  # the instance status, shown on the pages
    message: str | None = None  # e.g. the error, or "waking up"
    # A `Server-Timing` value for the response (the first request to a sleeping demo says it
    # waited for a cold start and how long).
    server_timing: str | None = None
    ended: EndedNotice | None = None  # kind `ended` only


Resolver = Callable[[str, str], Awaitable[RouteDecision]]
"""``(instance_id, route) -> decision``, asked on every request."""
