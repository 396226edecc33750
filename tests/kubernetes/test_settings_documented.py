"""Every setting of the Kubernetes runtime is documented in the README with its DEMO_ name, and
described in its model (unit and why its default)."""

from __future__ import annotations

import pytest

from demo_orchestrator.providers.kubernetes.settings import KubernetesSettings
from tests.kubernetes import tools

README = (tools.ROOT / "README.md").read_text()
FIELDS = sorted(KubernetesSettings.model_fields)


@pytest.mark.parametrize("name", FIELDS)
def test_setting_is_in_the_readme(name: str) -> None:
    variable = f"`DEMO_KUBERNETES_{name.upper()}`"
    assert variable in README, f"{variable} is not documented in README.md"


@pytest.mark.parametrize("name", FIELDS)
def test_setting_has_a_description(name: str) -> None:
    assert KubernetesSettings.model_fields[name].description


def test_the_designs_documented_names_are_there() -> None:
    for name in ("ROUTE_KIND", "GATEWAY", "TLS_SECRET", "CLUSTER_ISSUER", "IMAGE"):
        assert name.lower() in KubernetesSettings.model_fields
