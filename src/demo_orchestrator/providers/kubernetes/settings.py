"""Settings of the Kubernetes runtime: its own model, read from `DEMO_KUBERNETES_*` variables.

Also `SharedDataServers`: which shared data servers the orchestrator is configured with. The demo
chart starts its own PostgreSQL, Redis and RabbitMQ for the ones that are not, and the network
fence opens egress only towards the ones that are. It reads the data providers' documented
variables by name (`DEMO_DATABASE_PROVIDER`, `DEMO_POSTGRES_ADMIN_URL`, `DEMO_REDIS_URL`,
`DEMO_RABBITMQ_URL`), so it does not depend on which settings model owns them.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from demo_orchestrator.providers.base import ProviderSettings

_DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"


class KubernetesSettings(ProviderSettings):
    model_config = SettingsConfigDict(env_prefix="DEMO_KUBERNETES_", extra="ignore")

    route_kind: Literal["httproute", "ingress"] = Field(
        default="httproute",
        description="How demo hosts are routed: Gateway API HTTPRoutes (the standard) or Ingress.",
    )
    gateway: str = Field(
        default="gateway-system/demo-gateway",
        description="Gateway `<namespace>/<name>` the HTTPRoutes attach to; its namespace may "
        "reach the demos.",
    )
    gateway_listener: str | None = Field(
        default=None,
        description="sectionName of the Gateway's HTTPS listener for demo hosts; any listener "
        "when unset.",
    )
    ingress_class: str | None = Field(
        default=None, description="IngressClass of demo Ingresses; the cluster's default if unset."
    )
    ingress_namespace: str = Field(
        default="ingress-nginx",
        description="Namespace of the ingress controller, allowed to reach the demos (route kind "
        "ingress).",
    )
    tls_secret: str | None = Field(
        default=None,
        description="Wildcard certificate Secret (in DEMO_KUBERNETES_NAMESPACE) of Ingress hosts; "
        "copied into each demo.",
    )
    cluster_issuer: str | None = Field(
        default=None,
        description="cert-manager ClusterIssuer giving each Ingress host a certificate; wins "
        "over the TLS secret.",
    )
    image: str = Field(
        default="splits-stack:0.1.0",
        description="Image of the demo's services (the reference stack's), built by your CI; a "
        "service's own image wins.",
    )
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = Field(
        default="IfNotPresent",
        description="imagePullPolicy of demo containers; pinned tags need no re-pull.",
    )
    namespace: str = Field(
        default="demo-orchestrator",
        description="Namespace the orchestrator runs in; may reach the demos (health, router).",
    )
    charts: Path | None = Field(
        default=None,
        description="Folder holding the blueprints' charts; `charts/` beside the blueprints "
        "folder when unset.",
    )
    helm: str = Field(
        default="helm",
        description="The helm 4 binary `helm template` runs with (a path or a name on PATH).",
    )
    kube_version: str = Field(
        default="1.35.0",
        description="Kubernetes version charts are rendered for (`helm template --kube-version`).",
    )
    egress_cidrs: list[str] = Field(
        default_factory=list,
        description="Extra CIDR blocks demos may reach (JSON list), for data servers outside "
        "the cluster.",
    )
    kubeconfig: Path | None = Field(
        default=None,
        description="kubeconfig file of the cluster demos run in; unset: in-cluster config, "
        "else KUBECONFIG, else ~/.kube/config.",
    )
    context: str | None = Field(
        default=None, description="kubeconfig context to use; the file's current one if unset."
    )
    api_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="Seconds one call to the cluster's API may take before it counts as a "
        "temporary failure.",
    )
    outage_wait_seconds: float = Field(
        default=600.0,
        gt=0,
        description="How long a create waits for an unreachable cluster API before the attempt "
        "counts as failed (s).",
    )
    dns_namespace: str = Field(
        default="kube-system",
        description="Namespace of the cluster DNS, the one egress every demo keeps.",
    )

    @field_validator("gateway")
    @classmethod
    def _namespaced_name(cls, value: str) -> str:
        if not re.fullmatch(rf"{_DNS_LABEL}/{_DNS_LABEL}", value):
            raise ValueError("must be <namespace>/<name> of the Gateway, e.g. gateway-system/demos")
        return value

    @field_validator("egress_cidrs")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        for cidr in value:
            try:
                ipaddress.ip_network(cidr)
            except ValueError as exc:
                raise ValueError(f"{cidr!r} is not a CIDR block: {exc}") from exc
        return value

    @property
    def gateway_namespace(self) -> str:
        return self.gateway.split("/", 1)[0]

    @property
    def gateway_name(self) -> str:
        return self.gateway.split("/", 1)[1]

    def route_namespace(self) -> str:
        """The namespace whose pods deliver outside traffic to the demos."""
        return self.gateway_namespace if self.route_kind == "httproute" else self.ingress_namespace


class SharedDataServers(BaseSettings):
    """The shared data servers configured for the data providers (documented with them)."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    database_provider: str = Field(
        default="sqlite", validation_alias=AliasChoices("DEMO_DATABASE_PROVIDER")
    )
    postgres_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DEMO_POSTGRES_ADMIN_URL")
    )
    redis_url: str | None = Field(default=None, validation_alias=AliasChoices("DEMO_REDIS_URL"))
    rabbitmq_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DEMO_RABBITMQ_URL")
    )

    @property
    def shared_database(self) -> str | None:
        """The database provider that gives each demo a database elsewhere, if any. The
        embedded `sqlite` makes no sense in a cluster: the demo gets its own PostgreSQL."""
        return (
            self.database_provider if self.database_provider in ("postgres", "supabase") else None
        )
