"""A demo's sign-in links in the engine: the rep's link beside the personas', tokens the demo
agrees with and that cannot stand in for each other, and rotation (a new secret, only the runtime
steps again, audited; refused where it cannot work)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from demo_orchestrator.domain.errors import Conflict, Forbidden
from demo_orchestrator.engine.actions import Principal
from demo_orchestrator.engine.views import login_token, rep_token
from demo_orchestrator.providers.kubernetes.runtime import KubernetesRuntime
from splits_stack.services import identity
from tests.fakes.engine import ADMIN, Rig

SALLY = Principal("sally", "sales")
VIEWER = Principal("vera", "viewer")


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    made = Rig(tmp_path)
    blueprint = made.orchestrator.ctx.blueprints["tiny"]
    made.orchestrator.ctx.blueprints["tiny"] = blueprint.model_copy(
        update={"rep_login_path": "/auth/rep-login"}
    )
    yield made
    made.close()


def _token(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


@pytest.mark.parametrize("secret", ["s", "0" * 64, "ünï"])
@pytest.mark.parametrize("instance_id", ["demo-ab12cd", "standalone"])
def test_the_orchestrator_and_the_demo_compute_the_same_tokens(
    secret: str, instance_id: str
) -> None:
    assert rep_token(secret, instance_id) == identity.rep_token(secret, instance_id)
    assert identity.verify_rep_token(secret, instance_id, rep_token(secret, instance_id))
    email = "priya.nair@client.example"
    assert login_token(secret, email) == identity.login_token(secret, email)
    # neither kind is the other, whatever the e-mail (even one spelled like the rep's message)
    for name in (email, instance_id, f"\x00rep-login\x00{instance_id}", ""):
        assert rep_token(secret, instance_id) != login_token(secret, name)
        assert not identity.verify_rep_token(secret, instance_id, login_token(secret, name))
    assert rep_token(secret, instance_id) != rep_token(secret + "x", instance_id)
    assert rep_token(secret, instance_id) != rep_token(secret, instance_id + "x")


def test_the_instance_carries_a_rep_link_on_the_login_route(rig: Rig) -> None:
    instance_id = rig.create()
    rig.settle()
    shown = rig.get(instance_id)
    assert shown["rep_login_url"].startswith(shown["urls"]["portal"] + "/auth/rep-login?token=")
    personas = {_token(p["login_url"]) for p in shown["personas"]}
    assert _token(shown["rep_login_url"]) not in personas
    listed = rig.service.list_page(ADMIN)["items"]
    assert [i["rep_login_url"] for i in listed] == [shown["rep_login_url"]]


def test_rotation_replaces_every_link_and_reruns_only_the_runtime_steps(rig: Rig) -> None:
    instance_id = rig.create()
    rig.settle()
    before = rig.get(instance_id)
    secret = rig.runtime.envs[instance_id]["DEMO_LOGIN_SECRET"]
    rig.journal.clear()
    answered = rig.service.rotate_links(ADMIN, instance_id)
    assert answered["status"] == "provisioning"
    rig.settle()
    after = rig.get(instance_id)
    assert after["status"] == "ready" and after["urls"] == before["urls"]
    assert after["rep_login_url"] != before["rep_login_url"]
    old = {p["login_url"] for p in before["personas"]}
    assert old.isdisjoint(p["login_url"] for p in after["personas"])
    new_secret = rig.runtime.envs[instance_id]["DEMO_LOGIN_SECRET"]
    assert new_secret != secret
    assert _token(after["rep_login_url"]) == rep_token(new_secret, instance_id)
    assert rig.calls(instance_id=instance_id) == ["fake-runtime.ensure"]  # data untouched
    assert [a["action"] for a in rig.service.audit(ADMIN, instance_id)] == [
        "create",
        "rotate-links",
    ]


def test_rotation_is_for_writers_on_their_own_ready_demo(rig: Rig) -> None:
    instance_id = rig.create()
    with pytest.raises(Conflict, match="ready"):  # still being made
        rig.service.rotate_links(ADMIN, instance_id)
    rig.settle()
    with pytest.raises(Forbidden):
        rig.service.rotate_links(VIEWER, instance_id)
    with pytest.raises(Forbidden):
        rig.service.rotate_links(SALLY, instance_id)  # not hers
    assert "rotate-links" in KubernetesRuntime.refuses  # cluster mode answers 409 with why
    rig.runtime.refuses = {"rotate-links": "not built here"}
    with pytest.raises(Conflict, match="not built here"):
        rig.service.rotate_links(ADMIN, instance_id)
    assert rig.get(instance_id)["status"] == "ready"
