"""Finds providers and blueprints through entry-point groups; the built-ins register the same way
a third-party plug-in would (see `[project.entry-points]` in pyproject.toml).

Every slot of a demo (runtime, database, cache, broker) is filled by name from the one group
`demo_orchestrator.providers`: `DEMO_RUNTIME`, `DEMO_DATABASE_PROVIDER`, `DEMO_CACHE_PROVIDER`,
`DEMO_BROKER_PROVIDER`. The cache and broker switch on by configuration: unset, the slot takes the
one installed provider of its kind whose own settings are `configured()` (redis once
`DEMO_REDIS_URL` is set), else stays empty; `none` keeps it empty whatever is configured. Every
choice and every chosen provider's settings are checked before any provider is built, so a bad
configuration stops the start with one line naming the variable to fix, not the first demo.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import TypedDict, cast

from pydantic import ValidationError

from demo_orchestrator.domain.blueprint import Blueprint, load_blueprint
from demo_orchestrator.domain.errors import InvalidBlueprint, PermanentError
from demo_orchestrator.providers.base import (
    DatabaseProvider,
    Provider,
    ProviderSettings,
    RuntimeProvider,
)
from demo_orchestrator.providers.ownership import first_line
from demo_orchestrator.settings import Settings

log = logging.getLogger(__name__)

PROVIDER_GROUP = "demo_orchestrator.providers"
BLUEPRINT_GROUP = "demo_orchestrator.blueprints"
NONE = "none"


class Slots(TypedDict):
    """The provider of each slot; a dict at run time, typed per key."""

    runtime: RuntimeProvider
    database: DatabaseProvider
    cache: Provider | None
    broker: Provider | None


@dataclass(frozen=True)
class Slot:
    name: str  # key in Slots, and the provider kind it takes
    variable: str  # the setting that names its provider
    field: str  # that setting's field in Settings
    optional: bool  # may stay empty (`none`, or nothing configured)


# What the engine calls on a slot's provider beyond the Provider protocol.
BASES: dict[str, type[Provider]] = {"runtime": RuntimeProvider, "database": DatabaseProvider}

SLOTS = (
    Slot("runtime", "DEMO_RUNTIME", "runtime", optional=False),
    Slot("database", "DEMO_DATABASE_PROVIDER", "database_provider", optional=False),
    Slot("cache", "DEMO_CACHE_PROVIDER", "cache_provider", optional=True),
    Slot("broker", "DEMO_BROKER_PROVIDER", "broker_provider", optional=True),
)


def provider_names() -> list[str]:
    return sorted({e.name for e in entry_points(group=PROVIDER_GROUP)})


def provider_classes() -> tuple[dict[str, type[Provider]], dict[str, str]]:
    """(name -> class of every registered provider that loads, name -> why the others do not).

    A broken plug-in is reported, not fatal, unless a slot names it."""
    classes: dict[str, type[Provider]] = {}
    broken: dict[str, str] = {}
    for entry in entry_points(group=PROVIDER_GROUP):
        if entry.name in classes:
            continue
        try:
            loaded = entry.load()
        except Exception as exc:  # noqa: BLE001 - a broken plug-in must not hide the others
            broken[entry.name] = f"{type(exc).__name__}: {first_line(exc)}"
            continue
        if isinstance(loaded, type) and issubclass(loaded, Provider) and loaded.kind:
            classes[entry.name] = loaded
        else:
            broken[entry.name] = f"{entry.value} is not a Provider subclass with a kind"
    return classes, broken


def read_own_settings(name: str, cls: type[Provider]) -> ProviderSettings | None:
    """The provider's own settings from the environment; invalid values name their variable
    (never the value, which may be a secret)."""
    model = cls.settings_model
    if model is None:
        return None
    try:
        return model()
    except ValidationError as exc:
        problems = "; ".join(
            f"{_variable(model, error['loc'])}: {error['msg']}"
            for error in exc.errors(include_input=False, include_url=False)
        )
        raise PermanentError(f"invalid settings of the {name} provider: {problems}") from None


def _variable(model: type[ProviderSettings], loc: tuple[int | str, ...]) -> str:
    field = str(loc[0]) if loc else "?"
    return model.env_name(field) if field in model.model_fields else field.upper()


def choose(
    slot: Slot, value: str | None, classes: dict[str, type[Provider]], broken: dict[str, str]
) -> tuple[str, type[Provider], ProviderSettings | None] | None:
    """Which provider fills `slot` given its setting's value: (name, class, own settings), or
    None for an empty optional slot. Raises PermanentError with the fix on a bad choice."""
    of_kind = sorted(n for n, c in classes.items() if c.kind == slot.name)
    installed = f"installed {slot.name} providers: {', '.join(of_kind) or 'none'}"
    wanted = (value or "").strip().lower()
    if wanted == NONE:
        if not slot.optional:
            raise PermanentError(f"{slot.variable} cannot be none: every demo needs a {slot.name}")
        return None
    if not wanted:
        return _configured_one(slot, of_kind, classes)
    if wanted in broken:
        raise PermanentError(
            f"{slot.variable}={wanted}: the provider is installed but does not load "
            f"({broken[wanted]}); {installed}"
        )
    cls = classes.get(wanted)
    if cls is None:
        raise PermanentError(f"{slot.variable}={wanted} is not an installed provider; {installed}")
    if cls.kind != slot.name:
        raise PermanentError(
            f"{slot.variable}={wanted} is a {cls.kind} provider, not a {slot.name} one; {installed}"
        )
    base = BASES.get(slot.name, Provider)
    if not issubclass(cls, base):
        raise PermanentError(
            f"{slot.variable}={wanted}: {cls.__name__} must subclass {base.__name__}"
        )
    own = read_own_settings(wanted, cls)
    if own is not None and own.missing_fields():
        raise PermanentError(f"{slot.variable}={wanted} needs {own.what_is_missing()}")
    return wanted, cls, own


def _configured_one(
    slot: Slot, of_kind: list[str], classes: dict[str, type[Provider]]
) -> tuple[str, type[Provider], ProviderSettings | None] | None:
    """An unset optional slot: the one provider of its kind whose settings are set, if any."""
    found = []
    for name in of_kind:
        own = read_own_settings(name, classes[name])
        # A provider with no settings cannot say it was asked for, so it is never picked alone.
        if own is not None and own.configured():
            found.append((name, classes[name], own))
    if len(found) > 1:
        names = ", ".join(n for n, _, _ in found)
        raise PermanentError(
            f"several {slot.name} providers are configured ({names}); choose one with "
            f"{slot.variable}, or {slot.variable}=none"
        )
    return found[0] if found else None


def load_slots(settings: Settings) -> Slots:
    """Choose, check, then build the provider of every slot (building connects to nothing)."""
    classes, broken = provider_classes()
    for name, why in sorted(broken.items()):
        log.error("provider %s is registered but does not load: %s", name, why)
    chosen = {
        slot.name: choose(slot, getattr(settings, slot.field), classes, broken) for slot in SLOTS
    }
    built: dict[str, Provider | None] = {}
    try:
        for slot_name, choice in chosen.items():
            if choice is None:
                built[slot_name] = None
                log.info("%s: none", slot_name)
                continue
            name, cls, own = choice
            built[slot_name] = cls.from_settings(settings, own)
            log.info("%s: %s", slot_name, name)
    except BaseException:
        for provider in built.values():
            if provider is not None:
                provider.close()
        raise
    return cast(Slots, built)


def load_named(slot_name: str, name: str, settings: Settings) -> Provider:
    """Build one provider by name for a slot: for a stored plan made with a provider that is no
    longer the one configured (its teardown must use the provider that made it)."""
    slot = next((s for s in SLOTS if s.name == slot_name), None)
    if slot is None:
        raise PermanentError(f"unknown provider slot {slot_name!r}")
    classes, broken = provider_classes()
    choice = choose(slot, name, classes, broken)
    if choice is None:
        raise PermanentError(f"{slot.name} provider {name!r} cannot be built here")
    _, cls, own = choice
    return cls.from_settings(settings, own)


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
