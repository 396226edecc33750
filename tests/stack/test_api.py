"""The JSON API on a real server: the blueprint's counts for every scenario on SQLite and
PostgreSQL, paging and validation, users' roles and the match ranking."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.stack.conftest import SCENARIOS, as_rep, blueprint

ROLE_COUNTS = {
    "company_admins": "company_admin",
    "hiring_managers": "hiring_manager",
    "founders": "founder",
}


def _total(http: httpx.Client, path: str, **params: Any) -> int:
    resp = http.get(path, params=params)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert set(body) >= {"items", "total"}
    return int(body["total"])


def _count(http: httpx.Client, key: str) -> int:
    if key in ROLE_COUNTS:
        return _total(http, "/api/users", role=ROLE_COUNTS[key])
    if key == "open_jobs":
        return _total(http, "/api/jobs", status="open")
    if key == "pending_approval":
        return _total(http, "/api/jobs", status="pending_approval")
    if key == "departments":
        jobs = http.get("/api/jobs", params={"limit": 500}).json()["items"]
        return len({j["department"] for j in jobs if j["department"]})
    return _total(http, f"/api/{key}")


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_blueprint_counts_hold_through_the_api(stacks: Any, scenario: str, backend: str) -> None:
    stack = stacks(scenario, backend)
    counts = next(s["counts"] for s in blueprint()["scenarios"] if s["name"] == scenario)
    with as_rep(stack) as http:
        actual = {key: _count(http, key) for key in counts}
    assert actual == counts


def test_scenario_minimums_of_the_issue(stacks: Any) -> None:
    with as_rep(stacks("agency")) as http:
        jobs = http.get("/api/jobs", params={"status": "open", "limit": 500}).json()["items"]
        assert len(jobs) == 10 and len({j["company_id"] for j in jobs}) >= 3
        recs = http.get("/api/recruiters").json()["items"]
        assert len({tuple(r["specialisations"]) for r in recs}) == 3
        stages = {
            a["stage"] for a in http.get("/api/applications", params={"limit": 500}).json()["items"]
        }
        assert {"applied", "screening", "interview", "offer", "hired", "rejected"} <= stages
        cands = http.get("/api/candidates", params={"limit": 500}).json()["items"]
        assert all(c["skills"] for c in cands)
    with as_rep(stacks("enterprise")) as http:
        assert _total(http, "/api/companies") == 1
        assert _total(http, "/api/jobs") >= 50 and _total(http, "/api/candidates") >= 200
        assert _total(http, "/api/jobs", status="pending_approval") > 0
    with as_rep(stacks("startup")) as http:
        assert 3 <= _total(http, "/api/jobs", status="open") <= 5
        assert _total(http, "/api/candidates") == 20
        assert _total(http, "/api/users", role="founder") == 1


def test_both_hosts_serve_the_api_and_health(stacks: Any) -> None:
    stack = stacks("agency")
    for site in ("portal", "candidate"):
        with as_rep(stack, site) as http:
            assert http.get("/healthz").json()["status"] == "ok"
            assert _total(http, "/api/jobs") == 10


@pytest.mark.parametrize("query", ["limit=0", "limit=501", "limit=abc", "offset=-1", "offset=x"])
def test_bad_paging_values_get_a_422_json_error(stacks: Any, query: str) -> None:
    with as_rep(stacks("agency")) as http:
        resp = http.get(f"/api/candidates?{query}")
    assert resp.status_code == 422
    assert resp.headers["content-type"].startswith("application/json")
    assert resp.json()["detail"][0]["loc"][1] in ("limit", "offset")


def test_limit_and_offset_page_through_the_items(stacks: Any) -> None:
    with as_rep(stacks("enterprise")) as http:
        first = http.get("/api/candidates", params={"limit": 500}).json()
        page = http.get("/api/candidates", params={"limit": 7, "offset": 10}).json()
    assert first["total"] == 240 and len(first["items"]) == 240
    assert page["total"] == 240 and [c["id"] for c in page["items"]] == [
        c["id"] for c in first["items"][10:17]
    ]


def test_every_user_has_one_of_the_five_roles(stacks: Any) -> None:
    allowed = {"recruiter", "company_admin", "hiring_manager", "founder", "candidate"}
    for scenario in SCENARIOS:
        with as_rep(stacks(scenario)) as http:
            users = http.get("/api/users", params={"limit": 500}).json()["items"]
        assert users and {u["role"] for u in users} <= allowed


def test_matches_are_ranked_with_reasons(stacks: Any) -> None:
    with as_rep(stacks("startup")) as http:
        job = http.get("/api/jobs", params={"limit": 1}).json()["items"][0]
        body = http.get("/api/matches", params={"job_id": job["id"]}).json()
        missing = http.get("/api/matches", params={"job_id": 99999})
        no_job = http.get("/api/matches")
    scores = [m["score"] for m in body["items"]]
    assert body["total"] == 20 and scores == sorted(scores, reverse=True)
    top, bottom = body["items"][0], body["items"][-1]
    assert set(top["reasons"]["matched_required"]) == set(job["required_skills"])
    assert len(bottom["reasons"]["matched_required"]) < len(job["required_skills"])
    assert "yrs" in top["reasons"]["experience"]
    assert missing.status_code == 404 and no_job.status_code == 422
