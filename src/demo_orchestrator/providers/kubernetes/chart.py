"""The demo itself: the blueprint's Helm chart, rendered with the real `helm template`.

`chart_values` turns a blueprint, a scenario and the settings into the chart's values (services
and their sizes, image, routes, which data services run in the namespace, the migrate-and-seed
Job, credentials); `helm_template` runs helm on them and returns the objects. Values reach helm
on its standard input, so no credential is ever written to a file or a command line, and helm's
error text is scrubbed of them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from demo_orchestrator.domain.blueprint import Blueprint, Scenario, Service
from demo_orchestrator.domain.errors import PermanentError
from demo_orchestrator.providers.kubernetes.credentials import DemoCredentials
from demo_orchestrator.providers.kubernetes.routes import route_values
from demo_orchestrator.providers.kubernetes.settings import KubernetesSettings, SharedDataServers
from demo_orchestrator.providers.ownership import scrub

HELM_TIMEOUT_SECONDS = 60
# libyaml when PyYAML has it: the pure-Python parser takes most of a render's time.
YAML_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
PLACEHOLDER_ENV = "<set by the {provider} provider when applied>"


def chart_path(blueprint: Blueprint, settings: KubernetesSettings) -> Path:
    if not blueprint.chart:
        raise PermanentError(
            f"blueprint {blueprint.name} names no chart for the kubernetes runtime"
        )
    if settings.charts is not None:
        base = settings.charts
    elif blueprint.source:
        # blueprints/ and charts/ sit side by side in the repository (resolve the symlink the
        # package installs blueprints through first).
        base = Path(blueprint.source).resolve().parent.parent / "charts"
    else:
        raise PermanentError("set DEMO_KUBERNETES_CHARTS to the folder holding the charts")
    path = base / blueprint.chart
    if not (path / "Chart.yaml").is_file():
        raise PermanentError(
            f"chart {blueprint.chart!r} of blueprint {blueprint.name} not found in {base} "
            "(DEMO_KUBERNETES_CHARTS)"
        )
    return path


def fill(
    template: list[str],
    blueprint: Blueprint,
    scenario: Scenario,
    instance_id: str,
    **extra: str | int,
) -> list[str]:
    """A blueprint command for a container: `{python}` is the image's python."""
    values: dict[str, str | int] = {
        "python": "python",
        "scenario": scenario.name,
        "seed": scenario.seed,
        "instance_id": instance_id,
        **extra,
    }
    try:
        return [part.format(**values) for part in template]
    except (KeyError, IndexError) as exc:
        raise PermanentError(
            f"blueprint {blueprint.name}: command {template} uses a placeholder the kubernetes "
            f"runtime does not know: {exc}; known: {sorted(values)}"
        ) from exc


def _service_values(
    service: Service, blueprint: Blueprint, scenario: Scenario, instance_id: str
) -> dict[str, Any]:
    command = service.container_command or []
    return {
        "name": service.name,
        "port": service.port,
        "healthPath": service.health_path,
        "routes": list(service.routes),
        "command": fill(command, blueprint, scenario, instance_id, port=service.port),
        "env": dict(service.env),
        "replicas": 1,
        "image": service.image or "",
        "resources": {
            "requests": {
                "cpu": f"{service.cpu_request_m}m",
                "memory": f"{service.memory_request_mb}Mi",
            },
            "limits": {"cpu": f"{service.cpu_limit_m}m", "memory": f"{service.memory_mb}Mi"},
        },
    }


