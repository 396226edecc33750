"""Fixtures of the Kubernetes tests: the real tools (installed once per machine, set up once per
session) and `democtl render` runs, each made once per session and shared by the tests.

`democtl render` runs as a subprocess with a clean environment (no DEMO_* but the ones a test
sets, no kubeconfig, HOME in an empty folder): the contract says it needs nothing else.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.kubernetes import tools

DEMOCTL = str(Path(sys.executable).parent / "democtl")
INSTANCE = "demo-abc123"
DOMAIN = "demo.example.com"
SECRET_KEY = "test-secret-key-for-derived-passwords"
INGRESS_TLS = {"DEMO_KUBERNETES_TLS_SECRET": "demos-wildcard-tls"}
INGRESS_ISSUER = {"DEMO_KUBERNETES_CLUSTER_ISSUER": "letsencrypt-prod"}


@dataclass(frozen=True)
class Rendered:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def objects(self) -> list[dict[str, Any]]:
        assert self.returncode == 0, self.stderr
        return tools.parse(self.stdout)


@pytest.fixture(scope="session")
def helm() -> Path:
    return tools.install_helm()


@pytest.fixture(scope="session")
def gateway_api() -> Path:
    return tools.install_gateway_api()


@pytest.fixture(scope="session")
def clean_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("home")


RenderFn = Callable[..., Rendered]


def _environment(helm: Path, extra: dict[str, str], runtime: str | None) -> dict[str, str]:
    environment = {
        "PATH": f"{helm.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "DEMO_BASE_DOMAIN": DOMAIN,
        "DEMO_SECRET_KEY": SECRET_KEY,
        **extra,
    }
    if runtime is not None:
        environment["DEMO_RUNTIME"] = runtime
    return environment


@pytest.fixture(scope="session")
def render(helm: Path) -> RenderFn:
    """`render(*args, env={...})`: `democtl render` in this process (Typer's runner: the same
    command code, without a Python start-up per call), once per distinct call in the session.
    Every DEMO_* variable of the outer environment is removed for the call."""
    from typer.testing import CliRunner

    from demo_orchestrator.cli import app

    cache: dict[tuple[Any, ...], Rendered] = {}
    lock = threading.Lock()

    def run(
        *args: str,
        env: dict[str, str] | None = None,
        runtime: str | None = "kubernetes",
        show_secrets: bool = False,
    ) -> Rendered:
        extra = dict(env or {})
        key = (args, tuple(sorted(extra.items())), runtime, show_secrets)
        with lock:
            if key not in cache:
                environment: dict[str, str | None] = dict.fromkeys(
                    (k for k in os.environ if k.startswith("DEMO_")), None
                )
                environment.update(_environment(helm, extra, runtime))
                if runtime is None:
                    environment["DEMO_RUNTIME"] = None
                command = ["render", *args] + (["--show-secrets"] if show_secrets else [])
                result = CliRunner().invoke(app, command, env=environment)
                if result.exception is not None and not isinstance(result.exception, SystemExit):
                    raise result.exception
                cache[key] = Rendered(tuple(args), result.exit_code, result.stdout, result.stderr)
            return cache[key]

    return run


@pytest.fixture(scope="session")
def render_process(helm: Path, clean_home: Path) -> RenderFn:
    """`democtl render` as its own process, with a clean environment: no DEMO_* but the ones
    given, no kubeconfig, HOME and the working folder an empty one."""

    def run(
        *args: str,
        env: dict[str, str] | None = None,
        runtime: str | None = "kubernetes",
        show_secrets: bool = False,
    ) -> Rendered:
        environment = _environment(helm, dict(env or {}), runtime) | {"HOME": str(clean_home)}
        command = [DEMOCTL, "render", *args] + (["--show-secrets"] if show_secrets else [])
        result = subprocess.run(
            command,
            env=environment,
            cwd=clean_home,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return Rendered(tuple(args), result.returncode, result.stdout, result.stderr)

    return run


def helm_template(helm: Path, chart: str, *args: str) -> list[dict[str, Any]]:
    result = subprocess.run(
        [
            str(helm),
            "template",
            "demo",
            str(tools.ROOT / "charts" / chart),
            "--namespace",
            "demo-orchestrator",
            "--kube-version",
            tools.KUBE_VERSION,
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")},
    )
    assert result.returncode == 0, result.stderr
    return tools.parse(result.stdout)


@pytest.fixture(scope="session")
def chart_sets(helm: Path) -> dict[str, list[dict[str, Any]]]:
    """Both charts rendered with their default and production values."""
    sets: dict[str, list[dict[str, Any]]] = {}
    for chart in ("splits-network", "demo-orchestrator"):
        sets[f"{chart}:default"] = helm_template(helm, chart)
        sets[f"{chart}:production"] = helm_template(
            helm, chart, "--values", str(tools.ROOT / "charts" / chart / "values-production.yaml")
        )
    return sets


SCENARIOS = ["agency", "enterprise", "startup"]
ROUTE_KINDS: dict[str, dict[str, str]] = {
    "httproute": {},
    "ingress-wildcard": {"DEMO_KUBERNETES_ROUTE_KIND": "ingress", **INGRESS_TLS},
    "ingress-cert-manager": {"DEMO_KUBERNETES_ROUTE_KIND": "ingress", **INGRESS_ISSUER},
}


@pytest.fixture(scope="session")
def matrix(render: RenderFn) -> dict[tuple[str, str], Rendered]:
    """`democtl render` of every scenario with every route kind."""
    return {
        (scenario, kind): render("--scenario", scenario, "--id", INSTANCE, env=env)
        for scenario in SCENARIOS
        for kind, env in ROUTE_KINDS.items()
    }


@pytest.fixture(scope="session")
def matrix_gateway_errors(
    matrix: dict[tuple[str, str], Rendered], gateway_api: Path
) -> dict[tuple[str, str], list[str]]:
    """Gateway API errors of every matrix render, checked in one node process."""
    keys = list(matrix)
    tagged = [
        {**obj, "metadata": {**obj["metadata"], "name": f"{index}|{obj['metadata']['name']}"}}
        for index, key in enumerate(keys)
        for obj in matrix[key].objects
    ]
    errors: dict[tuple[str, str], list[str]] = {key: [] for key in keys}
    for error in tools.gateway_api_errors(gateway_api, tagged):
        index = int(error.split("/", 1)[1].split("|", 1)[0])
        errors[keys[index]].append(error)
    return errors
