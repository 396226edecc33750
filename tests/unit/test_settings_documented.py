"""Every setting is documented in the README, with its DEMO_ name."""

from __future__ import annotations

from pathlib import Path

import pytest

from demo_orchestrator.settings import Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_setting_is_in_the_readme(name: str) -> None:
    assert f"`DEMO_{name.upper()}`" in README, f"DEMO_{name.upper()} is not documented in README.md"


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_setting_has_a_description(name: str) -> None:
    assert Settings.model_fields[name].description


def test_placeholder_secrets_are_refused() -> None:
    with pytest.raises(ValueError, match="placeholder"):
        Settings(admin_token="changeme")
    with pytest.raises(ValueError, match="too short"):
        Settings(admin_password="abc")