def chart_values(
    *,
    blueprint: Blueprint,
    scenario: Scenario,
    instance_id: str,
    base_domain: str,
    settings: KubernetesSettings,
    servers: SharedDataServers,
    credentials: DemoCredentials,
    extra_env: dict[str, str] | None = None,
    extra_secret_env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The demo chart's values for one demo. Data services without a shared server run in the
    namespace; their environment otherwise comes from the data providers when applied.
    `extra_env` is non-secret environment of this one demo (its prospect), `extra_secret_env`
    its credentials beyond the chart's own (the engagement-report token)."""
    data = blueprint.data
    own_database = data.database and servers.shared_database is None
    own_cache = data.cache and not servers.redis_url
    own_broker = data.broker and not servers.rabbitmq_url
    external: dict[str, str] = dict(extra_secret_env or {})
    env: dict[str, str] = dict(extra_env or {})
    if data.database and not own_database:
        external["DATABASE_URL"] = PLACEHOLDER_ENV.format(provider=servers.shared_database)
    if data.cache and not own_cache:
        external["REDIS_URL"] = PLACEHOLDER_ENV.format(provider="redis")
        env["REDIS_PREFIX"] = instance_id
    if data.broker and not own_broker:
        external["AMQP_URL"] = PLACEHOLDER_ENV.format(provider="rabbitmq")
    # A shared server's database comes migrated and seeded from its provider (a template clone,
    # or seeded by the provider); only the namespace's own, empty PostgreSQL needs the Job.
    seed_job = own_database and bool(data.migrate or data.seed)
    return {
        "managedBy": "demo-orchestrator",
        "instance": {"id": instance_id, "scenario": scenario.name},
        "baseDomain": base_domain,
        "image": {"name": settings.image, "pullPolicy": settings.image_pull_policy},
        "services": [
            _service_values(service, blueprint, scenario, instance_id)
            for service in blueprint.services
        ],
        "routes": route_values(settings),
        "env": env,
        "secretEnv": external,
        "loginSecret": credentials.login_secret,
        "postgresql": {"enabled": own_database, "password": credentials.postgres_password},
        "redis": {"enabled": own_cache, "password": credentials.redis_password},
        "rabbitmq": {"enabled": own_broker, "password": credentials.rabbitmq_password},
        "migrateSeed": {
            "enabled": seed_job,
            "migrate": fill(data.migrate, blueprint, scenario, instance_id),
            "seed": fill(data.seed, blueprint, scenario, instance_id),
        },
    }


def helm_binary(configured: str) -> str:
    """The helm to run: the configured path or name on PATH, else the one `make install` put
    beside this Python (`.venv/bin/helm`), so `.venv/bin/democtl render` works unactivated."""
    if os.sep in configured or shutil.which(configured):
        return configured
    beside = Path(sys.executable).parent / configured
    return str(beside) if beside.is_file() else configured


def helm_template(
    chart: Path,
    *,
    release: str,
    namespace: str,
    values: dict[str, Any],
    extra_values: list[Path],
    settings: KubernetesSettings,
    secrets: list[str],
) -> list[dict[str, Any]]:
    """`helm template` of one chart; the objects it renders, in helm's install order."""
    command = [
        helm_binary(settings.helm),
        "template",
        release,
        str(chart),
        "--namespace",
        namespace,
        "--kube-version",
        settings.kube_version,
        "--values",
        "-",
    ]
    for path in extra_values:
        command += ["--values", str(path)]
    with tempfile.TemporaryDirectory(prefix="demo-helm-") as home:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": home,
            "HELM_CACHE_HOME": f"{home}/cache",
            "HELM_CONFIG_HOME": f"{home}/config",
            "HELM_DATA_HOME": f"{home}/data",
        }
        try:
            result = subprocess.run(
                command,
                input=yaml.safe_dump(values).encode(),
                capture_output=True,
                env=env,
                timeout=HELM_TIMEOUT_SECONDS,
                check=False,
            )
        except FileNotFoundError as exc:
            raise PermanentError(
                f"helm not found ({settings.helm}): install helm 4 or set DEMO_KUBERNETES_HELM"
            ) from exc
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PermanentError(f"helm template failed: {scrub(str(exc), *secrets)}") from exc
    if result.returncode != 0:
        text = result.stderr.decode("utf-8", "replace")
        message = " ".join(line.strip() for line in text.splitlines() if line.strip())
        message = message.removeprefix("Error: ")[:600] or "no output"
        raise PermanentError(f"helm template of {chart.name} failed: {scrub(message, *secrets)}")
    try:
        documents = list(yaml.load_all(result.stdout, Loader=YAML_LOADER))
    except yaml.YAMLError as exc:
        raise PermanentError(f"helm template of {chart.name} gave invalid YAML: {exc}") from exc
    return [doc for doc in documents if isinstance(doc, dict) and doc]
