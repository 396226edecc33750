"""Issue 15, item 6: the orchestrator's slips, each through the paths people use (REST API,
web form routes, `democtl`), against a real `democtl serve`.

- a request still waiting for approval (and a booking) ends at once when deleted, whatever the
  path; approving it afterwards is a 409; `democtl delete --wait` returns when the demo is gone
  (never on a status the deletion passes through);
- rows not started yet show when they start, not a ticking countdown;
- notes typed at creation are shown again (detail page, API, `democtl get`);
- the creation notice follows the demo's status;
- the web lists hide ended demos unless asked, the API lists them all;
- a rep extends their own demo from the detail page within the cap;
- the guided tour with a deep link per step (API, OpenAPI, detail page, `democtl get`).
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import DEMOCTL, Server, sign_in

PASSWORD = "Copper-Lantern-Healing-4821"
REP_PASSWORD = "Amber-Orchard-Sailing-7315"
ADMIN_LIST = "/portal/admin/demo-instances"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(
        tmp_path_factory.mktemp("slips"),
        DEMO_BLUEPRINT="splits-network",  # the reference stack: a tour and a rep sign-in link
        DEMO_BLUEPRINT_PATHS="[]",
        DEMO_ADMIN_PASSWORD=PASSWORD,
        DEMO_SALES_MAX_HOURS="1",
        DEMO_SALES_MAX_CONCURRENT="5",
        DEMO_MAX_HOURS="3",
    ).start()
    for name in ("rita", "ravi"):
        made = srv.http.post(
            "/api/v1/users", json={"name": name, "role": "sales", "password": REP_PASSWORD}
        )
        assert made.status_code == 201, made.text
    yield srv
    srv.close()


def _web(server: Server, user: str, password: str) -> httpx.Client:
    browser = httpx.Client(base_url=server.url, trust_env=False, timeout=30)
    signed = sign_in(browser, user, password)
    assert signed.status_code == 303, signed.text[:300]
    return browser


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page carries no CSRF token"
    return found.group(1)


def _post(browser: httpx.Client, page: str, action: str, **form: str) -> httpx.Response:
    token = _csrf(browser.get(page).text)
    instance_id = page.rstrip("/").rsplit("/", 1)[1]
    return browser.post(
        f"/portal/demo-instances/{instance_id}/{action}", data={"csrf_token": token, **form}
    )


def _sales_token(server: Server, user: str) -> str:
    answer = server.http.post("/api/v1/tokens", json={"user": user, "role": "sales"})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["token"])


def _request_waiting(server: Server, token: str, **body: Any) -> dict[str, Any]:
    """A sales request outside the policy (longer than DEMO_SALES_MAX_HOURS): it waits."""
    body.setdefault("duration_hours", 2)
    answer = httpx.post(
        f"{server.url}/api/v1/demo-instances",
        headers={"Authorization": f"Bearer {token}"},
        json=body,
        trust_env=False,
    )
    assert answer.status_code == 202, answer.text
    assert answer.json()["status"] == "pending_approval"
    return dict(answer.json())


def _booking(server: Server, **body: Any) -> dict[str, Any]:
    starts = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    booked = server.create(starts_at=starts.isoformat(), **body)
    assert booked["status"] == "scheduled"
    return booked


def _democtl(
    server: Server, *args: str, token: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = dict(server.env)
    if token:
        env["DEMO_TOKEN"] = token
    return subprocess.run(
        [DEMOCTL, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


# -- 1. deleting what has not started -----------------------------------------------------------


def test_deleting_a_waiting_request_ends_it_at_once_in_every_path(server: Server) -> None:
    token = _sales_token(server, "rita")
    admin = _web(server, "admin", PASSWORD)
    try:
        # the API
        by_api = _request_waiting(server, token, notes="api")
        early = server.http.post(f"/api/v1/demo-instances/{by_api['id']}/extend", json={"hours": 1})
        assert early.status_code == 409 and "clock has not started" in early.json()["detail"]
        gone = httpx.delete(
            f"{server.url}/api/v1/demo-instances/{by_api['id']}",
            headers={"Authorization": f"Bearer {token}"},
            trust_env=False,
        )
        assert gone.status_code == 202 and gone.json()["status"] == "deleted"
        # the web form (the Delete button of the detail page)
        by_web = _request_waiting(server, token)
        page = f"{ADMIN_LIST}/{by_web['id']}"
        assert 'id="delete"' in admin.get(page).text
        deleted = _post(admin, page, "delete")
        assert deleted.status_code == 303
        assert server.get(by_web["id"])["status"] == "deleted"
        # democtl delete --wait: returns with the request gone, the booking too
        by_cli = _request_waiting(server, token)
        booked = _booking(server)
        for instance_id, as_token in ((by_cli["id"], token), (booked["id"], None)):
            done = _democtl(server, "delete", instance_id, "--wait", "--json", token=as_token)
            assert done.returncode == 0, done.stderr
            assert json.loads(done.stdout)["status"] == "deleted"
            assert server.get(instance_id)["status"] == "deleted"

        # approving any of them afterwards is refused: it is deleted, never made after all
        for instance_id in (by_api["id"], by_web["id"], by_cli["id"]):
            refused = server.http.post(f"/api/v1/demo-instances/{instance_id}/approve")
            assert refused.status_code == 409, refused.text
            assert "is deleted" in refused.json()["detail"]
            approve_page = f"{ADMIN_LIST}/{instance_id}"
            assert 'id="approve"' not in admin.get(approve_page).text
            by_form = _post(admin, approve_page, "approve")
            assert by_form.status_code == 303 and "is+deleted" in by_form.headers["location"]
            view = server.get(instance_id)
            assert view["status"] == "deleted" and view["urls"] == {}
            assert [s for s in view["steps"] if s["status"] not in ("pending", "skipped")] == []
    finally:
        admin.close()


def test_delete_wait_waits_for_gone_not_for_a_status_on_the_way(make_server: Any) -> None:
    """A failed demo is deleted like any other: `--wait` returns once it is deleted, not at
    once on the `failed` it starts from."""
    server: Server = make_server(
        DEMO_FAULT_INJECTION="routes:always", DEMO_STEP_RETRIES="1"
    ).start()
    failed = server.create()
    server.wait_status(failed["id"], "failed", timeout=60)
    done = _democtl(server, "delete", failed["id"], "--wait", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "deleted"
    human = _democtl(server, "delete", failed["id"], "--wait")  # already gone: at once
    assert human.returncode == 0 and f"{failed['id']} deleted" in human.stdout


# -- 2. no countdown before the clock starts ----------------------------------------------------


def test_rows_not_started_show_when_they_start_instead_of_a_countdown(server: Server) -> None:
    token = _sales_token(server, "rita")
    waiting = _request_waiting(server, token, name="waiting-row")
    booked = _booking(server, name="booked-row")
    running = server.create(name="running-row")
    admin = _web(server, "admin", PASSWORD)
    try:
        listed = admin.get(ADMIN_LIST).text

        def row(instance_id: str) -> str:
            found = re.search(rf'<tr data-id="{instance_id}".*?</tr>', listed, re.DOTALL)
            assert found, f"{instance_id} not listed"
            return found.group(0)

        assert "data-expires" not in row(waiting["id"])
        assert "starts on approval" in row(waiting["id"])
        assert "data-expires" not in row(booked["id"])
        start = datetime.fromisoformat(booked["starts_at"]).strftime("%Y-%m-%d %H:%M UTC")
        assert f"starts {start}" in row(booked["id"])
        assert "data-expires" in row(running["id"])  # a started demo still counts down
        detail = admin.get(f"{ADMIN_LIST}/{waiting['id']}").text
        assert "starts on approval" in detail and "data-expires" not in detail
    finally:
        admin.close()
    listed_cli = _democtl(server, "list")
    assert listed_cli.returncode == 0
    line = next(x for x in listed_cli.stdout.splitlines() if waiting["id"] in x)
    assert "on approval" in line
    shown = _democtl(server, "get", waiting["id"])
    assert "starts on approval" in shown.stdout


# -- 3. notes -------------------------------------------------------------------------------------


def test_notes_typed_at_creation_are_shown_again(server: Server) -> None:
    notes = "Call with Dana at 3pm\nShow the approvals & the <reports>"
    admin = _web(server, "admin", PASSWORD)
    try:
        form = admin.get(f"{ADMIN_LIST}/new").text
        made = admin.post(
            ADMIN_LIST,
            data={
                "csrf_token": _csrf(form),
                "scenario": "agency",
                "duration_hours": "1",
                "notes": notes,
            },
        )
        assert made.status_code == 303
        instance_id = made.headers["location"].split("?")[0].rsplit("/", 1)[1]
        assert server.get(instance_id)["notes"] == notes
        detail = admin.get(f"{ADMIN_LIST}/{instance_id}").text
        shown = re.search(r'<div class="notes" id="notes">.*?<p>(.*?)</p>', detail, re.DOTALL)
        assert shown and shown.group(1) == notes.replace("&", "&amp;").replace("<", "&lt;").replace(
            ">", "&gt;"
        )
    finally:
        admin.close()
    got = _democtl(server, "get", instance_id)
    assert "Call with Dana at 3pm" in got.stdout
    assert "Show the approvals & the <reports>" in got.stdout
    as_json = json.loads(_democtl(server, "get", instance_id, "--json").stdout)
    assert as_json["notes"] == notes


# -- 4. the creation notice -----------------------------------------------------------------------


def test_the_creation_notice_does_not_outlive_the_creation(server: Server) -> None:
    admin = _web(server, "admin", PASSWORD)
    try:
        form = admin.get(f"{ADMIN_LIST}/new").text
        made = admin.post(
            ADMIN_LIST,
            data={"csrf_token": _csrf(form), "scenario": "agency", "duration_hours": "1"},
        )
        where = made.headers["location"]
        assert "being+created" in where
        instance_id = where.split("?")[0].rsplit("/", 1)[1]
        server.wait_status(instance_id, "ready", timeout=60)
        again = admin.get(where).text  # the same address, reloaded once the demo is ready
        assert "being created" not in again
        assert 'id="notice"' in again and "Demo environment is ready" in again
        server.http.delete(f"/api/v1/demo-instances/{instance_id}")
        server.wait_status(instance_id, "deleted")
        assert '<div class="flash ok"' not in admin.get(where).text
    finally:
        admin.close()


# -- 7. ended demos hidden in the web lists --------------------------------------------------------


def test_the_web_lists_hide_ended_demos_unless_asked_and_the_api_lists_them(
    server: Server,
) -> None:
    token = _sales_token(server, "ravi")
    live = server.create(name="still-live")
    ended = server.create(name="ended-one")
    server.http.delete(f"/api/v1/demo-instances/{ended['id']}")
    server.wait_status(ended["id"], "deleted")
    rejected = _request_waiting(server, token)
    assert (
        server.http.post(
            f"/api/v1/demo-instances/{rejected['id']}/reject", json={"reason": "no"}
        ).status_code
        == 200
    )
    api_ids = {
        i["id"]
        for i in server.http.get("/api/v1/demo-instances", params={"limit": 500}).json()["items"]
    }
    assert {live["id"], ended["id"], rejected["id"]} <= api_ids  # the API is unchanged

    admin = _web(server, "admin", PASSWORD)
    rep = _web(server, "ravi", REP_PASSWORD)
    try:
        default = admin.get(ADMIN_LIST).text
        assert f'data-id="{live["id"]}"' in default
        assert f'data-id="{ended["id"]}"' not in default
        assert f'data-id="{rejected["id"]}"' not in default
        assert 'id="show-ended"' in default and "checked" not in re.search(
            r'<input type="checkbox" name="ended"[^>]*>', default
        ).group(0)  # type: ignore[union-attr]
        shown = admin.get(ADMIN_LIST, params={"ended": "1"}).text
        for instance_id in (live["id"], ended["id"], rejected["id"]):
            assert f'data-id="{instance_id}"' in shown
        by_status = admin.get(ADMIN_LIST, params={"status": "deleted"}).text
        assert f'data-id="{ended["id"]}"' in by_status  # asked for by name: shown

        mine = rep.get("/portal/demos").text
        assert f'data-id="{rejected["id"]}"' not in mine
        assert f'data-id="{rejected["id"]}"' in rep.get("/portal/demos?ended=1").text
    finally:
        admin.close()
        rep.close()


# -- 8. the rep extends their own demo ---------------------------------------------------------


def test_a_rep_extends_their_own_demo_within_the_cap_and_not_another_reps(
    server: Server,
) -> None:
    rita, ravi = _sales_token(server, "rita"), _sales_token(server, "ravi")
    own = httpx.post(
        f"{server.url}/api/v1/demo-instances",
        headers={"Authorization": f"Bearer {rita}"},
        json={"duration_hours": 1},
        trust_env=False,
    ).json()
    assert own["status"] in {"pending", "provisioning", "ready"}
    others = httpx.post(
        f"{server.url}/api/v1/demo-instances",
        headers={"Authorization": f"Bearer {ravi}"},
        json={"duration_hours": 1},
        trust_env=False,
    ).json()
    server.wait_status(own["id"], "ready", timeout=60)
    rep = _web(server, "rita", REP_PASSWORD)
    try:
        for page in (f"/portal/demos/{own['id']}", f"{ADMIN_LIST}/{own['id']}"):
            html = rep.get(page).text
            assert 'id="extend"' in html, page
        before = datetime.fromisoformat(server.get(own["id"])["expires_at"])
        extended = _post(rep, f"/portal/demos/{own['id']}", "extend", hours="1")
        assert extended.status_code == 303 and "Extended+by+1+h" in extended.headers["location"]
        after = datetime.fromisoformat(server.get(own["id"])["expires_at"])
        assert timedelta(minutes=59) < after - before <= timedelta(hours=1, seconds=1)
        # past DEMO_MAX_HOURS (3): a message that says how much is left
        over = _post(rep, f"/portal/demos/{own['id']}", "extend", hours="2")
        assert over.status_code == 303
        message = rep.get(over.headers["location"]).text
        assert "3-hour cap" in message and "at most" in message
        assert datetime.fromisoformat(server.get(own["id"])["expires_at"]) == after
        # another rep's demo: not theirs to see nor to extend
        assert rep.get(f"/portal/demos/{others['id']}").status_code == 403
        theirs_before = server.get(others["id"])["expires_at"]
        refused = rep.post(
            f"/portal/demo-instances/{others['id']}/extend",
            data={"csrf_token": _csrf(rep.get("/portal/demos").text), "hours": "1"},
        )
        assert refused.status_code == 303 and "another+user" in refused.headers["location"]
        assert server.get(others["id"])["expires_at"] == theirs_before
        audit = server.http.get(f"/api/v1/demo-instances/{own['id']}/audit").json()["items"]
        assert [(a["action"], a["actor"]) for a in audit][-1] == ("extend", "rita")
    finally:
        rep.close()


# -- 9. the guided tour with deep links ----------------------------------------------------------


def test_the_tour_carries_a_deep_link_per_step_only_where_the_rep_link_is_shown(
    server: Server,
) -> None:
    instance = server.create(scenario="agency")
    token = _sales_token(server, "rita")
    waiting = _request_waiting(server, token, scenario="agency")
    assert waiting["rep_login_url"] is None and len(waiting["tour"]) >= 5
    assert {s["url"] for s in waiting["tour"]} == {None}  # no links before it exists
    ready = server.wait_status(instance["id"], "ready", timeout=60)
    tour, rep_url = ready["tour"], ready["rep_login_url"]
    assert rep_url
    emails = {p["name"]: p["email"] for p in ready["personas"]}
    assert [s["step"] for s in tour] == list(range(1, len(tour) + 1))
    for step in tour:
        assert step["url"] == f"{rep_url}&step={step['step']}"
        assert step["email"] == emails[step["persona"]]
        assert set(step) == {
            "step",
            "persona",
            "email",
            "route",
            "page",
            "action",
            "talking_point",
            "expect",
            "url",
        }
    first = tour[0]
    assert (first["persona"], first["page"], first["route"]) == ("Jordan Reyes", "/", "portal")
    sam = next(s for s in tour if s["persona"] == "Sam Carter")
    assert sam["route"] == "candidate" and sam["email"] == "sam.carter@mail.example"
    listed = server.http.get("/api/v1/demo-instances", params={"limit": 500}).json()["items"]
    assert next(i for i in listed if i["id"] == instance["id"])["tour"] == tour
    schema = server.http.get("/openapi.json").json()["components"]["schemas"]
    assert "tour" in schema["InstancePublic"]["properties"]
    assert {"step", "persona", "email", "route", "page", "url"} <= set(
        schema["TourStep"]["properties"]
    )

    admin = _web(server, "admin", PASSWORD)
    try:
        html = admin.get(f"{ADMIN_LIST}/{instance['id']}").text
        links = re.findall(
            r'<a class="button small" href="([^"]+)"[^>]*data-step-link="(\d+)"[^>]*>([^<]*)<', html
        )
        assert [(href.replace("&amp;", "&"), int(n), text) for href, n, text in links] == [
            (s["url"], s["step"], f"Open step {s['step']} as {s['persona']}") for s in tour
        ]
    finally:
        admin.close()

    human = _democtl(server, "get", instance["id"])
    for step in tour:
        assert (
            f"{step['step']}. {step['persona']} {step['page']} - {step['action']}" in human.stdout
        )
        assert f"open as {step['persona']}: {step['url']}" in human.stdout
    as_json = json.loads(_democtl(server, "get", instance["id"], "--json").stdout)
    assert as_json["tour"] == tour

    server.http.delete(f"/api/v1/demo-instances/{instance['id']}")
    gone = server.wait_status(instance["id"], "deleted")
    assert gone["tour"][0]["url"] is None and gone["rep_login_url"] is None
