"""Reload in place, on real processes: a service whose blueprint names a `reload_path` takes new
settings (a warm-pool claim's prospect, a reset's restored database) without a restart, its pid
unchanged; a service without one is restarted; a service that does not confirm the reload is
restarted with the new settings; and the reload endpoint refuses a caller without the token.

tiny-fork: `web` (forked) opts in, `side` (started with its command) does not. The same through a
real server (API reset, warm-pool claim with a prospect) is at the end.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from demo_orchestrator.domain.blueprint import load_blueprint
from demo_orchestrator.providers.base import InstanceSpec, Outputs
from demo_orchestrator.providers.local_runtime import LocalRuntime
from demo_orchestrator.providers.sqlite_db import SqliteDatabase
from tests.conftest import Server, stop_everything_of
from tests.fakes.data_services import provision

BLUEPRINTS = Path(__file__).resolve().parents[1] / "blueprints"
FORK = BLUEPRINTS / "tiny_fork.yaml"


@pytest.fixture
def home(tmp_path: Path) -> Any:
    folder = tmp_path / "home"
    folder.mkdir()
    yield folder
    stop_everything_of(folder)


def make_spec(home: Path, instance_id: str, **env: str) -> InstanceSpec:
    loaded = load_blueprint(FORK)
    scenario = loaded.scenarios[0]
    plain = InstanceSpec(instance_id=instance_id, blueprint=loaded, scenario=scenario)
    database = SqliteDatabase(home=home).ensure(spec=plain).env
    return InstanceSpec(
        instance_id=instance_id, blueprint=loaded, scenario=scenario, env={**database, **env}
    )


def start(runtime: LocalRuntime, spec: InstanceSpec) -> Outputs:
    out = provision(runtime, spec)
    runtime.wait_healthy(instance_id=spec.instance_id, timeout=20)
    return out


def call(out: Outputs, path: str, service: str = "web", **kwargs: Any) -> httpx.Response:
    port = out.state["services"][service]["port"]
    method = "POST" if "json" in kwargs else "GET"
    url = f"http://127.0.0.1:{port}{path}"
    return httpx.request(method, url, timeout=5, trust_env=False, **kwargs)


def pids(out: Outputs) -> dict[str, int]:
    return {name: int(s["pid"]) for name, s in out.state["services"].items()}


def test_new_settings_reach_an_opted_in_service_without_a_restart(home: Path) -> None:
    runtime = LocalRuntime(home=home, stop_grace=1)
    try:
        first = start(runtime, make_spec(home, "demo-rel001", DEMO_LOGIN_SECRET="old"))
        assert call(first, "/settings").json()["DEMO_LOGIN_SECRET"] == "old"
        claimed = make_spec(
            home,
            "demo-rel001",
            DEMO_LOGIN_SECRET="new-secret",
            DEMO_PROSPECT_COMPANY="Initech",
        )
        second = start(runtime, claimed)
        assert "1 reloaded in place" in second.message
        assert pids(second)["web"] == pids(first)["web"]  # reloaded in place
        assert pids(second)["side"] != pids(first)["side"]  # no reload_path: restarted
        shown = call(second, "/settings").json()
        assert shown["DEMO_LOGIN_SECRET"] == "new-secret"
        assert shown["DEMO_PROSPECT_COMPANY"] == "Initech"
        assert shown["version"] == second.state["services"]["web"]["settings"]
        # In the runtime folder, or the demo's private folder when sandboxed (owned by its uid).
        settings_file = runtime.reloads.settings_path("demo-rel001", "web")
        assert settings_file.stat().st_mode & 0o777 == 0o600  # it holds the demo's secrets
        lease = runtime.sandbox.find("demo-rel001")
        assert settings_file.stat().st_uid == (lease.uid if lease else os.getuid())
        # The same settings again: adopted as it runs, nothing reloaded or restarted.
        again = start(runtime, claimed)
        assert pids(again) == pids(second) and "adopted" in again.message
    finally:
        runtime.destroy(instance_id="demo-rel001")
        runtime.close()


def test_reset_restores_the_data_under_a_running_service_and_reloads_it(home: Path) -> None:
    runtime = LocalRuntime(home=home, stop_grace=1)
    database = SqliteDatabase(home=home)
    spec = make_spec(home, "demo-rel002")
    try:
        first = start(runtime, spec)
        assert call(first, "/items", json={"name": "added by the user"}).status_code == 201
        assert call(first, "/api/items").json()["total"] == 6
        runtime.reset(instance_id=spec.instance_id)  # the engine's order: runtime, then data
        database.reset(instance_id=spec.instance_id)
        assert not list((home / "databases").glob("*.partial"))
        after = start(runtime, spec)
        assert pids(after)["web"] == pids(first)["web"]
        assert pids(after)["side"] != pids(first)["side"]
        assert call(after, "/api/items").json()["total"] == 5  # the seeded items, nothing else
        assert call(after, "/api/items", service="side").json()["total"] == 5
    finally:
        runtime.destroy(instance_id=spec.instance_id)
        runtime.close()


@pytest.mark.parametrize(
    ("knob", "why"),
    [
        ("DEMO_TEST_REFUSE_RELOAD", "/__demo/reload answered 500"),
        ("DEMO_TEST_HANG_RELOAD", "ReadTimeout from /__demo/reload"),
    ],
)
def test_a_service_that_does_not_confirm_the_reload_is_restarted(
    home: Path, knob: str, why: str
) -> None:
    runtime = LocalRuntime(home=home, stop_grace=1, reload_timeout=0.5)
    try:
        first = start(runtime, make_spec(home, "demo-rel003"))
        refused = make_spec(home, "demo-rel003", DEMO_LOGIN_SECRET="x", **{knob: "1"})
        second = start(runtime, refused)
        assert pids(second)["web"] != pids(first)["web"]
        assert call(second, "/settings").json()["DEMO_LOGIN_SECRET"] == "x"
        log = (home / "runtime" / "demo-rel003" / "logs" / "web.log").read_text()
        assert f"reload not confirmed ({why}): restarting" in log
    finally:
        runtime.destroy(instance_id="demo-rel003")
        runtime.close()


def test_the_reload_endpoint_needs_the_demo_s_own_token(home: Path) -> None:
    runtime = LocalRuntime(home=home, stop_grace=1)
    try:
        out = start(runtime, make_spec(home, "demo-rel004"))
        assert call(out, "/__demo/reload", json={}).status_code == 403
        wrong = {"Authorization": "Bearer not-the-token"}
        assert call(out, "/__demo/reload", json={}, headers=wrong).status_code == 403
        other = runtime.reloads.token("demo-other", "web")  # another demo's token
        theirs = {"Authorization": f"Bearer {other}"}
        assert call(out, "/__demo/reload", json={}, headers=theirs).status_code == 403
    finally:
        runtime.destroy(instance_id="demo-rel004")
        runtime.close()


# -- through a real server -------------------------------------------------------------------------


def _fork_server(make_server: Any, home: Path, **extra: str) -> Server:
    server: Server = make_server(
        home, DEMO_BLUEPRINT="tiny-fork", DEMO_BLUEPRINT_PATHS=f'["{FORK}"]', **extra
    )
    return server.start()


def _pids(server: Server, instance_id: str) -> dict[str, int]:
    path = server.home / "runtime" / instance_id / "runtime.json"
    return {name: int(s["pid"]) for name, s in json.loads(path.read_text()).items()}


def test_api_reset_restores_data_without_restarting_the_opted_in_service(
    make_server: Any, tmp_path: Path
) -> None:
    server = _fork_server(make_server, tmp_path / "home")
    instance = server.create(prospect={"company": "Initech"})
    ready = server.wait_status(instance["id"], "ready")
    before = _pids(server, instance["id"])
    host = {"Host": f"{instance['id']}.portal.localhost:{server.port}"}
    added = httpx.post(
        f"{server.url}/items", json={"name": "mine"}, headers=host, timeout=5, trust_env=False
    )
    assert added.status_code == 201
    assert server.demo(instance["id"], "portal").json()["total"] == 6
    assert server.http.post(f"/api/v1/demo-instances/{instance['id']}/reset").status_code == 202
    after = server.wait_status(instance["id"], "ready")
    assert server.demo(instance["id"], "portal").json()["total"] == 5
    assert server.demo(instance["id"], "candidate").json()["total"] == 5
    pids = _pids(server, instance["id"])
    assert pids["web"] == before["web"] and pids["side"] != before["side"]
    # URLs, personas, prospect and expiry are the demo's, not the data's: kept.
    for key in ("urls", "personas", "prospect", "expires_at"):
        assert after[key] == server.get(instance["id"])[key] == ready[key]
    shown = server.demo(instance["id"], "portal", "/settings").json()
    assert shown["DEMO_PROSPECT_COMPANY"] == "Initech"


def test_a_pool_claim_with_a_prospect_personalises_without_a_restart(
    make_server: Any, tmp_path: Path
) -> None:
    server = _fork_server(make_server, tmp_path / "home", DEMO_WARM_POOL="agency=1")
    deadline = time.monotonic() + 40
    while True:
        items = server.http.get("/api/v1/warm-pool").json()["items"]
        if next(i for i in items if i["scenario"] == "agency")["ready"] >= 1:
            break
        assert time.monotonic() < deadline
        time.sleep(0.1)
    member = next(iter(p.name for p in (server.home / "runtime").glob("demo-*")))
    before = _pids(server, member)
    unclaimed = server.demo(member, "portal", "/settings").json()
    personal = server.create(prospect={"company": "Initech"})
    assert personal["id"] == member
    server.wait_status(member, "ready")
    shown = server.demo(member, "portal", "/settings").json()
    assert shown["DEMO_PROSPECT_COMPANY"] == "Initech"
    assert shown["DEMO_LOGIN_SECRET"] and shown["version"] != unclaimed["version"]
    assert _pids(server, member)["web"] == before["web"]  # personalised in place


# -- the reference stack -----------------------------------------------------------------------------


def test_the_reference_stack_takes_its_prospect_and_login_secret_in_place(home: Path) -> None:
    from splits_stack.services.identity import login_token

    loaded = load_blueprint(Path(__file__).resolve().parents[2] / "blueprints/splits-network.yaml")
    scenario = loaded.scenario("agency")
    assert scenario is not None
    plain = InstanceSpec(instance_id="demo-rel005", blueprint=loaded, scenario=scenario)
    database = SqliteDatabase(home=home).ensure(spec=plain).env

    def with_env(**env: str) -> InstanceSpec:
        return InstanceSpec(
            instance_id="demo-rel005",
            blueprint=loaded,
            scenario=scenario,
            env={**database, "DEMO_SCENARIO": "agency", **env},
        )

    def companies(out: Outputs, secret: str) -> httpx.Response:
        port = out.state["services"]["app"]["port"]
        email = "priya.nair@client.example"  # the head of people at the prospect's company
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False) as web:
            signed_in = web.get(
                "/auth/demo-login",
                params={"email": email, "token": login_token(secret, email)},
                headers={"Host": "demo-rel005.portal.localhost"},
            )
            if signed_in.status_code != 303:
                return signed_in
            return web.get("/api/companies", headers={"Host": "demo-rel005.portal.localhost"})

    runtime = LocalRuntime(home=home, stop_grace=1)
    try:
        member = start(runtime, with_env(DEMO_LOGIN_SECRET="pool-secret"))
        listed = companies(member, "pool-secret").json()["items"]
        assert "Initech" not in json.dumps(listed)
        claimed = start(
            runtime, with_env(DEMO_LOGIN_SECRET="claim-secret", DEMO_PROSPECT_COMPANY="Initech")
        )
        assert pids(claimed) == pids(member)  # personalised without a restart
        assert companies(claimed, "pool-secret").status_code != 303  # the old secret is gone
        assert "Initech" in json.dumps(companies(claimed, "claim-secret").json()["items"])
        port = claimed.state["services"]["app"]["port"]
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", trust_env=False).json()
        assert health["settings"] == claimed.state["services"]["app"]["settings"]
    finally:
        runtime.destroy(instance_id="demo-rel005")
        runtime.close()
