"""`democtl` as a user runs it: a real process talking to a real server."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from tests.conftest import DEMOCTL, Server


def democtl(
    server: Server, *args: str, token: str | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = dict(server.env)
    if token is not None:
        env["DEMO_TOKEN"] = token
    return subprocess.run(
        [DEMOCTL, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        input=stdin,
    )


def test_create_wait_shows_progress_and_urls(server: Server) -> None:
    result = democtl(server, "create", "--scenario", "agency", "--hours", "2", "--wait")
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith("demo-") and " ready in " in first
    instance_id = first.split()[0]
    assert f"http://{instance_id}.portal.localhost:{server.port}" in result.stdout
    assert f"http://{instance_id}.candidate.localhost:{server.port}" in result.stdout
    assert "expires" in result.stdout and "(in 1 h 59 min)" in result.stdout
    assert server.get(instance_id)["status"] == "ready"


def test_json_flags_and_the_whole_round(server: Server) -> None:
    created = democtl(server, "create", "--hours", "1", "--wait", "--json", "--company", "Globex")
    assert created.returncode == 0, created.stderr
    instance: dict[str, Any] = json.loads(created.stdout)
    instance_id = instance["id"]
    assert instance["status"] == "ready" and instance["prospect"] == {"company": "Globex"}
    listed = json.loads(democtl(server, "list", "--json").stdout)
    assert instance_id in {i["id"] for i in listed["items"]}
    got = json.loads(democtl(server, "get", instance_id, "--json").stdout)
    assert got["id"] == instance_id
    extended = json.loads(democtl(server, "extend", instance_id, "--hours", "1", "--json").stdout)
    assert extended["expires_at"] > got["expires_at"]
    reset = democtl(server, "reset", instance_id, "--wait", "--json")
    assert reset.returncode == 0 and json.loads(reset.stdout)["status"] == "ready"
    logs = democtl(server, "logs", instance_id, "--service", "web")
    assert logs.returncode == 0 and "GET /healthz" in logs.stdout
    human = democtl(server, "get", instance_id)
    assert "health" in human.stdout and "done" in human.stdout
    deleted = democtl(server, "delete", instance_id, "--wait", "--json")
    assert deleted.returncode == 0 and json.loads(deleted.stdout)["status"] == "deleted"
    usage = json.loads(democtl(server, "usage", "--group-by", "scenario", "--json").stdout)
    assert usage["totals"]["demos"] >= 1


def test_errors_are_one_line_with_non_zero_exit(server: Server) -> None:
    cases = [
        (("create", "--scenario", "nope"), "unknown scenario 'nope'"),
        (("create", "--hours", "9"), "cap of 8 hours"),
        (("get", "demo-qqqqqq"), "no demo instance demo-qqqqqq"),
        (("extend", "nonsense"), "not an instance id"),
    ]
    for args, needle in cases:
        result = democtl(server, *args)
        assert result.returncode != 0, args
        assert needle in result.stderr, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    wrong = democtl(server, "list", token="wrong-token")
    assert wrong.returncode != 0 and "not valid" in wrong.stderr


def test_unreachable_server_is_a_clear_error(server: Server) -> None:
    env_url = "http://127.0.0.1:9"
    result = subprocess.run(
        [DEMOCTL, "list"],
        env={**server.env, "DEMO_URL": env_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert f"cannot reach the orchestrator at {env_url}" in result.stderr


def test_token_create_prints_a_working_token_once(server: Server) -> None:
    result = democtl(server, "token", "create", "--role", "sales", "--name", "sam")
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert token.startswith("demo_") and len(token) > 30
    created = democtl(server, "create", "--hours", "0.5", "--json", token=token)
    assert json.loads(created.stdout)["owner"] == "sam"
    bad_role = democtl(server, "token", "create", "--role", "boss", "--name", "x")
    assert bad_role.returncode != 0 and "role" in bad_role.stderr


def test_users_get_an_email_address_through_the_cli_and_the_api(server: Server) -> None:
    made = democtl(
        server,
        "user",
        "create",
        "--role",
        "sales",
        "--name",
        "mia",
        "--password-stdin",
        "--email",
        "mia@acme.example",
        "--json",
        stdin="Quartz-Meadow-Lantern-58\n",
    )
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["email"] == "mia@acme.example"
    bad = democtl(server, "user", "email", "mia", "not an address")
    assert bad.returncode != 0 and "is not an e-mail address" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    changed = democtl(server, "user", "email", "mia", "mia.w@acme.example", "--json")
    assert changed.returncode == 0, changed.stderr
    users = {u["name"]: u for u in server.http.get("/api/v1/users").json()["items"]}
    assert users["mia"]["email"] == "mia.w@acme.example"
    # a user sets their own address, not someone else's; null removes it
    token = server.http.post("/api/v1/tokens", json={"user": "mia", "role": "sales"}).json()[
        "token"
    ]
    as_mia = {"authorization": f"Bearer {token}"}
    assert (
        server.http.put(
            "/api/v1/users/admin/email", json={"email": "x@acme.example"}, headers=as_mia
        ).status_code
        == 403
    )
    for bad_address in (
        "a@b",
        "Mia <mia@acme.example>",
        "mia@acme.example\r\nBcc: x@y.z",
        "@acme.example",
    ):
        answer = server.http.put(
            "/api/v1/users/mia/email", json={"email": bad_address}, headers=as_mia
        )
        assert answer.status_code == 422, bad_address
        assert answer.headers["content-type"] == "application/problem+json"
    cleared = server.http.put("/api/v1/users/mia/email", json={"email": None}, headers=as_mia)
    assert cleared.status_code == 200 and cleared.json()["email"] is None
    refused = server.http.post(
        "/api/v1/users",
        json={
            "name": "ned",
            "role": "sales",
            "password": "Quartz-Meadow-Lantern-58",
            "email": "ned at acme",
        },
    )
    assert refused.status_code == 422
