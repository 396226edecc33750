"""What every harness is made of, and the helpers several share.

A harness says how to build its provider (through `from_settings`, as the orchestrator does), a
spec, how to prove the resource works, how a demo writes data and what pristine looks like, how to
make a "foreign" resource with a demo-like name (not carrying this orchestrator's marker) and how
to point the provider at a server that does not answer. Where a clause cannot apply, the harness
says why with `NotApplicable`, and the suite generates no test for it rather than one that cannot
fail. Each test gets its own owner marker (and DEMO_HOME), so `owned()` is exactly what it made.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from demo_orchestrator.domain.blueprint import load_blueprint
from demo_orchestrator.providers import processes
from demo_orchestrator.providers.base import InstanceSpec, Outputs, Provider
from demo_orchestrator.settings import Settings

BLUEPRINTS = Path(__file__).resolve().parents[2] / "blueprints"
SECRET = "s3cret-contract-pw"  # the password of every unreachable server's URL
OTHER = "zzother"  # another orchestrator's owner marker


@dataclass(frozen=True)
class NotApplicable:
    why: str


@dataclass
class World:
    """What one contract test runs in: its own DEMO_HOME and owner marker."""

    home: Path
    owner: str
    request: pytest.FixtureRequest
    built: list[Provider] = field(default_factory=list)
    seen: dict[str, Any] = field(default_factory=dict)  # what a harness noted for later
    ids: dict[str, str] = field(default_factory=dict)

    def id(self, label: str) -> str:
        """A fresh instance id per label: names on a shared server are global, and other runs
        of this suite (other worktrees, CI) may use the same servers at the same time."""
        return self.ids.setdefault(label, f"demo-{secrets.token_hex(3)}")

    def core(self, **extra: Any) -> Settings:
        values: dict[str, Any] = {
            "home": self.home,
            "resource_owner": self.owner,
            "secret_key": "contract-suite-key-0123456789",
        }
        return Settings(**{**values, **extra})

    def keep(self, provider: Provider) -> Provider:
        self.built.append(provider)
        return provider


@dataclass(frozen=True)
class Foreign:
    """Resources of someone else with demo-like names; `intact()` asserts they are untouched."""

    ids: set[str]
    intact: Callable[[], None]


@dataclass(frozen=True)
class Harness:
    name: str  # the entry point
    marks: tuple[pytest.MarkDecorator, ...]
    build: Callable[[World], Provider]
    spec: Callable[[World, str], InstanceSpec]
    works: Callable[[World, str, Outputs], None]  # (instance id, what ensure gave)
    write: Callable[[World, str, Outputs], None]  # what the demo writes before a reset
    pristine: Callable[[World, str, Outputs, Outputs], None]  # (id, before, after) the reset
    foreign: Callable[[World], AbstractContextManager[Foreign]] | NotApplicable
    unreachable: Callable[[World], Provider] | NotApplicable  # SECRET is its password
    cleanup: Callable[[World], None]  # remove what carries this owner, even after a failure
    leftovers: Callable[[World], dict[str, list[str]]]
    fixtures: tuple[str, ...] = ()  # pytest fixtures it needs (set up before the test)


def spec_of(blueprint: str, scenario: str = "agency") -> Callable[[World, str], InstanceSpec]:
    def make(world: World, instance_id: str) -> InstanceSpec:
        loaded = load_blueprint(BLUEPRINTS / blueprint)
        found = loaded.scenario(scenario)
        assert found is not None
        return InstanceSpec(instance_id=instance_id, blueprint=loaded, scenario=found)

    return make


def closed_port() -> int:
    return processes.free_port()  # bound then released: nobody listens there


def nothing(world: World) -> dict[str, list[str]]:
    return {}


# -- SQL databases: sqlite, postgres, supabase share these ---------------------------------------


def rows_of(url: str) -> list[str]:
    if url.startswith("sqlite:///"):
        db = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            return [r[0] for r in db.execute("SELECT name FROM items ORDER BY id")]
        finally:
            db.close()
    with psycopg.connect(url) as conn:
        return [str(r[0]) for r in conn.execute("SELECT name FROM items ORDER BY id")]


def run_sql(url: str, statement: str) -> None:
    if url.startswith("sqlite:///"):
        db = sqlite3.connect(url.removeprefix("sqlite:///"))
        with db:
            db.execute(statement)
        db.close()
        return
    with psycopg.connect(url) as conn:
        conn.execute(statement)


def five_seeded_rows(world: World, instance_id: str, out: Outputs) -> None:
    assert len(rows_of(out.env["DATABASE_URL"])) == 5


def demo_writes_a_row(world: World, instance_id: str, out: Outputs) -> None:
    """The demo adds a row and deletes a seeded one."""
    world.seen["seeded rows"] = rows_of(out.env["DATABASE_URL"])
    run_sql(out.env["DATABASE_URL"], "INSERT INTO items (name) VALUES ('written by the demo')")
    run_sql(out.env["DATABASE_URL"], "DELETE FROM items WHERE id = (SELECT min(id) FROM items)")


def rows_back_to_the_seed(world: World, instance_id: str, before: Outputs, after: Outputs) -> None:
    assert rows_of(after.env["DATABASE_URL"]) == world.seen["seeded rows"]
