"""The provider protocol: one small interface for every kind of resource a demo needs.

`ensure` creates or verifies (idempotent, safe to call again after a crash at any point) and
returns what the demo needs to use the resource; `destroy` removes it ("already gone" is
success); `probe` says whether it is healthy; `owned` lists the instance ids it holds resources
for, so the orphan sweep can delete what the store no longer knows; `reset` brings the resource
back to pristine (the engine calls `ensure` again right after). Optional hooks have safe defaults.
Providers never touch the store and never sleep waiting for something: what is not there yet
raises `NotReady` and the engine asks again later. The engine persists what they return.

Each provider brings its own settings model (`settings_model`, a `ProviderSettings` read from
`DEMO_<ENTRY POINT>_*` variables), so a third-party provider needs nothing from the core settings.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Literal, Self, TypeVar

from pydantic import AliasChoices
from pydantic_settings import BaseSettings, SettingsConfigDict

from demo_orchestrator.domain.blueprint import Blueprint, Scenario
from demo_orchestrator.domain.errors import NotImplementedYet, PermanentError
from demo_orchestrator.settings import Settings


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
class Finding:
    """One result of `democtl doctor`: `ok`, `warn` or `fail`, what was found, and how to fix it.

    A `fail` from a data-service provider means its per-demo isolation holds nothing on this
    server (a role that gets in without its password, say): `serve` refuses to start on it."""

    level: Literal["ok", "warn", "fail"]
    check: str
    detail: str
    fix: str = ""


@dataclass(frozen=True)
class Health:
    healthy: bool
    detail: str = ""


class ProviderSettings(BaseSettings):
    """Base of a provider's own settings; a subclass sets `env_prefix="DEMO_<NAME>_"`.

    `configured()` says whether the settings are complete enough for the provider to be chosen
    for its slot when the slot's `DEMO_*_PROVIDER` variable is unset (the redis cache when
    `DEMO_REDIS_URL` is set, say); `missing_fields()` says what is still to set, so naming an
    incomplete provider fails at start with the variable to set rather than at the first demo.
    """

    model_config = SettingsConfigDict(extra="ignore", validate_by_name=True)

    def missing_fields(self) -> list[str]:
        """Names of the fields still to set before the provider can work (none by default)."""
        return []

    def configured(self) -> bool:
        return not self.missing_fields()

    @classmethod
    def env_name(cls, field_name: str) -> str:
        """The environment variable a field is read from: its alias, else prefix + NAME."""
        alias = cls.model_fields[field_name].validation_alias
        if isinstance(alias, str):
            return alias.upper()
        if isinstance(alias, AliasChoices) and isinstance(alias.choices[0], str):
            return alias.choices[0].upper()
        return f"{cls.model_config.get('env_prefix', '')}{field_name}".upper()

    def what_is_missing(self) -> str:
        """One line naming each variable still to set and what it is for; empty when complete."""
        return "; ".join(
            f"{self.env_name(name)} ({type(self).model_fields[name].description})"
            for name in self.missing_fields()
        )

    def require(self, provider: str) -> None:
        """Refuse settings that are not complete, naming the variables to set."""
        if self.missing_fields():
            raise PermanentError(f"the {provider} provider needs {self.what_is_missing()}")


S = TypeVar("S", bound=ProviderSettings)


def own_settings(provider: str, model: type[S], given: ProviderSettings | None) -> S:
    """A provider's own settings: `given` (read and checked by the registry), else read from the
    environment now; refused when incomplete."""
    own = model() if given is None else given
    if not isinstance(own, model):
        raise TypeError(f"the {provider} provider takes {model.__name__}, not {type(own).__name__}")
    own.require(provider)
    return own


class Provider:
    """Base of every provider; subclasses set `kind` and `name` and override the four methods."""

    kind: ClassVar[str] = ""
    name: ClassVar[str] = ""
    # The provider's own settings (documented in the README like every other); None: it has none.
    settings_model: ClassVar[type[ProviderSettings] | None] = None

    @classmethod
    def from_settings(cls, settings: Settings, own: ProviderSettings | None = None) -> Self:
        """Build the provider from the core settings (home, owner, secret key, time-outs) and its
        own `settings_model` (`own`, else read from the environment). Connects to nothing."""
        raise NotImplementedError(f"provider {cls.name!r} does not say how to build itself")

    def ensure(self, *, spec: InstanceSpec) -> Outputs:
        raise NotImplementedError

    def destroy(self, *, instance_id: str) -> None:
        raise NotImplementedError

    def probe(self, *, instance_id: str) -> Health:
        return Health(healthy=True)

    def owned(self) -> set[str]:
        return set()

    def reset(self, *, instance_id: str) -> None:
        """Back to pristine; the engine calls `ensure` right after. By default: destroy."""
        self.destroy(instance_id=instance_id)

    def reachable(self) -> None:
        """Raise `TemporaryError` naming the outside system when it cannot be reached now (for
        `/healthz` and the start); cheap and cached by the provider. By default: nothing to reach."""

    def doctor(self) -> list[Finding]:
        """Check that the outside system enforces what this provider's isolation relies on
        (`democtl doctor`, and `serve` at start); each finding says how to fix it. By default:
        nothing to check. May connect; raises nothing (an unreachable server is a `warn`)."""
        return []

    def close(self) -> None:
        """Release clients and pools at shutdown."""


class DatabaseProvider(Provider):
    kind = "database"
    # True when `ensure` gives a database already migrated and seeded (cloned from a template),
    # so the engine's seed step has nothing to do; False makes the engine call `seed`.
    clones_seeded_template: ClassVar[bool] = True

    def prepare_template(self, *, blueprint: Blueprint, scenario: Scenario) -> None:
        """Build the seeded template for a scenario ahead of demand (optional)."""

    def save_template(
        self, *, instance_id: str, blueprint: Blueprint, base: Scenario, name: str
    ) -> dict[str, int]:
        """Copy a running demo's database into a new template named `name` (a scenario whose
        `based_on` is `base.name`), consistently and without breaking the demo; returns the rows
        per table of the copy. Providers that cannot copy a live database keep this refusal."""
        raise NotImplementedYet(
            f"the {self.name} database provider cannot save a demo as a template yet; "
            "use the sqlite or postgres database provider"
        )

    def drop_saved_template(self, *, blueprint: str, name: str) -> None:
        """Remove what `save_template` made (idempotent: gone already is fine)."""

    def saved_templates(self) -> set[tuple[str, str]]:
        """(blueprint, name) of every saved template this provider holds, for the orphan sweep."""
        return set()

    def seed(self, *, spec: InstanceSpec) -> Outputs:
        """Migrate and seed the database `ensure` made (only when it is not a seeded clone).

        `spec.env` holds what `ensure` returned (`DATABASE_URL`). By default the blueprint's
        migrate and seed commands run against it.
        """
        from demo_orchestrator.providers.seeding import run_data_commands

        url = spec.env.get("DATABASE_URL")
        if not url:
            raise PermanentError(f"database provider {self.name} gave no DATABASE_URL to seed")
        import tempfile

        with tempfile.TemporaryDirectory(prefix="demo-seed-") as workdir:
            run_data_commands(
                spec.blueprint,
                spec.scenario,
                database_url=url,
                cwd=Path(workdir),
                instance_id=spec.instance_id,
            )
        return Outputs(message=f"migrated and seeded scenario {spec.scenario.name}")


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int


class RuntimeProvider(Provider):
    kind = "runtime"
    # Actions on a demo this runtime cannot do (yet), each with why: the API answers them 409 with
    # that reason, and idle demos of it are not put to sleep. `sleep`, `wake`, `reset`.
    refuses: ClassVar[dict[str, str]] = {}
    # Whether every request to a demo passes through this orchestrator's router, so that idleness
    # can be seen there; false where demo traffic goes straight to the demo (a cluster's Gateway):
    # idle demos of such a runtime are never put to sleep (they sleep when asked).
    sees_traffic: ClassVar[bool] = True

    def suspend(self, *, instance_id: str) -> None:
        """Stop serving the demo for a sleep, keeping its data; `ensure` brings it back. By
        default `destroy`: a local demo's processes hold no data (its database does)."""
        self.destroy(instance_id=instance_id)

    def alive(self, *, instance_id: str) -> Health:
        """A cheap liveness check the engine runs often on ready demos (default: `probe`)."""
        return self.probe(instance_id=instance_id)

    def stop_unanswering(self, *, instance_id: str) -> list[str]:
        """Stop the services that run but do not answer their health path (hung), so that the
        runtime steps start them again; returns their names. By default: none stopped (the
        runtime restarts what it finds unhealthy on its own, as Kubernetes does)."""
        return []

    def check_ready(self, *, instance_id: str) -> Health:
        """One look, never a wait: healthy when every service answers its health path, not
        healthy while they are still starting. Raises `TemporaryError` when a service died
        during start-up (the engine deploys again). The engine polls this for the health gate."""
        return self.probe(instance_id=instance_id)

    def wait_healthy(self, *, instance_id: str, timeout: float) -> Health:
        """Poll `check_ready` until healthy (for tools and tests; the engine never blocks)."""
        import time

        deadline = time.monotonic() + timeout
        delay = 0.01
        while True:
            health = self.check_ready(instance_id=instance_id)
            if health.healthy:
                return health
            if time.monotonic() > deadline:
                raise PermanentError(f"not healthy within {timeout:g} s: {health.detail}")
            time.sleep(delay)
            delay = min(delay * 1.5, 0.1)

    def endpoint(self, *, instance_id: str, state: dict[str, Any], route: str) -> Endpoint | None:
        raise NotImplementedError

    def on_change(self, notify: Callable[[str], None]) -> None:
        """The engine's hook for a runtime that watches its demos: call `notify(instance_id)`
        when what `check_ready` would answer may have changed, and the waiting step is run at
        once instead of at its next poll. By default: nothing watched, the engine polls."""

    def follow_expiry(self, *, instance_id: str, expires_at: datetime) -> None:
        """Record the demo's expiry on its resources (when it becomes ready, after each extend),
        where the runtime keeps one as a second line of defence. By default: none kept."""

    def logs(self, *, instance_id: str, service: str, tail: int) -> str:
        raise NotImplementedError
