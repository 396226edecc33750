"""The activity endpoint on a real `democtl serve` with real demo processes: a report is taken
only with the token the orchestrator put in that demo's own environment (not another demo's, not
a user's), only when well-formed and bounded; what it accepts is read back per persona, path and
minute, with the tour step reached and no query string; the detail and usage pages show it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Server, sign_in

RILEY = "Riley Recruiter"  # tests/blueprints/tiny.yaml: the agency tour's only step is hers, on /
ADMIN_PASSWORD = "Copper-Lantern-Healing-4821"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    made = Server(
        tmp_path_factory.mktemp("activity"),
        DEMO_ADMIN_PASSWORD=ADMIN_PASSWORD,
        DEMO_ACTIVITY_RATE_PER_DEMO="20/minute",
    )
    yield made.start()
    made.close()


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def _demo_env(server: Server, instance_id: str) -> dict[str, str]:
    server.wait_status(instance_id, "ready")
    pid = next(p for p, i in server.demo_processes().items() if i == instance_id)
    return _environ(pid)


def _now_minute() -> str:
    return datetime.now(UTC).replace(second=0, microsecond=0).isoformat().replace("+00:00", "Z")


def _event(**change: Any) -> dict[str, Any]:
    event = {
        "at": _now_minute(),
        "persona": RILEY,
        "route": "portal",
        "path": "/",
        "page": "/",
        "requests": 2,
    }
    event.update(change)
    return event


def _post(server: Server, instance_id: str, token: str | None, body: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return httpx.post(
        f"{server.url}/api/v1/demo-instances/{instance_id}/activity",
        json=body,
        headers=headers,
        timeout=10,
        trust_env=False,
    )


def test_reports_need_the_demos_own_token_and_a_bounded_well_formed_batch(server: Server) -> None:
    first = server.create(scenario="agency")["id"]
    second = server.create(scenario="agency")["id"]
    env = _demo_env(server, first)
    token = env["DEMO_ACTIVITY_TOKEN"]
    assert env["DEMO_ORCHESTRATOR_URL"] == server.url  # the local runtime's loopback
    other = _demo_env(server, second)["DEMO_ACTIVITY_TOKEN"]
    assert other != token
    good = {"events": [_event()]}

    for wrong in (None, "not-the-token", other, server.token):
        refused = _post(server, first, wrong, good)
        assert refused.status_code == (401 if wrong is None else 403), (wrong, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert "DEMO_ACTIVITY_TOKEN" in refused.json()["detail"]
        assert token not in refused.text

    malformed = [
        {"events": [_event(path="/jobs/17?x=y")]},  # a query string is never taken
        {"events": [_event(page="/jobs/17#x")]},
        {"events": [_event(route="admin")]},  # not a route of this demo
        {"events": [_event(persona="Somebody Real")]},  # not a persona of its scenario
        {"events": [_event(requests=0)]},
        {"events": [_event(at="2001-01-01T00:00:00Z")]},  # before the demo existed
        {"events": [_event(ip="203.0.113.9")]},  # no field beyond the contract
        {"events": [_event()] * 501},
        {"events": "nope"},
        [],
    ]
    for body in malformed:
        answer = _post(server, first, token, body)
        assert answer.status_code == 422, (body if len(str(body)) < 300 else "501", answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
    huge = _post(server, first, token, {"events": [_event(page="/" + "a" * 300_000)]})
    assert huge.status_code == 413 and "at most" in huge.json()["detail"]
    assert server.http.get(f"/api/v1/demo-instances/{first}/activity").json()["items"] == []

    accepted = _post(
        server,
        first,
        token,
        {
            "events": [
                _event(),
                _event(requests=3),  # the same minute, persona and path: added up
                _event(path="/items/{item_id}", page="/items/4", requests=1),
                _event(persona=None, route="candidate", requests=1),  # the rep
            ]
        },
    )
    assert accepted.status_code == 202, accepted.text
    assert accepted.json() == {"requests": 7}
    listed = server.http.get(f"/api/v1/demo-instances/{first}/activity")
    assert listed.status_code == 200
    items = {(i["persona"], i["route"], i["path"]): i for i in listed.json()["items"]}
    assert set(items) == {
        (RILEY, "portal", "/"),
        (RILEY, "portal", "/items/{item_id}"),
        (None, "candidate", "/"),
    }
    assert items[(RILEY, "portal", "/")]["requests"] == 5
    assert items[(RILEY, "portal", "/")]["tour_step"] == 1  # her step, on its page
    assert items[(RILEY, "portal", "/items/{item_id}")]["tour_step"] is None
    assert items[(None, "candidate", "/")]["tour_step"] is None  # the rep reaches no step
    assert all(i["at"] == _now_minute() or i["at"] < _now_minute() for i in items.values())
    assert "/items/4" not in listed.text  # the concrete page is not kept
    assert server.http.get(f"/api/v1/demo-instances/{second}/activity").json()["items"] == []

    paged = server.http.get(f"/api/v1/demo-instances/{first}/activity", params={"limit": 2})
    assert len(paged.json()["items"]) == 2 and paged.json()["next_cursor"]
    rest = server.http.get(
        f"/api/v1/demo-instances/{first}/activity",
        params={"limit": 2, "cursor": paged.json()["next_cursor"]},
    ).json()
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    bad_cursor = server.http.get(f"/api/v1/demo-instances/{first}/activity?cursor=zzz")
    assert bad_cursor.status_code == 422
    anonymous = httpx.get(f"{server.url}/api/v1/demo-instances/{first}/activity", timeout=10)
    assert anonymous.status_code == 401


def test_the_detail_and_usage_pages_show_the_engagement(server: Server) -> None:
    demo = server.create(scenario="agency")["id"]
    token = _demo_env(server, demo)["DEMO_ACTIVITY_TOKEN"]
    sent = _post(
        server,
        demo,
        token,
        {
            "events": [
                _event(path="/login", page="/login", requests=1),  # tiny.yaml: login_path
                _event(requests=4),
                _event(path="/items/{item_id}", page="/items/2", requests=2),
            ]
        },
    )
    assert sent.status_code == 202, sent.text
    with httpx.Client(base_url=server.url, trust_env=False, timeout=20) as web:
        assert sign_in(web, "admin", ADMIN_PASSWORD).status_code == 303
        detail = web.get(f"/portal/admin/demo-instances/{demo}").text
        section = detail[detail.index('id="engagement"') :]
        assert "Tour steps reached: 1 of 1 (1)" in section
        assert "sign-ins: 1; page views: 6." in section
        assert "<code>/items/{item_id}</code>" in section and RILEY in section
        usage = web.get("/portal/admin/usage").text
        table = usage[usage.index('id="engagement"') :]
        row = table[table.index(demo) :].split("</tr>")[0]
        cells = [c.split(">")[-1] for c in row.split("</td>")][:6]
        assert cells[1:] == ["agency", "1", "2", "6", "1 / 1"], cells


def test_reports_are_rate_limited_per_demo(server: Server) -> None:
    busy = server.create(scenario="agency")["id"]
    calm = server.create(scenario="agency")["id"]
    busy_token = _demo_env(server, busy)["DEMO_ACTIVITY_TOKEN"]
    for _ in range(20):
        assert _post(server, busy, busy_token, {"events": []}).status_code == 202
    limited = _post(server, busy, busy_token, {"events": []})
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    assert "DEMO_ACTIVITY_RATE_PER_DEMO" in limited.json()["detail"]
    calm_token = _demo_env(server, calm)["DEMO_ACTIVITY_TOKEN"]
    assert _post(server, calm, calm_token, {"events": []}).status_code == 202  # its own budget
