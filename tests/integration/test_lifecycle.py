"""The lifecycle end to end against a real server, real demo processes and real HTTP."""

from __future__ import annotations

import json
import time
from datetime import datetime

import httpx

from tests.conftest import Server, instance_files


def test_create_ready_and_both_hosts_answer_through_the_router(server: Server) -> None:
    created = server.create(scenario="agency", duration_hours=2, prospect={"company": "Acme"})
    assert created["status"] in {"pending", "provisioning", "ready"}
    assert created["id"].startswith("demo-") and len(created["id"]) == 11
    ready = server.wait_status(created["id"], "ready", "failed")
    assert ready["status"] == "ready", ready
    assert ready["urls"] == {
        "portal": f"http://{created['id']}.portal.localhost:{server.port}",
        "candidate": f"http://{created['id']}.candidate.localhost:{server.port}",
    }
    assert [s["name"] for s in ready["steps"]] == [
        "database",
        "cache",
        "broker",
        "seed",
        "deploy",
        "routes",
        "health",
    ]
    assert all(s["status"] in {"done", "skipped"} for s in ready["steps"])
    for route in ("portal", "candidate"):
        answer = server.demo(created["id"], route)
        assert answer.status_code == 200
        body = answer.json()
        assert body["total"] == 5  # the agency scenario's seeded items
        assert body["instance"] == created["id"]
        assert body["host"].startswith(f"{created['id']}.{route}.")
    page = server.demo(created["id"], "candidate", "/")
    assert "tiny candidate" in page.text
    personas = {p["email"]: p for p in ready["personas"]}
    assert personas["riley@tiny.test"]["login_url"].startswith(ready["urls"]["portal"] + "/login?")
    assert personas["casey@tiny.test"]["login_url"].startswith(
        ready["urls"]["candidate"] + "/login?"
    )
    assert ready["cost"]["hourly_usd"] == 0.16


def test_unknown_demo_host_gets_a_404_page(server: Server) -> None:
    answer = server.demo("demo-zzzzzz", "portal", "/")
    assert answer.status_code == 404
    assert "text/html" in answer.headers["content-type"]


