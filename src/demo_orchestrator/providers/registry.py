"""Finds providers and blueprints through entry-point groups; the built-ins register the same way
a third-party plug-in would (see `[project.entry-points]` in pyproject.toml)."""

from __future__ import annotations

import logging
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from demo_orchestrator.domain.blueprint import Blueprint, load_blueprint
from demo_orchestrator.domain.errors import InvalidBlueprint, PermanentError
from demo_orchestrator.providers.base import Provider
from demo_orchestrator.settings import Settings

log = logging.getLogger(__name__)

PROVIDER_GROUP = "demo_orchestrator.providers"
BLUEPRINT_GROUP = "demo_orchestrator.blueprints"


def provider_names() -> list[str]:
    return sorted(e.name for e in entry_points(group=PROVIDER_GROUP))


def load_provider(name: str, *, kind: str, settings: Settings) -> Any:
    matches = [e for e in entry_points(group=PROVIDER_GROUP) if e.name == name]
    if not matches:
        raise PermanentError(
            f"no {kind} provider named {name!r}; installed providers: {', '.join(provider_names())}"
        )
    cls = matches[0].load()
    if not (isinstance(cls, type) and issubclass(cls, Provider)) or cls.kind != kind:
        raise PermanentError(f"provider {name!r} is not a {kind} provider")
    return cls.from_settings(settings)  # type: ignore[attr-defined]


def load_blueprints(settings: Settings) -> dict[str, Blueprint]:
    paths: list[Path] = [Path(e.load()) for e in entry_points(group=BLUEPRINT_GROUP)]
    for extra in settings.blueprint_paths:
        paths.extend(sorted(extra.glob("*.yaml")) if extra.is_dir() else [extra])
    blueprints: dict[str, Blueprint] = {}
    problems: list[str] = []
    for path in paths:
        try:
            blueprint = load_blueprint(path)
        except InvalidBlueprint as exc:
            log.error("skipping blueprint: %s", exc.detail)
            problems.append(exc.detail)
            continue
        blueprints[blueprint.name] = blueprint  # later paths override built-ins of the same name
    if settings.blueprint not in blueprints:
        raise InvalidBlueprint(
            f"DEMO_BLUEPRINT={settings.blueprint!r} is not a known blueprint; known: "
            f"{', '.join(sorted(blueprints)) or 'none'}"
            + (f" (unreadable: {'; '.join(problems)})" if problems else "")
        )
    return blueprints
