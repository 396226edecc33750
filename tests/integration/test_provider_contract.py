"""The one contract every registered provider keeps, each run on its real server.

`ensure` twice gives the same env and state and the resource works; `destroy` twice is fine, and
so is destroying what was never made; `owned()` tells the truth (what it made, not what it
destroyed); resources of someone else with a demo-like name are never touched by ensure, destroy,
owned or the orphan sweep; an unreachable server is a temporary error whose text (and log) never
holds the password; `reset` then `ensure` gives back pristine data. The harness of each provider
(tests/integration/harnesses/) says how, or why a clause cannot apply to it; every registered
entry point must have one (CONVENTIONS 12).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from demo_orchestrator.domain.errors import PermanentError, TemporaryError
from demo_orchestrator.providers.base import Finding, Outputs
from demo_orchestrator.providers.registry import PROVIDER_GROUP
from tests.fakes.data_services import FakeSupabase, new_owner, provision, running_fake_supabase
from tests.integration.harnesses import HARNESSES, SECRET, Harness, NotApplicable, World


def _cases(clause: str | None = None) -> list[object]:
    """One case per harness for which `clause` applies (all harnesses when None)."""
    return [
        pytest.param(h, id=h.name, marks=h.marks)
        for h in HARNESSES.values()
        if clause is None or not isinstance(getattr(h, clause), NotApplicable)
    ]


@pytest.fixture(scope="module")
def fake_supabase() -> Iterator[FakeSupabase]:
    yield from running_fake_supabase()


@pytest.fixture
def world(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    for name in list(os.environ):  # the runner's own DEMO_* must not change what is built
        if name.startswith("DEMO_"):
            monkeypatch.delenv(name)
    harness: Harness = request.node.callspec.params["harness"]
    for fixture in harness.fixtures:
        request.getfixturevalue(fixture)
    made = World(home=tmp_path / "home", owner=new_owner(), request=request)
    yield made
    try:
        harness.cleanup(made)
        left = harness.leftovers(made)
    finally:
        for provider in made.built:
            provider.close()
    assert left == {}, f"left behind: {left}"


def _secrets(out: Outputs) -> list[str]:
    return [p for v in out.env.values() if (p := urlsplit(v).password)]


@pytest.mark.parametrize("harness", _cases())
def test_ensure_twice_gives_the_same_and_the_resource_works(harness: Harness, world: World) -> None:
    provider, a = harness.build(world), world.id("a")
    registered = {e.name: e for e in entry_points(group=PROVIDER_GROUP)}[harness.name].load()
    assert type(provider) is registered, "the harness must build the registered provider"
    spec = harness.spec(world, a)
    first = provision(provider, spec)
    second = provider.ensure(spec=spec)
    assert (second.env, second.state) == (first.env, first.state)
    harness.works(world, a, second)
    assert provider.probe(instance_id=a).healthy
    stored = json.dumps(first.state)  # kept unencrypted in the store: never a secret
    assert not [s for s in _secrets(first) if s in stored]
    provider.destroy(instance_id=a)


@pytest.mark.parametrize("harness", _cases())
def test_destroy_is_idempotent_and_owned_tells_the_truth(harness: Harness, world: World) -> None:
    provider, a, b = harness.build(world), world.id("a"), world.id("b")
    assert provider.owned() == set()
    provider.destroy(instance_id=world.id("never made"))  # never made: success
    for instance_id in (a, b):
        provision(provider, harness.spec(world, instance_id))
    assert provider.owned() == {a, b}
    provider.destroy(instance_id=a)
    provider.destroy(instance_id=a)  # already gone: success
    assert provider.owned() == {b}
    assert not provider.probe(instance_id=a).healthy
    provider.destroy(instance_id=b)
    assert provider.owned() == set()


@pytest.mark.parametrize("harness", _cases("foreign"))
def test_foreign_resources_with_demo_like_names_are_never_touched(
    harness: Harness, world: World
) -> None:
    assert not isinstance(harness.foreign, NotApplicable)
    with harness.foreign(world) as foreign:
        provider = harness.build(world)
        assert not foreign.ids & provider.owned()
        for instance_id in sorted(foreign.ids):
            provider.destroy(instance_id=instance_id)
        foreign.intact()
        for instance_id in sorted(foreign.ids):
            try:
                provision(provider, harness.spec(world, instance_id))
            except PermanentError as exc:  # refused the name: it is someone else's
                assert "not managed by this orchestrator" in exc.detail
            else:  # made its own alongside: that one is ours
                assert instance_id in provider.owned()
        foreign.intact()
        for instance_id in provider.owned():  # the orphan sweep, with a store that knows nothing
            provider.destroy(instance_id=instance_id)
        assert not foreign.ids & provider.owned()
        foreign.intact()


@pytest.mark.parametrize("harness", _cases("unreachable"))
def test_an_unreachable_server_is_temporary_and_never_shows_the_password(
    harness: Harness, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    assert not isinstance(harness.unreachable, NotApplicable)
    provider, a = harness.unreachable(world), world.id("a")
    spec = harness.spec(world, a)
    caplog.set_level(logging.DEBUG)
    calls = {
        "ensure": lambda: provider.ensure(spec=spec),
        "owned": provider.owned,
        "probe": lambda: provider.probe(instance_id=a),
    }
    for name, call in calls.items():
        with pytest.raises(TemporaryError) as caught:
            call()
        assert SECRET not in caught.value.detail, f"{name} shows the password"
    # A teardown finishes while the server is down (the sweep cleans up later), or retries.
    for name in ("destroy", "reset"):
        try:
            getattr(provider, name)(instance_id=a)
        except TemporaryError as exc:
            assert SECRET not in exc.detail, f"{name} shows the password"
    assert SECRET not in caplog.text


@pytest.mark.parametrize("harness", _cases())
def test_reset_then_ensure_gives_back_pristine(harness: Harness, world: World) -> None:
    provider, a = harness.build(world), world.id("a")
    spec = harness.spec(world, a)
    before = provision(provider, spec)
    harness.write(world, a, before)
    provider.reset(instance_id=a)
    after = provision(provider, spec)  # what the engine does right after a reset
    harness.pristine(world, a, before, after)
    provider.destroy(instance_id=a)


def test_every_registered_provider_runs_through_the_contract() -> None:
    registered = {e.name for e in entry_points(group=PROVIDER_GROUP)}
    missing = registered - set(HARNESSES)
    assert not missing, f"registered providers with no harness in the contract suite: {missing}"
    assert set(HARNESSES) <= registered, "a harness for a provider that is not registered"


def test_a_clause_that_cannot_apply_says_why() -> None:
    for harness in HARNESSES.values():
        for clause in ("foreign", "unreachable"):
            value = getattr(harness, clause)
            assert not isinstance(value, NotApplicable) or len(value.why) > 20, (
                harness.name,
                clause,
            )


@pytest.mark.parametrize("harness", _cases("unreachable"))
def test_the_doctor_hook_never_raises_and_says_when_it_could_not_check(
    harness: Harness, world: World
) -> None:
    """`serve` runs every provider's `doctor()` at start: a server that is down is a warning
    (demos wait for it), never an exception, and never shows the password."""
    assert not isinstance(harness.unreachable, NotApplicable)
    found = harness.unreachable(world).doctor()
    assert all(isinstance(f, Finding) for f in found)
    assert all(f.level in ("ok", "warn") for f in found), found
    assert all(SECRET not in f"{f.detail} {f.fix}" for f in found)
