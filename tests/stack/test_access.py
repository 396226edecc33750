"""Who gets in to a demo, on a real server: nobody without a sign-in link; a persona sees that
persona's scope; the rep sees the whole demo and every persona's link; the two kinds of token
cannot stand in for each other; a new login secret (reload in place) ends every session and link
made under the old one."""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path
from typing import Any

import httpx

from splits_stack.devserver import StackProcess
from splits_stack.services.identity import login_token, rep_token
from splits_stack.web.gateway import RELOAD_PATH
from tests.stack.conftest import PERSONA_LINK, as_rep, client, sign_in

API = ("companies", "jobs", "candidates", "applications", "recruiters", "users")


def _links(page: str) -> dict[str, str]:
    return {e: html.unescape(u) for e, u in re.findall(PERSONA_LINK, page)}


def test_without_a_session_nothing_but_the_way_in_answers(stacks: Any) -> None:
    stack = stacks("agency")
    for site in ("portal", "candidate"):
        with client(stack, site) as anon:
            picker = anon.get("/personas")
            assert picker.status_code == 200 and 'data-closed="personas"' in picker.text
            assert "token=" not in picker.text and not _links(picker.text)
            assert "token=" not in anon.get("/auth/switch").text
            for name in API:
                answer = anon.get(f"/api/{name}")
                assert answer.status_code == 401, name
                assert answer.headers["content-type"] == "application/json"
                assert "rep_login_url" in answer.json()["detail"]
            assert anon.get("/api/matches", params={"job_id": 1}).status_code == 401
            page = anon.get("/jobs/1")
            assert page.status_code == 303 and page.headers["location"].startswith("/personas")
            assert anon.get("/healthz").status_code == 200


def test_a_company_admin_reads_her_company_only(stacks: Any) -> None:
    stack = stacks("agency")
    with as_rep(stack) as rep:
        everything = rep.get("/api/jobs", params={"limit": 500}).json()
    with sign_in(stack, "priya.nair@client.example") as http:
        companies = http.get("/api/companies").json()
        jobs = http.get("/api/jobs", params={"limit": 500}).json()
        apps = http.get("/api/applications", params={"limit": 500}).json()["items"]
        users = http.get("/api/users", params={"limit": 500}).json()["items"]
        own = companies["items"][0]["id"]
        foreign = next(j["id"] for j in everything["items"] if j["company_id"] != own)
        assert http.get("/api/matches", params={"job_id": foreign}).status_code == 404
        picker = http.get("/personas").text
    assert companies["total"] == 1
    assert 0 < jobs["total"] < everything["total"]
    assert {j["company_id"] for j in jobs["items"]} == {own}
    mine = {j["id"] for j in jobs["items"]}
    assert all(a["job_id"] in mine for a in apps)
    assert users and {u["company_id"] for u in users} == {own}
    assert not _links(picker) and "token=" not in picker


def test_a_candidate_reads_his_own_applications_and_the_job_board(stacks: Any) -> None:
    stack = stacks("agency")
    with sign_in(stack, "sam.carter@mail.example", "candidate") as http:
        me = http.get("/api/users").json()
        apps = http.get("/api/applications", params={"limit": 500}).json()
        jobs = http.get("/api/jobs", params={"limit": 500}).json()["items"]
        candidates = http.get("/api/candidates", params={"limit": 500}).json()
        recruiters = http.get("/api/recruiters").json()
        matches = http.get("/api/matches", params={"job_id": jobs[0]["id"]})
    assert me["total"] == 1 and me["items"][0]["email"] == "sam.carter@mail.example"
    mine = me["items"][0]["candidate_id"]
    assert apps["total"] > 0 and {a["candidate_id"] for a in apps["items"]} == {mine}
    assert candidates["total"] == 1 and candidates["items"][0]["id"] == mine
    assert jobs and {j["status"] for j in jobs} == {"open"}
    assert recruiters["total"] == 0 and matches.status_code == 404


