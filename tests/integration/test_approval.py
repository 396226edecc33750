"""The sales policy over the REST API and the CLI: requests inside it start at once, others wait
as pending_approval until an admin approves (the clock starts then) or rejects (with a reason)."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from typing import Any

import httpx

from tests.conftest import DEMOCTL, Server, sign_in


def _token(server: Server, user: str, role: str) -> dict[str, str]:
    answer = server.http.post("/api/v1/tokens", json={"user": user, "role": role})
    assert answer.status_code == 201, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def test_policy_approval_and_rejection(make_server: Any) -> None:
    server: Server = make_server(DEMO_SALES_MAX_HOURS="1", DEMO_SALES_MAX_CONCURRENT="2").start()
    sales = _token(server, "sam", "sales")

    def request(hours: float) -> dict[str, Any]:
        answer = httpx.post(
            f"{server.url}/api/v1/demo-instances",
            headers=sales,
            trust_env=False,
            json={"duration_hours": hours, "scenario": "startup"},
        )
        assert answer.status_code == 202, answer.text
        return dict(answer.json())

    inside = request(1)
    # starts at once: the engine may already have picked it up when the answer is made
    assert inside["status"] in {"pending", "provisioning"} and inside["waiting_reason"] is None
    too_long = request(3)
    assert too_long["status"] == "pending_approval"
    assert "longer than the 1 h" in too_long["waiting_reason"]
    assert too_long["urls"] == {}  # nothing exists yet
    too_many = request(0.5)  # sam now has two live demos (one waiting)
    assert too_many["status"] == "pending_approval" and "2 live demos" in too_many["waiting_reason"]
    server.wait_status(inside["id"], "ready")
    assert server.get(too_long["id"])["status"] == "pending_approval"  # the engine leaves it be

    refused = httpx.post(
        f"{server.url}/api/v1/demo-instances/{too_long['id']}/approve",
        headers=sales,
        trust_env=False,
    )
    assert refused.status_code == 403 and "only admins" in refused.json()["detail"]

    approved = server.http.post(f"/api/v1/demo-instances/{too_long['id']}/approve")
    assert approved.status_code == 202 and approved.json()["status"] in {"pending", "provisioning"}
    expires = datetime.fromisoformat(approved.json()["expires_at"])
    assert abs((expires - datetime.now(UTC)).total_seconds() - 3 * 3600) < 30  # clock starts now
    server.wait_status(too_long["id"], "ready")
    assert server.demo(too_long["id"], "portal").status_code == 200

    no_reason = server.http.post(
        f"/api/v1/demo-instances/{too_many['id']}/reject", json={"reason": " "}
    )
    assert no_reason.status_code == 422 and "reason" in no_reason.json()["detail"]
    rejected = server.http.post(
        f"/api/v1/demo-instances/{too_many['id']}/reject", json={"reason": "use the shared demo"}
    )
    assert rejected.status_code == 200
    body = rejected.json()
    assert body["status"] == "rejected" and body["error"] == "rejected: use the shared demo"
    again = server.http.post(f"/api/v1/demo-instances/{too_many['id']}/approve")
    assert again.status_code == 409
    audit = server.http.get(f"/api/v1/demo-instances/{too_many['id']}/audit").json()["items"]
    assert [a["action"] for a in audit] == ["create", "reject"]
    assert audit[1]["detail"] == {"reason": "use the shared demo"} and audit[1]["actor"] == "admin"


def test_user_create_from_the_cli_then_sign_in(make_server: Any) -> None:
    server: Server = make_server().start()

    def user_create(name: str, password: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [DEMOCTL, "user", "create", "--role", "sales", "--name", name, "--password-stdin"],
            input=password + "\n",
            env=server.env,
            capture_output=True,
            text=True,
            check=False,
        )

    made = user_create("alice", "plum-orbit-cascade-41")
    assert made.returncode == 0, made.stderr
    assert "user alice (sales) created" in made.stdout
    duplicate = user_create("alice", "plum-orbit-cascade-41")
    assert duplicate.returncode == 1 and "exists already" in duplicate.stderr
    short = user_create("bob", "short")
    assert short.returncode == 1 and "at least 12 characters" in short.stderr
    with httpx.Client(base_url=server.url, trust_env=False) as browser:
        wrong = sign_in(browser, "alice", "nope-nope")
        assert wrong.status_code == 401 and "demo_session" not in browser.cookies
        signed = sign_in(browser, "alice", "plum-orbit-cascade-41")
        assert signed.status_code == 303 and signed.headers["location"] == "/portal"
        assert "demo_session" in browser.cookies
        home = browser.get("/portal")
        assert home.status_code == 303 and home.headers["location"] == "/portal/demos"
        page = browser.get("/portal/demos")
        assert page.status_code == 200 and "My demos" in page.text
        assert browser.get("/portal/admin/usage").status_code == 403
    actions = [(a["actor"], a["action"]) for a in server.http.get("/api/v1/audit").json()["items"]]
    assert ("alice", "sign-in") in actions and ("admin", "user.create") in actions
    # the password is stored as an argon2 hash, never as given
    import sqlite3

    stored = (
        sqlite3.connect(server.home / "orchestrator.db")
        .execute("SELECT password_hash FROM users WHERE name = 'alice'")
        .fetchone()[0]
    )
    assert stored.startswith("$argon2") and "plum-orbit-cascade-41" not in stored


def test_the_embedded_default_generates_a_readable_admin_password(make_server: Any) -> None:
    server: Server = make_server()
    server.env.pop("DEMO_ADMIN_PASSWORD", None)
    server.start()
    path = server.home / "admin-password"
    assert path.stat().st_mode & 0o777 == 0o600
    password = path.read_text().strip()
    assert len(password) >= 12
    with httpx.Client(base_url=server.url, trust_env=False) as browser:
        signed = sign_in(browser, "admin", password)
        assert signed.status_code == 303 and "demo_session" in browser.cookies
    server.stop()
    server.start()  # a restart keeps the password it made
    assert path.read_text().strip() == password
