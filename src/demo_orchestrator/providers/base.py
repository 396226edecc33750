"""The provider protocol: one small interface for every kind of resource a demo needs.

`ensure` creates or verifies (idempotent, safe to call again after a crash at any point) and
returns what the demo needs to use the resource; `destroy` removes it ("already gone" is
success); `probe` says whether it is healthy; `owned` lists the instance ids it holds resources
for, so the orphan sweep can delete what the store no longer knows. Optional hooks have do-nothing
defaults. Providers never touch the store: the engine persists what they return.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from demo_orchestrator.domain.blueprint import Blueprint, Scenario


@dataclass(frozen=True)
class InstanceSpec:
    """What a provider knows of the instance it works on."""

    instance_id: str
    blueprint: Blueprint
    scenario: Scenario
    env: dict[str, str] = field(default_factory=dict)

    def fill(self, template: list[str], **extra: str | int) -> list[str]:
        """Fill a blueprint command's placeholders."""
        values: dict[str, str | int] = {
            "python": sys.executable,
            "blueprint_dir": str(Path(self.blueprint.source).resolve().parent)
            if self.blueprint.source
            else ".",
            "scenario": self.scenario.name,
            "seed": self.scenario.seed,
            "instance_id": self.instance_id,
            **extra,
        }
        try:
            return [part.format(**values) for part in template]
        except (KeyError, IndexError) as exc:
            from demo_orchestrator.domain.errors import PermanentError

            raise PermanentError(
                f"blueprint {self.blueprint.name}: command {template} uses an unknown placeholder "
                f"{exc}; known: {sorted(values)}"
            ) from exc


@dataclass(frozen=True)
class Outputs:
    """What `ensure` gives back: environment for the demo (may hold secrets, stored encrypted)
    and non-secret state (ports, names) the engine keeps in the instance record."""

    env: dict[str, str] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)
    message: str = ""


@dataclass(frozen=True)
class Health:
    healthy: bool
    detail: str = ""


class Provider:
    """Base of every provider; subclasses set `kind` and `name` and override the four methods."""

    kind: ClassVar[str] = ""
    name: ClassVar[str] = ""

    def ensure(self, *, spec: InstanceSpec) -> Outputs:
        raise NotImplementedError

    def destroy(self, *, instance_id: str) -> None:
        raise NotImplementedError

    def probe(self, *, instance_id: str) -> Health:
        return Health(healthy=True)

    def owned(self) -> set[str]:
        return set()

    def close(self) -> None:
        """Release clients and pools at shutdown."""


class DatabaseProvider(Provider):
    kind = "database"
    # True when `ensure` gives a database already migrated and seeded (cloned from a template),
    # so the engine's seed step has nothing to do.
    clones_seeded_template: ClassVar[bool] = True

    def prepare_template(self, *, blueprint: Blueprint, scenario: Scenario) -> None:
        """Build the seeded template for a scenario ahead of demand (optional)."""


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int


class RuntimeProvider(Provider):
    kind = "runtime"

    def alive(self, *, instance_id: str) -> Health:
        """A cheap liveness check the engine runs often on ready demos (default: `probe`)."""
        return self.probe(instance_id=instance_id)

    def wait_healthy(self, *, instance_id: str, timeout: float) -> Health:
        return self.probe(instance_id=instance_id)

    def endpoint(self, *, instance_id: str, state: dict[str, Any], route: str) -> Endpoint | None:
        raise NotImplementedError

    def logs(self, *, instance_id: str, service: str, tail: int) -> str:
        raise NotImplementedError
