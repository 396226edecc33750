"""Every setting is documented in the README under its DEMO_ name: the core settings and the own
settings of every registered provider (found the way the orchestrator finds them, by entry point,
so a new provider's settings are checked the day it is registered)."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

import pytest
from pydantic.fields import FieldInfo

from demo_orchestrator.providers.base import Provider, ProviderSettings
from demo_orchestrator.providers.registry import PROVIDER_GROUP
from demo_orchestrator.settings import Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def _provider_models() -> dict[str, type[ProviderSettings]]:
    models = {}
    for entry in entry_points(group=PROVIDER_GROUP):
        cls = entry.load()
        assert isinstance(cls, type) and issubclass(cls, Provider), entry.value
        if cls.settings_model is not None:
            models[entry.name] = cls.settings_model
    return models


MODELS = _provider_models()


def _all_settings() -> list[tuple[str, str, FieldInfo]]:
    """(owner, environment variable, field) of every core and provider setting."""
    found = [(f"core {n}", f"DEMO_{n.upper()}", f) for n, f in Settings.model_fields.items()]
    for provider, model in sorted(MODELS.items()):
        found.extend(
            (f"{provider} {n}", model.env_name(n), f) for n, f in model.model_fields.items()
        )
    return found


SETTINGS = _all_settings()
IDS = [variable for _, variable, _ in SETTINGS]


@pytest.mark.parametrize(("owner", "variable", "field"), SETTINGS, ids=IDS)
def test_setting_is_in_the_readme(owner: str, variable: str, field: FieldInfo) -> None:
    assert f"`{variable}`" in README, f"{variable} ({owner}) is not documented in README.md"


@pytest.mark.parametrize(("owner", "variable", "field"), SETTINGS, ids=IDS)
def test_setting_has_a_description(owner: str, variable: str, field: FieldInfo) -> None:
    assert field.description, f"{variable} ({owner}) has no description"


def test_no_two_settings_share_a_variable() -> None:
    assert len(set(IDS)) == len(IDS), sorted(v for v in IDS if IDS.count(v) > 1)


@pytest.mark.parametrize("provider", sorted(MODELS))
def test_provider_settings_are_read_from_demo_entry_point(provider: str) -> None:
    model = MODELS[provider]
    assert model.model_config.get("env_prefix") == f"DEMO_{provider.upper()}_"


def test_a_documented_name_survives_as_an_alias(monkeypatch: pytest.MonkeyPatch) -> None:
    local = MODELS["local"]
    assert local.env_name("stop_grace_seconds") == "DEMO_STOP_GRACE_SECONDS"
    monkeypatch.setenv("DEMO_STOP_GRACE_SECONDS", "1.5")
    assert local().model_dump()["stop_grace_seconds"] == 1.5
    assert local(stop_grace_seconds=2).model_dump()["stop_grace_seconds"] == 2


def test_placeholder_secrets_are_refused() -> None:
    with pytest.raises(ValueError, match="placeholder"):
        Settings(admin_token="changeme")
    with pytest.raises(ValueError, match="too short"):
        Settings(admin_password="abc")
