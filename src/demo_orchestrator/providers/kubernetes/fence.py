"""The fence around one demo: the objects the runtime applies before, and around, the chart.

Whatever a blueprint's chart holds, a demo lives in its own namespace (named like the instance,
`demo-ab12cd`) that is:
- labelled as ours (`app.kubernetes.io/managed-by`, `demo-orchestrator/instance`, the owner
  marker the orphan sweep matches) and held to the Pod Security `restricted` profile;
- annotated `janitor/expires` with its UTC expiry, so kube-janitor, where installed, deletes it
  even if the orchestrator is gone (the second line of defence);
- capped by a ResourceQuota and a LimitRange from the blueprint's `sizes`;
- closed by NetworkPolicies: nothing in or out by default; then traffic within the namespace, in
  from the gateway's (or ingress controller's) and the orchestrator's namespaces to the pods that
  serve routes, out to the cluster DNS and to the configured shared data servers only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from demo_orchestrator.domain.blueprint import Blueprint
from demo_orchestrator.providers.kubernetes.egress import data_egress_rules
from demo_orchestrator.providers.kubernetes.routes import WILDCARD_COPY, needs_wildcard_copy
from demo_orchestrator.providers.kubernetes.settings import KubernetesSettings, SharedDataServers

MANAGED_BY = "demo-orchestrator"
INSTANCE_LABEL = "demo-orchestrator/instance"
OWNER_LABEL = "demo-orchestrator/owner"
EXPIRES_ANNOTATION = "janitor/expires"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"

Object = dict[str, Any]


def fence_labels(instance_id: str, owner: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/managed-by": MANAGED_BY,
        INSTANCE_LABEL: instance_id,
        OWNER_LABEL: owner,
    }


def _meta(name: str, instance_id: str, owner: str) -> Object:
    return {"name": name, "namespace": instance_id, "labels": fence_labels(instance_id, owner)}


def namespace(instance_id: str, owner: str, expires_at: datetime) -> Object:
    expiry = expires_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    labels = fence_labels(instance_id, owner) | {
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
    }
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": instance_id,
            "labels": labels,
            "annotations": {EXPIRES_ANNOTATION: expiry},
        },
    }


def resource_quota(blueprint: Blueprint, instance_id: str, owner: str) -> Object:
    sizes = blueprint.sizes
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": _meta("demo-quota", instance_id, owner),
        "spec": {
            "hard": {
                "requests.cpu": f"{sizes.requests_cpu_m}m",
                "limits.cpu": f"{sizes.limits_cpu_m}m",
                "requests.memory": f"{sizes.requests_memory_mb}Mi",
                "limits.memory": f"{sizes.limits_memory_mb}Mi",
                "pods": str(sizes.pods),
                "services": str(sizes.services),
                "services.loadbalancers": "0",
                "services.nodeports": "0",
                "persistentvolumeclaims": str(sizes.persistent_volume_claims),
                "requests.storage": f"{sizes.storage_gb}Gi",
            }
        },
    }


def limit_range(blueprint: Blueprint, instance_id: str, owner: str) -> Object:
    sizes = blueprint.sizes
    return {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": _meta("demo-limits", instance_id, owner),
        "spec": {
            "limits": [
                {
                    "type": "Container",
                    "default": {
                        "cpu": f"{sizes.container_default_cpu_m}m",
                        "memory": f"{sizes.container_default_memory_mb}Mi",
                    },
                    "defaultRequest": {
                        "cpu": f"{sizes.container_default_request_cpu_m}m",
                        "memory": f"{sizes.container_default_request_memory_mb}Mi",
                    },
                    "max": {
                        "cpu": f"{sizes.container_max_cpu_m}m",
                        "memory": f"{sizes.container_max_memory_mb}Mi",
                    },
                },
                {"type": "PersistentVolumeClaim", "max": {"storage": f"{sizes.storage_gb}Gi"}},
            ]
        },
    }


def _policy(name: str, instance_id: str, owner: str, spec: Object) -> Object:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(name, instance_id, owner),
        "spec": spec,
    }


def _from_namespace(name: str) -> Object:
    return {"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: name}}}


def network_policies(
    blueprint: Blueprint,
    instance_id: str,
    owner: str,
    settings: KubernetesSettings,
    servers: SharedDataServers,
) -> list[Object]:
    routed = [service for service in blueprint.services if service.routes]
    serving = {
        "matchExpressions": [
            {
                "key": "app.kubernetes.io/name",
                "operator": "In",
                "values": sorted(service.name for service in routed),
            }
        ]
    }
    ports = [{"protocol": "TCP", "port": port} for port in sorted({s.port for s in routed})]
    policies = [
        _policy(
            "default-deny",
            instance_id,
            owner,
            {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        ),
        _policy(
            "allow-within-namespace",
            instance_id,
            owner,
            {
                "podSelector": {},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [{"from": [{"podSelector": {}}]}],
                "egress": [{"to": [{"podSelector": {}}]}],
            },
        ),
        _policy(
            "allow-from-gateway-and-orchestrator",
            instance_id,
            owner,
            {
                "podSelector": serving,
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [
                            _from_namespace(settings.route_namespace()),
                            _from_namespace(settings.namespace),
                        ],
                        "ports": ports,
                    }
                ],
            },
        ),
        _policy(
            "allow-dns",
            instance_id,
            owner,
            {
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [
                            {
                                **_from_namespace(settings.dns_namespace),
                                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                            }
                        ],
                        "ports": [
                            {"protocol": "UDP", "port": 53},
                            {"protocol": "TCP", "port": 53},
                        ],
                    }
                ],
            },
        ),
    ]
    data_rules = data_egress_rules(servers, settings)
    if data_rules:
        policies.append(
            _policy(
                "allow-data-services",
                instance_id,
                owner,
                {"podSelector": {}, "policyTypes": ["Egress"], "egress": data_rules},
            )
        )
    return policies


def activity_policy(
    instance_id: str, owner: str, settings: KubernetesSettings, port: int | None
) -> list[Object]:
    """Egress to the orchestrator's namespace on its pods' port, for a stack that reports its
    engagement there (engine/activity_log.py); none for one that does not."""
    if port is None:
        return []
    return [
        _policy(
            "allow-activity-reports",
            instance_id,
            owner,
            {
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [_from_namespace(settings.namespace)],
                        "ports": [{"protocol": "TCP", "port": port}],
                    }
                ],
            },
        )
    ]


def wildcard_certificate_copy(
    settings: KubernetesSettings, instance_id: str, owner: str
) -> Object | None:
    """The Ingresses' wildcard certificate, copied from the orchestrator's namespace at apply
    time (its content is unknown until then: a dry run shows where it comes from)."""
    if not needs_wildcard_copy(settings):
        return None
    source = f"{settings.namespace}/{settings.tls_secret}"
    placeholder = f"<copied from Secret {source} when applied>"
    meta = _meta(WILDCARD_COPY, instance_id, owner)
    meta["annotations"] = {"demo-orchestrator/copied-from": source}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta,
        "type": "kubernetes.io/tls",
        "stringData": {"tls.crt": placeholder, "tls.key": placeholder},
    }


def fence_objects(
    blueprint: Blueprint,
    instance_id: str,
    owner: str,
    expires_at: datetime,
    settings: KubernetesSettings,
    servers: SharedDataServers,
    *,
    reports_to: int | None = None,
) -> list[Object]:
    """Every fence object of one demo, namespace first (the order to apply them in)."""
    objects = [
        namespace(instance_id, owner, expires_at),
        resource_quota(blueprint, instance_id, owner),
        limit_range(blueprint, instance_id, owner),
        *network_policies(blueprint, instance_id, owner, settings, servers),
        *activity_policy(instance_id, owner, settings, reports_to),
    ]
    copy = wildcard_certificate_copy(settings, instance_id, owner)
    return [*objects, copy] if copy else objects
