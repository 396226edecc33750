"""Every slot is filled by name from the one entry-point group; cache and broker switch on by
configuration, `none` switches them off, and a bad choice stops the start with one line that says
what to set. Building providers connects to nothing, so these run without any server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from demo_orchestrator.domain.errors import PermanentError
from demo_orchestrator.providers.registry import Slots, load_slots, provider_names
from demo_orchestrator.settings import Settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("DEMO_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DEMO_HOME", str(tmp_path))


@pytest.fixture
def slots() -> Iterator[list[Slots]]:
    made: list[Slots] = []
    yield made
    for loaded in made:
        for provider in loaded.values():
            if provider is not None:
                provider.close()


def _names(loaded: Slots) -> dict[str, str | None]:
    return {slot: p.name if p is not None else None for slot, p in loaded.items()}


def test_the_embedded_default_needs_no_server(slots: list[Slots]) -> None:
    slots.append(load_slots(Settings()))
    assert _names(slots[0]) == {
        "runtime": "local",
        "database": "sqlite",
        "cache": None,
        "broker": None,
    }


def test_a_configured_cache_and_broker_switch_on_and_none_switches_them_off(
    monkeypatch: pytest.MonkeyPatch, slots: list[Slots]
) -> None:
    monkeypatch.setenv("DEMO_REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("DEMO_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
    slots.append(load_slots(Settings()))
    assert _names(slots[0])["cache"] == "redis" and _names(slots[0])["broker"] == "rabbitmq"
    monkeypatch.setenv("DEMO_CACHE_PROVIDER", "none")
    monkeypatch.setenv("DEMO_BROKER_PROVIDER", "None")
    slots.append(load_slots(Settings()))
    assert _names(slots[1])["cache"] is None and _names(slots[1])["broker"] is None


def test_provider_settings_reach_the_provider(
    monkeypatch: pytest.MonkeyPatch, slots: list[Slots]
) -> None:
    monkeypatch.setenv("DEMO_STOP_GRACE_SECONDS", "0.5")
    monkeypatch.setenv("DEMO_DATABASE_PROVIDER", "postgres")
    monkeypatch.setenv("DEMO_POSTGRES_ADMIN_URL", "postgresql://admin:pw@127.0.0.1:5432/postgres")
    monkeypatch.setenv("DEMO_POSTGRES_CONNECTION_LIMIT", "7")
    slots.append(load_slots(Settings()))
    assert slots[0]["runtime"].stop_grace == 0.5
    assert slots[0]["database"].connection_limit == 7


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DEMO_CACHE_PROVIDER": "redis"}, r"^DEMO_CACHE_PROVIDER=redis needs DEMO_REDIS_URL \("),
        (
            {"DEMO_BROKER_PROVIDER": "rabbitmq"},
            r"^DEMO_BROKER_PROVIDER=rabbitmq needs DEMO_RABBITMQ_URL",
        ),
        ({"DEMO_DATABASE_PROVIDER": "postgres"}, r"needs DEMO_POSTGRES_ADMIN_URL"),
        (
            {"DEMO_DATABASE_PROVIDER": "supabase"},
            r"needs DEMO_SUPABASE_ACCESS_TOKEN .*; DEMO_SUPABASE_ORGANIZATION",
        ),
        (
            {"DEMO_CACHE_PROVIDER": "memcached"},
            r"not an installed provider; installed cache providers: redis$",
        ),
        ({"DEMO_CACHE_PROVIDER": "postgres"}, r"is a database provider, not a cache one"),
        ({"DEMO_RUNTIME": "none"}, r"DEMO_RUNTIME cannot be none"),
        (
            {
                "DEMO_REDIS_URL": "redis://h/0",
                "DEMO_CACHE_PROVIDER": "redis",
                "DEMO_STOP_GRACE_SECONDS": "soon",
            },
            r"invalid settings of the local provider: DEMO_STOP_GRACE_SECONDS: ",
        ),
    ],
)
def test_a_bad_choice_is_one_line_naming_what_to_set(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(PermanentError, match=message) as caught:
        load_slots(Settings())
    assert "\n" not in caught.value.detail


def test_an_invalid_value_is_named_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_REDIS_URL", "redis://admin:s3cret-pw@h/0")
    monkeypatch.setenv("DEMO_RABBITMQ_URL", "amqp://h/")
    monkeypatch.setenv("DEMO_RABBITMQ_MAX_QUEUES", "s3cret-pw")
    with pytest.raises(PermanentError, match="DEMO_RABBITMQ_MAX_QUEUES") as caught:
        load_slots(Settings())
    assert "s3cret-pw" not in caught.value.detail


def test_every_built_in_is_registered() -> None:
    assert set(provider_names()) >= {"local", "sqlite", "postgres", "supabase", "redis", "rabbitmq"}
