"""What the engine and the services share: the store, settings, blueprints and providers.

Built once by `bootstrap(settings)`; nothing here connects at import time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from demo_orchestrator.domain.blueprint import Blueprint, Scenario
from demo_orchestrator.domain.errors import BadRequest
from demo_orchestrator.providers.base import DatabaseProvider, Provider, RuntimeProvider
from demo_orchestrator.settings import Settings
from demo_orchestrator.store.crypto import SecretBox
from demo_orchestrator.store.database import Database


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Context:
    settings: Settings
    db: Database
    box: SecretBox
    blueprints: dict[str, Blueprint]
    runtime: RuntimeProvider
    database: DatabaseProvider
    cache: Provider | None = None
    broker: Provider | None = None
    clock: Callable[[], datetime] = field(default=utcnow)

    @property
    def blueprint(self) -> Blueprint:
        return self.blueprints[self.settings.blueprint]

    def blueprint_named(self, name: str) -> Blueprint:
        try:
            return self.blueprints[name]
        except KeyError:
            raise BadRequest(
                f"unknown blueprint {name!r}; known: {', '.join(sorted(self.blueprints))}"
            ) from None

    def scenario_of(self, blueprint: Blueprint, name: str) -> Scenario:
        scenario = blueprint.scenario(name)
        if scenario is None:
            known = ", ".join(s.name for s in blueprint.scenarios)
            raise BadRequest(f"unknown scenario {name!r}; choose one of: {known}")
        return scenario

    def providers(self) -> list[Provider]:
        found: list[Provider] = [self.runtime, self.database]
        found.extend(p for p in (self.cache, self.broker) if p is not None)
        return found
