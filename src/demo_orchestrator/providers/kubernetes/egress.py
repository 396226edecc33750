"""Where a demo's pods may connect to outside their namespace: the shared data servers only.

A NetworkPolicy names peers by IP block or by namespace, never by DNS name, so each configured
server URL must give one: an IP address, or an in-cluster service name
(`<service>.<namespace>.svc[.<cluster domain>]`, reached through its namespace). A server known
only by an outside host name (a managed database, Supabase) needs `DEMO_KUBERNETES_EGRESS_CIDRS`;
rather than open everything, rendering fails and says so.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from demo_orchestrator.domain.errors import PermanentError
from demo_orchestrator.providers.kubernetes.settings import KubernetesSettings, SharedDataServers

DEFAULT_PORTS = {"postgres": 5432, "redis": 6379, "rabbitmq": 5672}
SUPABASE_PORTS = (443, 5432, 6543)  # Management and REST API, Postgres direct and pooled


@dataclass(frozen=True)
class DataServer:
    """One shared server a demo connects to: what it is, where, and on which port."""

    service: str
    setting: str
    host: str
    port: int


def shared_servers(servers: SharedDataServers) -> list[DataServer]:
    found: list[DataServer] = []
    urls = [
        ("postgres", "DEMO_POSTGRES_ADMIN_URL", servers.postgres_url)
        if servers.shared_database == "postgres"
        else ("postgres", "", None),
        ("redis", "DEMO_REDIS_URL", servers.redis_url),
        ("rabbitmq", "DEMO_RABBITMQ_URL", servers.rabbitmq_url),
    ]
    for service, setting, url in urls:
        if not url:
            continue
        try:
            parts = urlsplit(url)
            port = parts.port or DEFAULT_PORTS[service]
        except ValueError as exc:
            raise PermanentError(f"{setting} is not a valid URL: {exc}") from exc
        if not parts.hostname:
            raise PermanentError(f"{setting} names no host")
        found.append(DataServer(service, setting, parts.hostname, port))
    return found


def _peer(server: DataServer) -> dict[str, Any] | None:
    try:
        address = ipaddress.ip_address(server.host)
    except ValueError:
        labels = server.host.rstrip(".").split(".")
        if len(labels) >= 3 and labels[2] == "svc":
            return {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": labels[1]}}
            }
        return None
    return {"ipBlock": {"cidr": f"{address}/{32 if address.version == 4 else 128}"}}


def data_egress_rules(
    servers: SharedDataServers, settings: KubernetesSettings
) -> list[dict[str, Any]]:
    """NetworkPolicy egress rules towards the configured shared data servers (none: none)."""
    cidrs = [{"ipBlock": {"cidr": cidr}} for cidr in settings.egress_cidrs]
    rules: list[dict[str, Any]] = []
    for server in shared_servers(servers):
        peer = _peer(server)
        if peer is None and not cidrs:
            raise PermanentError(
                f"{server.setting} names host {server.host!r}, which a NetworkPolicy cannot "
                "allow by name: use an IP address or the in-cluster service name "
                "(<service>.<namespace>.svc), or set DEMO_KUBERNETES_EGRESS_CIDRS"
            )
        rules.append(
            {"to": [peer] if peer else cidrs, "ports": [{"protocol": "TCP", "port": server.port}]}
        )
    if servers.shared_database == "supabase":
        if not cidrs:
            raise PermanentError(
                "DEMO_DATABASE_PROVIDER=supabase puts each demo's database outside the cluster: "
                "set DEMO_KUBERNETES_EGRESS_CIDRS to the address ranges demos may reach"
            )
        rules.append(
            {"to": cidrs, "ports": [{"protocol": "TCP", "port": p} for p in SUPABASE_PORTS]}
        )
    elif cidrs:
        rules.append({"to": cidrs})
    return rules