def test_the_rep_sees_every_persona_link_and_can_become_one(stacks: Any) -> None:
    stack = stacks("startup")
    with as_rep(stack) as http:
        links = _links(http.get("/personas").text)
        assert len(links) == 3
        founder = httpx.URL(links["alex.morgan@lumenlabs.example"])
        landed = http.get(founder.path, params=founder.params)
        assert landed.status_code == 303 and landed.headers["location"] == "/"
        assert "Alex Morgan" in http.get("/").text
        # still the rep underneath: the switcher lists everyone
        assert len(_links(http.get("/auth/switch").text)) == 3


def test_rep_and_persona_tokens_cannot_stand_in_for_each_other(stacks: Any) -> None:
    stack = stacks("agency")
    instance = stack.env["DEMO_INSTANCE_ID"]
    rep = rep_token("test-secret", instance)
    emails = ["jordan.reyes@northbridge.example", "priya.nair@client.example", instance, ""]
    assert rep not in {login_token("test-secret", e) for e in emails}
    assert rep != rep_token("test-secret", "demo-other") != rep_token("other", instance)
    with client(stack) as http:
        for email in emails[:2]:
            persona = login_token("test-secret", email)
            assert http.get("/auth/rep-login", params={"token": persona}).status_code == 403
            answer = http.get("/auth/demo-login", params={"email": email, "token": rep})
            assert answer.status_code == 403
        assert http.get("/auth/rep-login", params={"token": ""}).status_code == 403
        assert http.get("/api/companies").status_code == 401  # none of that signed anyone in
        # a forged rep cookie is no session either
        http.cookies.set("splits_rep", "99999999999.00")
        assert http.get("/api/companies").status_code == 401


def test_a_new_login_secret_ends_old_links_and_sessions(
    templates: dict[str, Path], tmp_path: Path
) -> None:
    database = tmp_path / "demo.db"
    shutil.copyfile(templates["agency"], database)
    path = tmp_path / "settings.json"
    env = {
        "DATABASE_URL": f"sqlite:///{database}",
        "DEMO_INSTANCE_ID": "demo-rotate",
        "DEMO_RELOAD_TOKEN": "reload-token",
        "DEMO_SETTINGS_FILE": str(path),
        "DEMO_LOGIN_SECRET": "old-secret",
    }
    path.write_text(json.dumps({"version": "v1", "env": env}))
    stack = StackProcess(
        env["DATABASE_URL"],
        env={"DEMO_SETTINGS_FILE": str(path), "DEMO_INSTANCE_ID": "demo-rotate"},
    ).start()
    email = "priya.nair@client.example"
    try:
        with client(stack) as rep, client(stack) as persona:
            old_rep = {"token": rep_token("old-secret", "demo-rotate")}
            old_persona = {"email": email, "token": login_token("old-secret", email)}
            assert rep.get("/auth/rep-login", params=old_rep).status_code == 303
            assert persona.get("/auth/demo-login", params=old_persona).status_code == 303
            assert rep.get("/api/companies").status_code == 200
            assert persona.get("/api/companies").status_code == 200
            path.write_text(
                json.dumps({"version": "v2", "env": {**env, "DEMO_LOGIN_SECRET": "new"}})
            )
            reload = rep.post(RELOAD_PATH, headers={"Authorization": "Bearer reload-token"})
            assert reload.status_code == 200 and reload.json()["version"] == "v2"
            assert rep.get("/api/companies").status_code == 401
            assert persona.get("/api/companies").status_code == 401
            assert persona.get("/").headers["location"].startswith("/personas")
            assert rep.get("/auth/rep-login", params=old_rep).status_code == 403
            assert persona.get("/auth/demo-login", params=old_persona).status_code == 403
            new_rep = {"token": rep_token("new", "demo-rotate")}
            assert rep.get("/auth/rep-login", params=new_rep).status_code == 303
            assert rep.get("/api/companies").json()["total"] > 1
            new_persona = {"email": email, "token": login_token("new", email)}
            assert persona.get("/auth/demo-login", params=new_persona).status_code == 303
            assert persona.get("/api/companies").json()["total"] == 1
    finally:
        stack.stop()
