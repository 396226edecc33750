"""Hosts and routes of a demo on a cluster.

A demo answers on `<instance id>.<route>.<base domain>` (`demo-ab12cd.portal.demos.example`),
the same host form as the embedded router's. The demo chart makes one route per host: an HTTPRoute
on the configured Gateway (TLS ends on the Gateway's listener, with a certificate for
`*.<route>.<base domain>`), or an Ingress with its own TLS: a per-host certificate from
cert-manager's cluster issuer, or the wildcard certificate Secret, which the runtime copies into
the demo's namespace because an Ingress can only name a Secret of its own namespace.

The orchestrator answers the same hosts through wildcard routes while a demo is starting,
sleeping or unknown; each wildcard is one label deep under a route (`*.portal.<domain>`), the form
both an Ingress and a certificate match.
"""

from __future__ import annotations

from typing import Any

from demo_orchestrator.domain.blueprint import Blueprint
from demo_orchestrator.domain.errors import PermanentError
from demo_orchestrator.providers.kubernetes.settings import KubernetesSettings

WILDCARD_COPY = "demo-wildcard-tls"


def demo_hosts(blueprint: Blueprint, instance_id: str, base_domain: str) -> dict[str, str]:
    """Route name -> public host of one demo."""
    return {route: f"{instance_id}.{route}.{base_domain}" for route in blueprint.routes}


def wildcard_hosts(blueprint: Blueprint, base_domain: str) -> list[str]:
    """The hosts every demo's routes fall under: what the wildcard certificate must cover."""
    return [f"*.{route}.{base_domain}" for route in blueprint.routes]


def route_values(settings: KubernetesSettings) -> dict[str, Any]:
    """The demo chart's `routes` values for the configured route kind."""
    ingress: dict[str, str] = {"className": settings.ingress_class or ""}
    if settings.route_kind == "ingress":
        if settings.cluster_issuer:
            ingress |= {"clusterIssuer": settings.cluster_issuer, "tlsSecret": ""}
        elif settings.tls_secret:
            ingress |= {"clusterIssuer": "", "tlsSecret": WILDCARD_COPY}
        else:
            raise PermanentError(
                "DEMO_KUBERNETES_ROUTE_KIND=ingress needs TLS: set DEMO_KUBERNETES_CLUSTER_ISSUER "
                "(cert-manager) or DEMO_KUBERNETES_TLS_SECRET (a wildcard certificate Secret)"
            )
    else:
        ingress |= {"clusterIssuer": "", "tlsSecret": ""}
    return {
        "kind": settings.route_kind,
        "gateway": {
            "namespace": settings.gateway_namespace,
            "name": settings.gateway_name,
            "sectionName": settings.gateway_listener or "",
        },
        "ingress": ingress,
    }


def needs_wildcard_copy(settings: KubernetesSettings) -> bool:
    """True when the demo's Ingresses use a copy of the wildcard certificate Secret."""
    return (
        settings.route_kind == "ingress"
        and not settings.cluster_issuer
        and bool(settings.tls_secret)
    )
