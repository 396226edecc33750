"""Who gets in to a demo of the reference stack, end to end through `democtl serve` and its router:
the instance's `rep_login_url` reads the whole demo, a persona's link that persona's scope, and
nothing else gets in; rotating the links (API and the admin page, audited) replaces every link and
ends every session in the running demo, in place (the same process)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.conftest import Server

ADMIN_PASSWORD = "Velvet-Rotor-Harbor-5512"
PRIYA = "priya.nair@client.example"  # company admin at one company of the agency scenario


@pytest.fixture
def server(make_server: Any, tmp_path: Path) -> Server:
    made: Server = make_server(
        tmp_path / "home",
        DEMO_BLUEPRINT="splits-network",
        DEMO_BLUEPRINT_PATHS="[]",
        DEMO_PREBUILD_TEMPLATES="false",
        DEMO_ADMIN_PASSWORD=ADMIN_PASSWORD,
    )
    return made.start()


def _links(instance: dict[str, Any]) -> dict[str, str]:
    return {p["email"]: p["login_url"] for p in instance["personas"]}


def _token(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


def _refused(server: Server, link: str) -> bool:
    parts = urlsplit(link)
    with httpx.Client(base_url=server.url, headers={"Host": parts.netloc}, trust_env=False) as web:
        return web.get(f"{parts.path}?{parts.query}").status_code == 403


def _pid(server: Server, instance_id: str) -> int:
    state = json.loads((server.home / "runtime" / instance_id / "runtime.json").read_text())
    return int(state["app"]["pid"])


def test_only_sign_in_links_open_a_demo_and_rotation_replaces_them(server: Server) -> None:
    made = server.create(scenario="agency")
    ready = server.wait_status(made["id"], "ready", "failed", timeout=120)
    assert ready["status"] == "ready", ready
    demo, rep_link, links = ready["id"], ready["rep_login_url"], _links(ready)
    assert rep_link.startswith(ready["urls"]["portal"] + "/auth/rep-login?token=")
    assert _token(rep_link) not in {_token(u) for u in links.values()}

    # no link, no data: the API answers 401 and the picker lists nobody
    assert server.demo(demo, "portal", "/api/companies").status_code == 401
    picker = server.demo(demo, "candidate", "/personas").text
    assert "token=" not in picker

    # the rep reads the whole demo (the blueprint's counts) and sees every persona's link
    rep = server.follow(rep_link)
    assert rep.get("/api/companies").json()["total"] == 4
    assert rep.get("/api/jobs", params={"status": "open"}).json()["total"] == 10
    assert rep.get("/api/candidates").json()["total"] == 50
    assert len(re.findall(r"data-persona=", rep.get("/personas").text)) == len(links)
    # a persona reads that persona's scope
    persona = server.follow(links[PRIYA])
    assert persona.get("/api/companies").json()["total"] == 1
    # a persona's token is no rep's token
    forged = rep_link.replace(_token(rep_link), _token(links[PRIYA]))
    assert _refused(server, forged)

    pid = _pid(server, demo)
    rotated = server.http.post(f"/api/v1/demo-instances/{demo}/rotate-links")
    assert rotated.status_code == 200, rotated.text
    body = rotated.json()
    assert body["rep_login_url"] != rep_link
    assert set(_links(body).values()).isdisjoint(links.values())
    after = server.wait_status(demo, "ready", "failed", timeout=60)
    assert after["status"] == "ready" and after["rep_login_url"] == body["rep_login_url"]
    assert _pid(server, demo) == pid  # applied in place: the demo kept running

    # old links and the sessions they made are over; the new links work
    assert rep.get("/api/companies").status_code == 401
    assert persona.get("/api/companies").status_code == 401
    assert _refused(server, rep_link) and _refused(server, links[PRIYA])
    assert server.follow(after["rep_login_url"]).get("/api/companies").json()["total"] == 4
    assert server.follow(_links(after)[PRIYA]).get("/api/companies").json()["total"] == 1
    rep.close()
    persona.close()

    audit = server.http.get(f"/api/v1/demo-instances/{demo}/audit").json()
    assert "rotate-links" in json.dumps(audit)

    # the admin page's button does the same, with its CSRF token
    with httpx.Client(base_url=server.url, trust_env=False, timeout=20) as web:
        form = web.get("/login").text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
        signed = web.post(
            "/login",
            data={
                "username": "admin",
                "password": ADMIN_PASSWORD,
                **({"csrf_token": csrf.group(1)} if csrf else {}),
            },
        )
        assert signed.status_code == 303, signed.text[:300]
        page = web.get(f"/portal/admin/demo-instances/{demo}").text
        assert 'id="rotate-links"' in page and 'id="rep-login"' in page
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token is not None
        action = f"/portal/demo-instances/{demo}/rotate-links"
        forged_post = web.post(action, data={"csrf_token": "forged"})
        assert forged_post.status_code in (303, 400, 403)
        assert server.get(demo)["rep_login_url"] == after["rep_login_url"]  # nothing rotated
        done = web.post(action, data={"csrf_token": token.group(1)})
        assert done.status_code == 303 and "error" not in done.headers["location"]
    assert server.get(demo)["rep_login_url"] != after["rep_login_url"]
    server.wait_status(demo, "ready", "failed", timeout=60)

    # only a ready demo rotates
    server.http.delete(f"/api/v1/demo-instances/{demo}")
    refused = server.http.post(f"/api/v1/demo-instances/{demo}/rotate-links")
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    assert "ready" in refused.json()["detail"]


def test_democtl_rotates_the_links_and_says_why_it_cannot(make_server: Any, tmp_path: Path) -> None:
    from tests.integration.test_cli import democtl

    server: Server = make_server(tmp_path / "tiny").start()  # the tiny blueprint: quick
    made = server.create()
    ready = server.wait_status(made["id"], "ready", "failed", timeout=60)
    rotated = democtl(server, "rotate-links", ready["id"], "--wait", "--json")
    assert rotated.returncode == 0, rotated.stderr
    after = json.loads(rotated.stdout)
    assert after["status"] == "ready"
    assert set(_links(after).values()).isdisjoint(_links(ready).values())
    server.http.post(f"/api/v1/demo-instances/{ready['id']}/sleep")
    server.wait_status(ready["id"], "sleeping", timeout=30)
    refused = democtl(server, "rotate-links", ready["id"])
    assert refused.returncode != 0 and "ready" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
