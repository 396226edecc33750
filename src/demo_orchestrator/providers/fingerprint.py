"""Keys seeded templates by everything that shapes their content, so a change rebuilds them."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from functools import lru_cache
from pathlib import Path

from demo_orchestrator.domain.blueprint import Blueprint, Scenario

_SOURCE_SUFFIXES = {".py", ".yaml", ".yml", ".json", ".sql", ".mako", ".txt", ".csv"}


def template_fingerprint(blueprint: Blueprint, scenario: Scenario) -> str:
    digest = hashlib.sha256()
    digest.update(
        json.dumps(
            {
                "blueprint": blueprint.name,
                "migrate": blueprint.data.migrate,
                "seed": blueprint.data.seed,
                "scenario": scenario.name,
                "scenario_seed": scenario.seed,
            },
            sort_keys=True,
        ).encode()
    )
    base = Path(blueprint.source).resolve().parent if blueprint.source else Path.cwd()
    for entry in blueprint.data.fingerprint:
        digest.update(entry.encode())
        digest.update(_tree_digest(str(_locate(entry, base))).encode())
    return digest.hexdigest()[:12]


def _locate(entry: str, base: Path) -> Path:
    candidate = (base / entry).resolve()
    if candidate.exists():
        return candidate
    spec = importlib.util.find_spec(entry)
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    if spec is not None and spec.origin:
        return Path(spec.origin)
    return candidate


@lru_cache(maxsize=64)
def _tree_digest(root: str) -> str:
    """Digest of a file, or of every source file under a folder (cached for the process)."""
    path = Path(root)
    digest = hashlib.sha256()
    if path.is_file():
        digest.update(path.read_bytes())
        return digest.hexdigest()
    if not path.is_dir():
        return "missing"
    for file in sorted(path.rglob("*")):
        if file.is_file() and file.suffix in _SOURCE_SUFFIXES and "__pycache__" not in file.parts:
            digest.update(str(file.relative_to(path)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()
