"""The prospect's share in the engine: a token the demo agrees with and that no persona's or rep's
token can stand in for, the share learnt by the demo through its environment (only the runtime
steps run again), replaced with a new nonce, revoked, ended by a rotation, guided without the
rep's talking points; owner or admin, audited."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from demo_orchestrator.domain.errors import BadRequest, Conflict, Forbidden
from demo_orchestrator.engine.actions import Principal
from demo_orchestrator.engine.shares import Shares, share_token
from demo_orchestrator.engine.views import login_token, rep_token
from splits_stack.services import identity
from tests.fakes.engine import ADMIN, Rig

SALLY = Principal("sally", "sales")
VIEWER = Principal("vera", "viewer")


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    made = Rig(tmp_path)
    yield made
    made.close()


def _token(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


@pytest.mark.parametrize("secret", ["s", "0" * 64, "ünï"])
def test_the_orchestrator_and_the_demo_compute_the_same_share_token(secret: str) -> None:
    ident = "demo-ab12cd"
    token = share_token(secret, ident, "guided", "n1")
    assert token == identity.share_token(secret, ident, "guided", "n1")
    assert token != share_token(secret, ident, "read_only", "n1")  # the mode is signed
    assert token != share_token(secret, ident, "guided", "n2")  # and the nonce
    assert token not in {rep_token(secret, ident), login_token(secret, ident)}
    assert token != identity.share_session_mac(secret, ident, "guided:n1", 0)


def test_a_share_reaches_the_demo_and_a_second_replaces_it(rig: Rig) -> None:
    ident = rig.create()
    rig.settle()
    shares = Shares(rig.service)
    assert shares.current(ADMIN, ident) is None
    rig.journal.clear()
    first = shares.share(ADMIN, ident, "read_only")
    assert rig.get(ident)["status"] == "provisioning"
    rig.settle()
    env = rig.runtime.envs[ident]
    mode, _, nonce = env["DEMO_SHARE"].partition(":")
    assert mode == "read_only" and "DEMO_SHARE_TOUR" not in env
    assert _token(first["url"]) == share_token(env["DEMO_LOGIN_SECRET"], ident, mode, nonce)
    assert first["expires_at"] == rig.get(ident)["expires_at"]
    assert rig.calls(instance_id=ident) == ["fake-runtime.ensure"]  # the data is untouched

    second = shares.share(ADMIN, ident, "guided")
    rig.settle()
    env = rig.runtime.envs[ident]
    assert env["DEMO_SHARE"].startswith("guided:") and not env["DEMO_SHARE"].endswith(nonce)
    assert second["url"] != first["url"]
    tour = json.loads(env["DEMO_SHARE_TOUR"])
    assert tour == [{"title": "open the dashboard", "path": "/", "persona": "Riley Recruiter"}]
    # the rep's talking point: never in what the prospect's session is shown; only in the rep's
    # own tour (DEMO_TOUR, which the stack shows to the rep's session alone)
    assert "everything at a glance" not in env["DEMO_SHARE_TOUR"]
    rest = {k: v for k, v in env.items() if k != "DEMO_TOUR"}
    assert "everything at a glance" not in json.dumps(rest)
    assert json.loads(env["DEMO_TOUR"])[0]["talking_point"] == "everything at a glance"

    shares.revoke(ADMIN, ident)
    rig.settle()
    assert "DEMO_SHARE" not in rig.runtime.envs[ident]
    assert shares.current(ADMIN, ident) is None
    shares.revoke(ADMIN, ident)  # nothing left to end: no change, the demo keeps running
    assert rig.get(ident)["status"] == "ready"
    actions = [a["action"] for a in rig.service.audit(ADMIN, ident)]
    assert actions == ["create", "share", "share", "unshare"]


def test_a_rotation_ends_the_share(rig: Rig) -> None:
    ident = rig.create()
    rig.settle()
    shares = Shares(rig.service)
    shares.share(ADMIN, ident, "read_only")
    rig.settle()
    rig.service.rotate_links(ADMIN, ident)
    rig.settle()
    assert shares.current(ADMIN, ident) is None


def test_sharing_is_for_the_owner_or_an_admin_on_a_ready_demo(rig: Rig) -> None:
    ident = rig.create()
    shares = Shares(rig.service)
    with pytest.raises(Conflict, match="ready"):
        shares.share(ADMIN, ident, "read_only")
    rig.settle()
    with pytest.raises(Forbidden):
        shares.share(VIEWER, ident, "read_only")
    with pytest.raises(Forbidden):
        shares.share(SALLY, ident, "read_only")  # not hers
    with pytest.raises(BadRequest, match="read_only, guided"):
        shares.share(ADMIN, ident, "edit")
    assert rig.get(ident)["status"] == "ready"


def test_a_runtime_that_cannot_rotate_cannot_share_and_says_why(rig: Rig) -> None:
    ident = rig.create()
    rig.settle()
    rig.runtime.refuses = {"rotate-links": "not built here"}
    with pytest.raises(Conflict, match="sharing .* not built here"):
        Shares(rig.service).share(ADMIN, ident, "guided")


def test_the_prospects_tour_of_the_reference_stack_has_no_talking_point() -> None:
    from demo_orchestrator.domain.blueprint import load_blueprint
    from demo_orchestrator.engine.shares import prospect_tour

    blueprint = load_blueprint(
        Path(__file__).resolve().parents[2] / "blueprints/splits-network.yaml"
    )
    for scenario in blueprint.scenarios:
        tour = prospect_tour(blueprint, scenario.name)
        assert tour, scenario.name
        said = json.dumps(tour)
        assert all(step.talking_point not in said for step in scenario.tour)
        # the candidate's steps live on the other host: left out of the portal's panel
        candidates = {p.name for p in scenario.personas if p.route == "candidate"}
        assert not candidates & {step["persona"] for step in tour}
    agency = [s["title"] for s in prospect_tour(blueprint, "agency")]
    assert agency[:2] == ["Open the dashboard", "Drag a candidate from Screening to Interview"]
    assert "Search the job board and apply" not in agency
