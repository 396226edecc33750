"""After a demo ends, its hosts say so, through the real router of a real `democtl serve`: a demo
deleted or expired within DEMO_ENDED_PAGE_DAYS answers 410 "This demo has ended" naming its owner
(name, e-mail as a mailto link) and the prospect's company, as a clean page for browsers and
problem+json for JSON clients; a host that never was a demo, a made-up route of an ended demo
and a demo that ended longer ago than the window keep the 404."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import Server

OWNER_EMAIL = "morgan.owner@sales.example"
COMPANY = "Acme Robotics"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    made = Server(tmp_path_factory.mktemp("ended"), DEMO_ENDED_PAGE_DAYS="7")
    made.start()
    answer = made.http.put("/api/v1/users/admin/email", json={"email": OWNER_EMAIL})
    assert answer.status_code == 200, answer.text
    yield made
    made.close()


def _host(
    server: Server, instance_id: str, route: str, accept: str = "text/html"
) -> httpx.Response:
    return httpx.get(
        f"{server.url}/",
        headers={"Host": f"{instance_id}.{route}.localhost:{server.port}", "Accept": accept},
        timeout=10,
        trust_env=False,
    )


def _ended(server: Server, **body: Any) -> str:
    """A demo that was ready, then deleted."""
    demo = server.create(scenario="agency", **body)["id"]
    server.wait_status(demo, "ready")
    assert _host(server, demo, "portal").status_code == 200  # live: proxied as before
    assert server.http.delete(f"/api/v1/demo-instances/{demo}").status_code == 202
    server.wait_status(demo, "deleted")
    return demo


def test_a_deleted_demo_names_whom_to_contact(server: Server) -> None:
    demo = _ended(server, prospect={"company": COMPANY, "industry": "Robotics"})
    for route in ("portal", "candidate"):
        page = _host(server, demo, route)
        assert page.status_code == 410, page.text[:300]
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["cache-control"] == "no-store"
        text = page.text
        assert "<h1>This demo has ended</h1>" in text
        assert "This demo environment for" in text and COMPANY in text and "was closed" in text
        assert '<strong class="contact-name">admin</strong>' in text
        assert f'<a class="contact-email" href="mailto:{OWNER_EMAIL}">{OWNER_EMAIL}</a>' in text
        assert demo in text
        # nothing internal: no upstream address, no trace, no other id or secret
        for leak in ("127.0.0.1", "Traceback", "token", "secret", "localhost:"):
            assert leak not in text, leak

    as_json = _host(server, demo, "portal", accept="application/json")
    assert as_json.status_code == 410
    assert as_json.headers["content-type"] == "application/problem+json"
    problem = as_json.json()
    assert problem["status"] == 410 and problem["title"] == "This demo has ended"
    assert problem["instance_id"] == demo and problem["instance_status"] == "deleted"
    assert problem["contact"] == {"name": "admin", "email": OWNER_EMAIL}
    assert problem["company"] == COMPANY
    assert OWNER_EMAIL in problem["detail"] and COMPANY in problem["detail"]

    assert _host(server, demo, "admin").status_code == 404  # not a route of the demo


def test_an_expired_demo_says_it_expired(server: Server) -> None:
    demo = server.create(scenario="agency", duration_hours=0.001)["id"]  # 3.6 s
    server.wait_status(demo, "ready")
    server.wait_status(demo, "deleted", timeout=60)
    page = _host(server, demo, "portal")
    assert page.status_code == 410
    assert "This demo environment has expired" in page.text  # no prospect: no company named
    assert f"mailto:{OWNER_EMAIL}" in page.text
    problem = _host(server, demo, "portal", accept="application/json").json()
    assert problem["instance_status"] == "expired" and problem["company"] is None


def test_unknown_hosts_and_demos_ended_long_ago_stay_404(server: Server) -> None:
    never = _host(server, "demo-zz9zz9", "portal")
    assert never.status_code == 404
    assert "This demo does not exist or has expired" in never.text
    assert _host(server, "demo-zz9zz9", "portal", accept="application/json").status_code == 404

    old = server.create(scenario="agency")["id"]
    server.wait_status(old, "ready")
    assert server.http.delete(f"/api/v1/demo-instances/{old}").status_code == 202
    server.wait_status(old, "deleted")
    # It ended eight days ago (the store's own record, moved back before anyone asked its host).
    with sqlite3.connect(server.home / "orchestrator.db") as db:
        (ended_at,) = db.execute("SELECT ended_at FROM instances WHERE id = ?", (old,)).fetchone()
        moved = datetime.fromisoformat(str(ended_at)) - timedelta(days=8)
        db.execute(
            "UPDATE instances SET ended_at = ? WHERE id = ?", (moved.isoformat(sep=" "), old)
        )
    gone = _host(server, old, "portal")
    assert gone.status_code == 404, gone.text[:300]
    assert "admin" not in gone.text and OWNER_EMAIL not in gone.text


def test_a_window_of_zero_days_turns_the_page_off(make_server: Any, tmp_path: Any) -> None:
    quiet: Server = make_server(tmp_path / "home", DEMO_ENDED_PAGE_DAYS="0")
    quiet.start()
    demo = _ended(quiet)
    assert _host(quiet, demo, "portal").status_code == 404
