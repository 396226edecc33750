"""Every object of one demo, in the order the runtime applies them: the fence, then the chart.

`render_demo` is pure apart from running `helm template`: no cluster, no store, no server. The
runtime provider (part 2) applies its result with server-side apply; `democtl render` prints it
(redacted) as the operator's dry run.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from demo_orchestrator.domain.blueprint import Blueprint, Scenario
from demo_orchestrator.providers.kubernetes.chart import chart_path, chart_values, helm_template
from demo_orchestrator.providers.kubernetes.credentials import DemoCredentials
from demo_orchestrator.providers.kubernetes.fence import fence_objects
from demo_orchestrator.providers.kubernetes.settings import KubernetesSettings, SharedDataServers

ENV_CHECKSUM = "demo-orchestrator/env-checksum"  # on pod templates: a new environment rolls them

YAML_DUMPER: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


@dataclass(frozen=True)
class DemoRequest:
    """The demo to render: which blueprint and scenario, its id, domain, owner and expiry."""

    instance_id: str
    blueprint: Blueprint
    scenario: Scenario
    base_domain: str
    owner: str
    expires_at: datetime
    extra_values: list[Path] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)  # non-secret, of this demo (its prospect)
    # Credentials of this demo beyond the chart's own (its engagement-report token).
    secret_env: dict[str, str] = field(default_factory=dict)
    # Whether its stack reports engagement to the orchestrator (engine/activity_log.py): opens
    # egress to the orchestrator's pods on their port.
    reports_to: int | None = None


def render_demo(
    request: DemoRequest,
    *,
    settings: KubernetesSettings,
    servers: SharedDataServers,
    credentials: DemoCredentials,
) -> list[dict[str, Any]]:
    fence = fence_objects(
        request.blueprint,
        request.instance_id,
        request.owner,
        request.expires_at,
        settings,
        servers,
        reports_to=request.reports_to,
    )
    values = chart_values(
        blueprint=request.blueprint,
        scenario=request.scenario,
        instance_id=request.instance_id,
        base_domain=request.base_domain,
        settings=settings,
        servers=servers,
        credentials=credentials,
        extra_env=request.env,
        extra_secret_env=request.secret_env,
    )
    chart = helm_template(
        chart_path(request.blueprint, settings),
        release=request.instance_id,
        namespace=request.instance_id,
        values=values,
        extra_values=request.extra_values,
        settings=settings,
        secrets=credentials.values(),
    )
    roll_on_env_change(chart)
    return [*fence, *chart]


def roll_on_env_change(objects: list[dict[str, Any]]) -> None:
    """A checksum of the environment the services read (`envFrom` of the demo's ConfigMaps and
    Secrets) on each Deployment's pod template, as Helm charts do with `checksum/config`: a
    changed environment (a warm-pool demo personalised for its prospect) rolls the pods, which
    weave the prospect in at start. Jobs get none: their template is immutable, and a seeded
    database is not seeded again."""
    sources = {
        (o["kind"], o["metadata"]["name"]): o.get("data") or o.get("stringData") or {}
        for o in objects
        if o["kind"] in ("ConfigMap", "Secret")
    }
    for obj in objects:
        if obj["kind"] != "Deployment":
            continue
        template = obj.setdefault("spec", {}).setdefault("template", {})
        read = []
        for container in (template.get("spec") or {}).get("containers") or []:
            for source in container.get("envFrom") or []:
                for kind, ref in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                    name = (source.get(ref) or {}).get("name")
                    if name and (kind, name) in sources:
                        read.append([kind, name, sources[(kind, name)]])
        digest = hashlib.sha256(json.dumps(read, sort_keys=True).encode()).hexdigest()
        annotations = template.setdefault("metadata", {}).setdefault("annotations", {})
        annotations[ENV_CHECKSUM] = digest


def to_yaml(objects: list[dict[str, Any]]) -> str:
    """Multi-document YAML, one document per object, keys in the order they were built."""
    return yaml.dump_all(
        objects,
        Dumper=YAML_DUMPER,
        explicit_start=True,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
    )
