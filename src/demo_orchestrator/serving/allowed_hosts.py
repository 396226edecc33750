"""Only the orchestrator's own names reach its pages: a guard against DNS rebinding.

A page on any web site can make a browser resolve its own name to 127.0.0.1 and then read the
admin UI and its sign-in as if it were same-origin; the browser still sends the attacker's name in
`Host`. So every request that is not for a demo host is checked against an allow-list
(`DEMO_ALLOWED_HOSTS`, by default the serve host, the loopback names and the base domain's own
names) and refused with 400 problem+json otherwise, the way Django's ALLOWED_HOSTS does.

`/healthz` and `/metrics` answer whatever the name: a kubelet probes the pod's IP and Prometheus
scrapes it, neither can send the public name, and neither path serves a page a browser could
abuse (`/metrics` is protected by `DEMO_METRICS_TOKEN` instead).
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Receive, Scope, Send

from demo_orchestrator.router.headers import header
from demo_orchestrator.router.hosts import split_host

ANY_NAME_PATHS = frozenset({"/healthz", "/metrics"})
LOOPBACK = ("localhost", "127.0.0.1", "[::1]")
WILDCARD_ALL = "*"


def default_allowed(serve_host: str, base_domain: str) -> list[str]:
    """The serve host (unless it is a wildcard address), loopback, and the base domain's names."""
    names = [*LOOPBACK]
    if serve_host not in {"0.0.0.0", "::", ""}:
        names.append(f"[{serve_host}]" if ":" in serve_host else serve_host)
    if base_domain:
        names += [base_domain, f"admin.{base_domain}"]
    return list(dict.fromkeys(name.lower() for name in names))


def parse_allowed(value: str) -> list[str]:
    """`DEMO_ALLOWED_HOSTS`: comma-separated names; `*.example.com` for subdomains, `*` for any."""
    return [item.strip().lower().rstrip(".") for item in value.split(",") if item.strip()]


def allowed_names(configured: str | None, serve_host: str, base_domain: str) -> list[str]:
    """The setting when given, else the defaults."""
    if configured is not None and configured.strip():
        return parse_allowed(configured)
    return default_allowed(serve_host, base_domain)


def _name_of(host: str) -> str | None:
    value = host.strip().lower()
    if value.startswith("["):  # an IPv6 literal, with or without a port
        end = value.find("]")
        rest = value[end + 1 :]
        if end < 0 or (rest and not (rest.startswith(":") and rest[1:].isdigit())):
            return None
        return value[: end + 1]
    split = split_host(value)
    return None if split is None else split[0]


class AllowedHosts:
    """Refuse requests whose `Host` is not one of the orchestrator's names."""

    def __init__(self, app: ASGIApp, allowed: list[str]) -> None:
        self.app = app
        self.any_name = WILDCARD_ALL in allowed
        self.exact = frozenset(name for name in allowed if not name.startswith("*."))
        self.suffixes = tuple(name[1:] for name in allowed if name.startswith("*."))

    def allows(self, host: str) -> bool:
        if self.any_name:
            return True
        name = _name_of(host)
        if name is None:
            return False
        return name in self.exact or (bool(self.suffixes) and name.endswith(self.suffixes))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in {"http", "websocket"} or scope.get("path") in ANY_NAME_PATHS:
            await self.app(scope, receive, send)
            return
        host = header(scope["headers"], b"host") or ""
        if self.allows(host):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        shown = host[:100].encode("ascii", "replace").decode()
        body = {
            "type": "https://demo-orchestrator.dev/problems/host-not-allowed",
            "title": "Host not allowed",
            "status": 400,
            "detail": f"this orchestrator does not answer to the name {shown!r}; open it through "
            "one of its own names, or add this one to DEMO_ALLOWED_HOSTS",
        }
        payload = json.dumps(body).encode()
        headers = [
            (b"content-type", b"application/problem+json"),
            (b"content-length", str(len(payload)).encode()),
        ]
        await send({"type": "http.response.start", "status": 400, "headers": headers})
        await send({"type": "http.response.body", "body": payload, "more_body": False})
