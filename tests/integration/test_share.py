"""Sharing a demo with the prospect, end to end through `democtl serve` and its router to a real
reference stack: `POST .../share` gives one link (a second replaces the first, whose link and
sessions then stop), the link reads the demo and every write through it is refused (403), a
revoke, a rotation of the sign-in links and the demo's end each stop it, and an extend moves its
`expires_at`. The admin page's share section does the same with its CSRF token."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.conftest import Server, sign_in

ADMIN_PASSWORD = "Copper-Lantern-Healing-4821"


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


def _open(server: Server, link: str) -> httpx.Response:
    """Open `link` without following it (a fresh browser)."""
    parts = urlsplit(link)
    with httpx.Client(base_url=server.url, headers={"Host": parts.netloc}, trust_env=False) as web:
        return web.get(f"{parts.path}?{parts.query}")


def _share(server: Server, demo: str, mode: str) -> dict[str, Any]:
    made = server.http.post(f"/api/v1/demo-instances/{demo}/share", json={"mode": mode})
    assert made.status_code == 201, made.text
    return dict(made.json())


def _ready(server: Server, demo: str) -> dict[str, Any]:
    found = server.wait_status(demo, "ready", "failed", timeout=90)
    assert found["status"] == "ready", found
    return found


def test_one_share_per_demo_read_only_replaced_revoked_and_rotated(server: Server) -> None:
    demo = _ready(server, server.create(scenario="agency")["id"])
    ident = demo["id"]
    assert server.http.get(f"/api/v1/demo-instances/{ident}/share").status_code == 404

    first = _share(server, ident, "read_only")
    assert set(first) == {"url", "mode", "expires_at"}
    assert first["mode"] == "read_only"
    assert first["expires_at"] == demo["expires_at"]
    assert first["url"].startswith(demo["urls"]["portal"] + "/auth/share?token=")
    token = parse_qs(urlsplit(first["url"]).query)["token"][0]
    # the link carries no other secret: not the rep's token, nor any persona's
    assert token not in json.dumps(demo)
    _ready(server, ident)

    prospect = server.follow(first["url"])
    assert prospect.get("/api/companies").status_code == 200
    board = prospect.get("/jobs/1")
    assert board.status_code == 200 and "Shared view" in board.text
    assert 'method="post"' not in board.text and 'draggable="true"' not in board.text
    # every write is refused, whatever the path; no persona switcher and no sign-in links
    moved = prospect.post("/applications/1/move", data={"stage": "interview"})
    assert moved.status_code == 403, moved.text[:300]
    assert prospect.post("/api/companies", json={}).status_code == 403
    picker = prospect.get("/personas").text
    assert "token=" not in picker and "Switch persona" not in board.text

    # a second share replaces the first: the old link and its session stop
    second = _share(server, ident, "guided")
    assert second["url"] != first["url"] and second["mode"] == "guided"
    _ready(server, ident)
    assert prospect.get("/api/companies").status_code == 401
    assert _open(server, first["url"]).status_code == 403
    guided = server.follow(second["url"])
    home = guided.get("/", params={"tour": "1"})
    assert "data-tour-panel" in home.text
    # the rep's talking points never reach the prospect
    assert "KPIs across every client" not in home.text
    assert guided.post("/applications/1/move", data={"stage": "offer"}).status_code == 403
    prospect.close()

    # an extend moves the link's expiry with the demo's
    extended = server.http.post(f"/api/v1/demo-instances/{ident}/extend", json={"hours": 1})
    assert extended.status_code == 200, extended.text
    now_share = server.http.get(f"/api/v1/demo-instances/{ident}/share").json()
    assert now_share["expires_at"] == extended.json()["expires_at"] != second["expires_at"]

    # revoking stops the link and its sessions
    revoked = server.http.delete(f"/api/v1/demo-instances/{ident}/share")
    assert revoked.status_code == 204
    _ready(server, ident)
    assert guided.get("/api/companies").status_code == 401
    assert _open(server, second["url"]).status_code == 403
    assert server.http.get(f"/api/v1/demo-instances/{ident}/share").status_code == 404
    guided.close()

    # a rotation of the sign-in links ends a share too
    third = _share(server, ident, "read_only")
    _ready(server, ident)
    viewer = server.follow(third["url"])
    assert server.http.post(f"/api/v1/demo-instances/{ident}/rotate-links").status_code == 200
    _ready(server, ident)
    assert viewer.get("/api/companies").status_code == 401
    assert _open(server, third["url"]).status_code == 403
    assert server.http.get(f"/api/v1/demo-instances/{ident}/share").status_code == 404
    viewer.close()

    audit = json.dumps(server.http.get(f"/api/v1/demo-instances/{ident}/audit").json())
    assert '"share"' in audit and '"unshare"' in audit

    bad = server.http.post(f"/api/v1/demo-instances/{ident}/share", json={"mode": "edit"})
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"


def test_the_admin_page_shares_and_revokes_with_csrf(server: Server) -> None:
    ident = _ready(server, server.create(scenario="agency")["id"])["id"]
    page_path = f"/portal/admin/demo-instances/{ident}"
    with httpx.Client(base_url=server.url, trust_env=False, timeout=20) as web:
        assert sign_in(web, "admin", ADMIN_PASSWORD).status_code == 303
        page = web.get(page_path).text
        assert 'id="create-share"' in page and "data-share-url" not in page
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert csrf is not None
        action = f"/portal/demo-instances/{ident}/share/create"
        web.post(action, data={"csrf_token": "forged", "mode": "guided"})
        assert server.http.get(f"/api/v1/demo-instances/{ident}/share").status_code == 404
        done = web.post(action, data={"csrf_token": csrf.group(1), "mode": "guided"})
        assert done.status_code == 303 and "error" not in done.headers["location"]
        shared = server.http.get(f"/api/v1/demo-instances/{ident}/share").json()
        assert shared["mode"] == "guided"
        _ready(server, ident)
        page = web.get(page_path).text
        assert shared["url"] in page and 'id="revoke-share"' in page and 'id="copy-share"' in page
        revoke = f"/portal/demo-instances/{ident}/share/revoke"
        gone = web.post(revoke, data={"csrf_token": csrf.group(1)})
        assert gone.status_code == 303 and "error" not in gone.headers["location"]
    assert server.http.get(f"/api/v1/demo-instances/{ident}/share").status_code == 404
    _ready(server, ident)
    assert _open(server, shared["url"]).status_code == 403


def test_the_link_stops_when_the_demo_expires(server: Server) -> None:
    ident = _ready(server, server.create(scenario="agency", duration_hours=0.02)["id"])["id"]
    shared = _share(server, ident, "read_only")
    assert shared["expires_at"] == server.get(ident)["expires_at"]
    server.wait_status(ident, "deleted", timeout=120)
    assert server.http.get(f"/api/v1/demo-instances/{ident}/share").status_code == 404
    assert _open(server, shared["url"]).status_code != 303  # no session for anyone


def test_democtl_shares_and_unshares_and_says_why_it_cannot(
    make_server: Any, tmp_path: Path
) -> None:
    from tests.integration.test_cli import democtl

    server: Server = make_server(tmp_path / "tiny").start()  # the tiny blueprint: quick
    ident = _ready(server, server.create()["id"])["id"]
    made = democtl(server, "share", ident, "--mode", "guided", "--json")
    assert made.returncode == 0, made.stderr
    shared = json.loads(made.stdout)
    assert shared == server.http.get(f"/api/v1/demo-instances/{ident}/share").json()
    assert shared["mode"] == "guided"
    _ready(server, ident)
    plain = democtl(server, "share", ident)
    assert plain.returncode == 0 and "/auth/share?token=" in plain.stdout
    assert shared["url"] not in plain.stdout  # replaced
    _ready(server, ident)
    gone = democtl(server, "unshare", ident)
    assert gone.returncode == 0, gone.stderr
    assert server.http.get(f"/api/v1/demo-instances/{ident}/share").status_code == 404
    bad = democtl(server, "share", ident, "--mode", "edit")
    assert bad.returncode != 0
    _ready(server, ident)
    server.http.post(f"/api/v1/demo-instances/{ident}/sleep")
    server.wait_status(ident, "sleeping", timeout=30)
    refused = democtl(server, "share", ident)
    assert refused.returncode != 0 and "ready" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