def test_list_filters_and_cursor_pagination(server: Server) -> None:
    ids = [server.create(scenario="startup")["id"] for _ in range(3)]
    for instance_id in ids:
        server.wait_status(instance_id, "ready")
    seen: list[str] = []
    cursor = None
    while True:
        params = {"scenario": "startup", "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = server.http.get("/api/v1/demo-instances", params=params).json()
        seen.extend(i["id"] for i in page["items"])
        assert all(i["scenario"] == "startup" for i in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert set(ids) <= set(seen) and len(seen) == len(set(seen))
    ready = server.http.get("/api/v1/demo-instances", params={"status": "ready"}).json()
    assert set(ids) <= {i["id"] for i in ready["items"]}
    bad = server.http.get("/api/v1/demo-instances", params={"cursor": "%%%"})
    assert bad.status_code == 422 and "cursor" in bad.json()["detail"]


def test_extend_respects_the_cap(server: Server) -> None:
    instance = server.create(duration_hours=2)
    before = datetime.fromisoformat(instance["expires_at"])
    extended = server.http.post(
        f"/api/v1/demo-instances/{instance['id']}/extend", json={"hours": 1.5}
    )
    assert extended.status_code == 200
    after = datetime.fromisoformat(extended.json()["expires_at"])
    assert abs((after - before).total_seconds() - 5400) < 2
    too_far = server.http.post(f"/api/v1/demo-instances/{instance['id']}/extend", json={"hours": 5})
    assert too_far.status_code == 422
    assert too_far.headers["content-type"] == "application/problem+json"
    assert "8-hour cap" in too_far.json()["detail"] and "4.50 h" in too_far.json()["detail"]
    unchanged = server.get(instance["id"])["expires_at"]
    assert unchanged == extended.json()["expires_at"]


def test_reset_restores_pristine_data(server: Server) -> None:
    instance = server.create()
    server.wait_status(instance["id"], "ready")
    host = {"Host": f"{instance['id']}.portal.localhost"}
    added = httpx.post(
        f"{server.url}/items", headers=host, json={"name": "scribble"}, trust_env=False
    )
    assert added.status_code == 201
    assert server.demo(instance["id"], "portal").json()["total"] == 6
    reset = server.http.post(f"/api/v1/demo-instances/{instance['id']}/reset")
    assert reset.status_code == 202 and reset.json()["status"] == "provisioning"
    server.wait_status(instance["id"], "ready")
    items = server.demo(instance["id"], "portal").json()
    assert items["total"] == 5 and "scribble" not in json.dumps(items)


def test_delete_removes_every_process_file_and_route(server: Server) -> None:
    instance = server.create()
    server.wait_status(instance["id"], "ready")
    assert instance["id"] in server.demo_processes().values()
    assert server.demo(instance["id"], "portal").status_code == 200
    deleted = server.http.delete(f"/api/v1/demo-instances/{instance['id']}")
    assert deleted.status_code == 202
    gone = server.wait_status(instance["id"], "deleted")
    assert gone["urls"] == {} and gone["personas"] == []
    assert instance["id"] not in server.demo_processes().values()
    assert instance_files(server.home, instance["id"]) == []
    # its hosts now say it ended (410, naming whom to contact), never reach a process
    assert server.demo(instance["id"], "portal").status_code == 410
    assert all(s["status"] in {"torn_down", "skipped"} for s in gone["steps"]), gone["steps"]


def test_expiry_tears_down_without_anyone_acting(server: Server) -> None:
    instance = server.create(duration_hours=0.001)  # 3.6 seconds
    server.wait_status(instance["id"], "ready")
    gone = server.wait_status(instance["id"], "deleted", timeout=20)
    assert gone["ended_at"] is not None
    assert instance["id"] not in server.demo_processes().values()
    assert instance_files(server.home, instance["id"]) == []
    audit = server.http.get(f"/api/v1/demo-instances/{instance['id']}/audit").json()["items"]
    assert [a["action"] for a in audit] == ["create", "expire"]
    assert audit[1]["actor"] == "system"


def test_logs_of_a_service(server: Server) -> None:
    instance = server.create()
    server.wait_status(instance["id"], "ready")
    server.demo(instance["id"], "portal", "/api/items?marker=xyz")
    logs = server.http.get(
        f"/api/v1/demo-instances/{instance['id']}/logs", params={"service": "web"}
    )
    assert logs.status_code == 200 and "/api/items?marker=xyz" in logs.text
    unknown = server.http.get(
        f"/api/v1/demo-instances/{instance['id']}/logs", params={"service": "nope"}
    )
    assert unknown.status_code == 422 and "web" in unknown.json()["detail"]


def test_events_stream_steps_until_ready(server: Server) -> None:
    instance = server.create()
    events: list[tuple[str, dict[str, object]]] = []
    with server.http.stream("GET", f"/api/v1/demo-instances/{instance['id']}/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        kind, data = "", ""
        for line in stream.iter_lines():
            if line.startswith("event:"):
                kind = line[6:].strip()
            elif line.startswith("data:"):
                data = line[5:].strip()
            elif not line and data:
                events.append((kind, json.loads(data)))
                if kind == "snapshot" and events[-1][1]["status"] == "ready":
                    break
                if kind == "status" and events[-1][1]["status"] == "ready":
                    break
                data = ""
    assert events[0][0] == "snapshot"
    if events[0][1]["status"] != "ready":  # we joined early enough to see the steps go by
        finished = {"done", "skipped"}
        # what was done when we joined is in the snapshot, the rest streams by
        steps_done = {s["name"] for s in events[0][1]["steps"] if s["status"] in finished}
        steps_done |= {e["step"] for k, e in events if k == "step" and e["status"] in finished}
        assert {"deploy", "health"} <= steps_done
        assert any(k == "step" for k, _ in events) or events[0][1]["status"] == "ready"


def test_idempotency_key_replay_creates_nothing_new(server: Server) -> None:
    headers = {"Idempotency-Key": f"key-{time.time_ns()}"}
    body = {"scenario": "agency", "duration_hours": 1}
    first = server.http.post("/api/v1/demo-instances", json=body, headers=headers)
    second = server.http.post("/api/v1/demo-instances", json=body, headers=headers)
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    assert second.headers.get("idempotent-replayed") == "true"
    other = server.http.post(
        "/api/v1/demo-instances", json={**body, "duration_hours": 2}, headers=headers
    )
    assert other.status_code == 409 and "Idempotency-Key" in other.json()["detail"]


def test_bad_input_is_refused_and_creates_nothing(server: Server) -> None:
    before = len(server.http.get("/api/v1/demo-instances", params={"limit": 500}).json()["items"])
    cases = [
        ({"scenario": "nope", "duration_hours": 1}, "unknown scenario"),
        ({"scenario": "agency"}, "duration_hours"),
        ({"duration_hours": 0}, "greater than 0"),
        ({"duration_hours": -2}, "greater than 0"),
        ({"duration_hours": 8.5}, "cap of 8"),
        ({"duration_hours": "soon"}, "duration_hours"),
        ({"duration_hours": 1, "surprise": True}, "surprise"),
    ]
    for body, needle in cases:
        answer = server.http.post("/api/v1/demo-instances", json=body)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert needle in answer.json()["detail"], (body, answer.json())
    malformed = server.http.post(
        "/api/v1/demo-instances",
        content=b'{"duration_hours": 1',
        headers={"Content-Type": "application/json"},
    )
    assert malformed.status_code == 422 and "not valid JSON" in malformed.json()["detail"]
    unknown = server.http.get("/api/v1/demo-instances/demo-abcdef")
    assert unknown.status_code == 404 and "democtl list" in unknown.json()["detail"]
    after = len(server.http.get("/api/v1/demo-instances", params={"limit": 500}).json()["items"])
    assert after == before


def test_no_token_or_wrong_token_is_401(server: Server) -> None:
    bare = httpx.get(f"{server.url}/api/v1/demo-instances", trust_env=False)
    assert bare.status_code == 401 and "Bearer" in bare.json()["detail"]
    wrong = httpx.get(
        f"{server.url}/api/v1/demo-instances",
        headers={"Authorization": "Bearer nope"},
        trust_env=False,
    )
    assert wrong.status_code == 401


def test_sales_users_touch_only_their_own_demos(server: Server) -> None:
    def token(user: str, role: str) -> dict[str, str]:
        answer = server.http.post("/api/v1/tokens", json={"user": user, "role": role})
        assert answer.status_code == 201
        return {"Authorization": f"Bearer {answer.json()['token']}"}

    alice, bob, viewer = token("alice", "sales"), token("bob", "sales"), token("vera", "viewer")
    mine = httpx.post(
        f"{server.url}/api/v1/demo-instances",
        json={"duration_hours": 1},
        headers=alice,
        trust_env=False,
    ).json()
    assert mine["owner"] == "alice"
    for method, path, body in [
        ("GET", "", None),
        ("DELETE", "", None),
        ("POST", "/extend", {"hours": 1}),
        ("POST", "/reset", None),
    ]:
        answer = httpx.request(
            method,
            f"{server.url}/api/v1/demo-instances/{mine['id']}{path}",
            json=body,
            headers=bob,
            trust_env=False,
        )
        assert answer.status_code == 403, (method, path, answer.text)
    listed = httpx.get(f"{server.url}/api/v1/demo-instances", headers=bob, trust_env=False).json()
    assert mine["id"] not in {i["id"] for i in listed["items"]}
    seen = httpx.get(
        f"{server.url}/api/v1/demo-instances/{mine['id']}", headers=viewer, trust_env=False
    )
    assert seen.status_code == 200
    refused = httpx.delete(
        f"{server.url}/api/v1/demo-instances/{mine['id']}", headers=viewer, trust_env=False
    )
    assert refused.status_code == 403
    audit = server.http.get("/api/v1/audit").json()["items"]
    assert any(
        (a["actor"], a["action"], a["detail"].get("user"), a["detail"].get("role"))
        == ("admin", "token.create", "vera", "viewer")
        and isinstance(a["detail"].get("token_id"), int)  # which token, for a later revoke
        for a in audit
    )
    assert (
        httpx.get(f"{server.url}/api/v1/audit", headers=alice, trust_env=False).status_code == 403
    )
    not_admin = httpx.post(
        f"{server.url}/api/v1/tokens",
        json={"user": "x", "role": "admin"},
        headers=alice,
        trust_env=False,
    )
    assert not_admin.status_code == 403
    assert server.get(mine["id"])["desired"] == "ready"


def test_scenarios_usage_metrics_and_docs(server: Server) -> None:
    scenarios = server.http.get("/api/v1/scenarios").json()
    assert [s["name"] for s in scenarios["items"]] == ["agency", "startup", "broken"]
    assert scenarios["items"][0]["default"] is True
    instance = server.create(scenario="startup")
    server.wait_status(instance["id"], "ready")
    deadline = time.monotonic() + 15
    while True:  # cost shows to 1/10,000 USD: at the tiny rate that takes a second or two
        usage = server.http.get("/api/v1/usage", params={"group_by": "scenario"}).json()
        startup = next(i for i in usage["items"] if i["key"] == "startup")
        if startup["cost_usd"] > 0 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert startup["demos"] >= 1 and startup["demo_hours"] > 0 and startup["cost_usd"] > 0
    assert server.http.get("/api/v1/usage", params={"group_by": "nope"}).status_code == 422
    metrics = httpx.get(f"{server.url}/metrics", trust_env=False).text
    assert 'demo_instances{scenario="startup",status="ready"}' in metrics
    assert httpx.get(f"{server.url}/openapi.json", trust_env=False).json()["paths"][
        "/api/v1/demo-instances"
    ]
