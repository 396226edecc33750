"""The stack's side of the reload contract (`reload_path: /__demo/reload` in the blueprint), on a
real `python -m splits_stack serve`: with the token it re-reads its settings file and serves from
the new settings (login secret, prospect) in the same process, answering the version it applied;
without the token, or without a token configured at all, nothing happens."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx

from splits_stack.devserver import StackProcess
from splits_stack.services.identity import login_token
from splits_stack.web.gateway import RELOAD_PATH

EMAIL = "priya.nair@client.example"  # head of people at the prospect's company (agency)
PORTAL = {"Host": "demo-test.portal.localhost"}


def _signs_in(web: httpx.Client, secret: str) -> bool:
    token = login_token(secret, EMAIL)
    answer = web.get("/auth/demo-login", params={"email": EMAIL, "token": token}, headers=PORTAL)
    return answer.status_code == 303


def test_reload_serves_from_the_rewritten_settings_file(
    templates: dict[str, Path], tmp_path: Path
) -> None:
    database = tmp_path / "demo.db"
    shutil.copyfile(templates["agency"], database)
    path = tmp_path / "settings.json"
    env = {
        "DATABASE_URL": f"sqlite:///{database}",
        "DEMO_RELOAD_TOKEN": "the-token",
        "DEMO_SETTINGS_FILE": str(path),
        "DEMO_LOGIN_SECRET": "first",
    }
    path.write_text(json.dumps({"version": "v1", "env": env}))
    stack = StackProcess(env["DATABASE_URL"], env={"DEMO_SETTINGS_FILE": str(path)}).start()
    token = {"Authorization": "Bearer the-token", **PORTAL}
    try:
        with httpx.Client(base_url=stack.base, trust_env=False, timeout=10) as web:
            assert web.get("/healthz").json()["settings"] == "v1"
            assert _signs_in(web, "first")
            assert web.post(RELOAD_PATH, headers=PORTAL).status_code == 403
            wrong = {"Authorization": "Bearer no", **PORTAL}
            assert web.post(RELOAD_PATH, headers=wrong).status_code == 403
            assert web.get(RELOAD_PATH, headers=token).status_code == 405
            changed = {**env, "DEMO_LOGIN_SECRET": "second", "DEMO_PROSPECT_COMPANY": "Initech"}
            path.write_text(json.dumps({"version": "v2", "env": changed}))
            answer = web.post(RELOAD_PATH, headers=token)
            assert answer.status_code == 200 and answer.json()["version"] == "v2"
            assert stack.proc is not None and answer.json()["pid"] == stack.proc.pid
            assert web.get("/healthz").json()["settings"] == "v2"
            # the session made under the old secret ended with it
            assert web.get("/api/companies", headers=PORTAL).status_code == 401
        with httpx.Client(base_url=stack.base, trust_env=False, timeout=10) as web:
            assert not _signs_in(web, "first")
            assert _signs_in(web, "second")
            companies = web.get("/api/companies", headers=PORTAL).json()["items"]
            assert "Initech" in json.dumps(companies)
    finally:
        stack.stop()


def test_without_a_reload_token_there_is_no_reload_endpoint(
    templates: dict[str, Path], tmp_path: Path
) -> None:
    database = tmp_path / "demo.db"
    shutil.copyfile(templates["agency"], database)
    stack = StackProcess(f"sqlite:///{database}").start()
    try:
        with httpx.Client(base_url=stack.base, trust_env=False, timeout=10) as web:
            # no such route: like any unknown page it wants a session first (or is not found)
            assert web.post(RELOAD_PATH, headers=PORTAL).status_code in (303, 404, 405)
            assert web.get("/healthz").json()["settings"] is None
    finally:
        stack.stop()
