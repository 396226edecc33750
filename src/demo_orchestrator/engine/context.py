"""What the engine and the services share: the store, settings, blueprints, providers, a clock.

Built once by `bootstrap(settings)`; nothing here connects at import time. Tests build one with
fakes (providers that subclass the real interfaces, a clock they move by hand).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from demo_orchestrator.domain.blueprint import Blueprint, Scenario
from demo_orchestrator.domain.errors import BadRequest, PermanentError
from demo_orchestrator.providers.base import DatabaseProvider, Provider, RuntimeProvider
from demo_orchestrator.settings import Settings
from demo_orchestrator.store.crypto import SecretBox
from demo_orchestrator.store.database import Database

SLOTS = ("runtime", "database", "cache", "broker")


def utcnow() -> datetime:
    return datetime.now(UTC)


def no_loader(slot: str, name: str) -> Provider:
    raise PermanentError(f"{slot} provider {name!r} is not configured in this orchestrator")


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
    random: random.Random = field(default_factory=random.Random)
    # Loads a provider by slot and name, for plans made with a provider no longer configured.
    loader: Callable[[str, str], Provider] = field(default=no_loader)
    _loaded: dict[tuple[str, str], Provider] = field(default_factory=dict)

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

    def find_scenario(self, blueprint: Blueprint, name: str) -> Scenario | None:
        """A built-in scenario, else a template saved from a demo (engine/templates.py)."""
        from demo_orchestrator.engine.templates import saved_scenario

        return blueprint.scenario(name) or saved_scenario(self, blueprint, name)

    def scenario_of(self, blueprint: Blueprint, name: str) -> Scenario:
        scenario = self.find_scenario(blueprint, name)
        if scenario is None:
            known = ", ".join(s.name for s in blueprint.scenarios)
            raise BadRequest(f"unknown scenario {name!r}; choose one of: {known}")
        return scenario

    def slot(self, slot: str) -> Provider | None:
        """The provider configured for a slot (runtime, database, cache, broker), if any."""
        if slot not in SLOTS:
            raise PermanentError(f"unknown provider slot {slot!r}; slots: {', '.join(SLOTS)}")
        provider: Provider | None = getattr(self, slot)
        return provider

    def provider_for(self, slot: str, name: str | None) -> Provider | None:
        """The provider a stored plan step was made with: the configured one when the names
        match (or the plan predates recorded names), else that provider loaded by name."""
        configured = self.slot(slot)
        if name is None or (configured is not None and configured.name == name):
            return configured
        key = (slot, name)
        if key not in self._loaded:
            self._loaded[key] = self.loader(slot, name)
        return self._loaded[key]

    def providers(self) -> list[Provider]:
        found: list[Provider] = [self.runtime, self.database]
        found.extend(p for p in (self.cache, self.broker) if p is not None)
        return found

    def close_providers(self) -> None:
        for provider in [*self.providers(), *self._loaded.values()]:
            provider.close()
