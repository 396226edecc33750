"""`democtl render`'s service: one demo's objects as YAML, from the environment alone.

Reads the core settings (`DEMO_RUNTIME`, `DEMO_BASE_DOMAIN`, `DEMO_BLUEPRINT`, the blueprints,
the secret key and owner marker), the runtime's own (`DEMO_KUBERNETES_*`) and the shared data
servers; needs no cluster, store or server. Bad input raises `BadRequest` with one line a person
can act on.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from demo_orchestrator.domain.errors import BadRequest
from demo_orchestrator.providers.kubernetes.credentials import demo_credentials
from demo_orchestrator.providers.kubernetes.redaction import redact
from demo_orchestrator.providers.kubernetes.render import DemoRequest, render_demo, to_yaml
from demo_orchestrator.providers.kubernetes.settings import KubernetesSettings, SharedDataServers
from demo_orchestrator.providers.ownership import owner_of
from demo_orchestrator.providers.registry import load_blueprints
from demo_orchestrator.settings import Settings

INSTANCE_ID = re.compile(r"^demo-[a-z0-9]{6}$")
Model = TypeVar("Model", bound=BaseModel)


def _load(model: type[Model], prefix: str) -> Model:
    try:
        return model()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else "?"
        if not name.startswith("DEMO_"):
            name = prefix + name.upper()
        raise BadRequest(f"setting {name}: {first['msg']}") from exc


def dry_run(
    *,
    scenario: str | None,
    instance_id: str,
    values: list[Path],
    hours: float,
    show_secrets: bool,
    now: datetime | None = None,
) -> str:
    core = _load(Settings, "DEMO_")
    if core.runtime != "kubernetes":
        raise BadRequest(
            f"democtl render is for the kubernetes runtime (DEMO_RUNTIME={core.runtime}): "
            "run it with DEMO_RUNTIME=kubernetes"
        )
    if not INSTANCE_ID.fullmatch(instance_id):
        raise BadRequest(
            f"--id {instance_id!r} is not an instance id: demo- and 6 lowercase letters or digits"
        )
    if not 0 < hours <= core.max_hours:
        raise BadRequest(f"--hours must be more than 0 and at most {core.max_hours:g}")
    for path in values:
        if not path.is_file():
            raise BadRequest(f"--values {path}: no such file")
    settings = _load(KubernetesSettings, "DEMO_KUBERNETES_")
    servers = _load(SharedDataServers, "DEMO_")
    blueprint = load_blueprints(core)[core.blueprint]
    chosen = blueprint.scenario(scenario or blueprint.default_scenario)
    if chosen is None:
        known = ", ".join(s.name for s in blueprint.scenarios)
        raise BadRequest(f"unknown scenario {scenario!r} of {blueprint.name}; known: {known}")
    request = DemoRequest(
        instance_id=instance_id,
        blueprint=blueprint,
        scenario=chosen,
        base_domain=core.base_domain,
        owner=owner_of(core),
        expires_at=(now or datetime.now(UTC)) + timedelta(hours=hours),
        extra_values=values,
    )
    objects = render_demo(
        request,
        settings=settings,
        servers=servers,
        credentials=demo_credentials(instance_id, core.secret_key),
    )
    return to_yaml(objects if show_secrets else redact(objects))
