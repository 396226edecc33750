"""The two web apps over real HTTP: host dispatch, one-click sign-in, the pipeline board,
applying, the outbox, resumes as PDF, approvals and reports."""

from __future__ import annotations

import re
from typing import Any

from splits_stack.services.identity import login_token
from tests.stack.conftest import as_rep, client, sign_in


def test_host_header_picks_the_app(stacks: Any) -> None:
    stack = stacks("agency")
    with as_rep(stack, "candidate") as cand, as_rep(stack, "portal") as portal:
        board = cand.get("/")
        assert board.status_code == 200 and "Find your next role" in board.text
        assert portal.get("/").status_code == 303  # the portal needs a persona
        assert portal.get("/").headers["location"].startswith("/personas")


def test_demo_login_sets_a_safe_session_cookie_and_lands_on_home(stacks: Any) -> None:
    stack = stacks("agency")
    email = "jordan.reyes@northbridge.example"
    with client(stack) as http:
        resp = http.get(
            "/auth/demo-login", params={"email": email, "token": login_token("test-secret", email)}
        )
        assert resp.status_code == 303 and resp.headers["location"] == "/"
        cookie = resp.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie
        page = http.get("/")
        assert (
            page.status_code == 200
            and "Jordan Reyes" in page.text
            and 'data-kpi="open_jobs">10<' in page.text
        )
        http.get("/auth/logout")
        assert http.get("/").status_code == 303


def test_bad_or_foreign_tokens_are_refused(stacks: Any) -> None:
    stack = stacks("agency")
    email = "priya.nair@client.example"
    with client(stack) as http:
        assert (
            http.get("/auth/demo-login", params={"email": email, "token": "00" * 32}).status_code
            == 403
        )
        other = login_token("another-demo", email)
        assert (
            http.get("/auth/demo-login", params={"email": email, "token": other}).status_code == 403
        )
        assert (
            http.get(
                "/auth/demo-login",
                params={
                    "email": "nobody@x.example",
                    "token": login_token("test-secret", "nobody@x.example"),
                },
            ).status_code
            == 403
        )


def test_candidate_login_lands_on_the_job_board(stacks: Any) -> None:
    stack = stacks("agency")
    email = "sam.carter@mail.example"
    with client(stack, "candidate") as http:
        resp = http.get(
            "/auth/demo-login", params={"email": email, "token": login_token("test-secret", email)}
        )
        assert resp.headers["location"] == "/"  # the tour's "Search the job board and apply"
        board = http.get("/")
        assert board.status_code == 200 and "Find your next role" in board.text
        assert "Sam Carter" in board.text
        page = http.get("/applications")
        assert (
            page.status_code == 200
            and "My applications" in page.text
            and 'data-stage="interview"' in page.text
        )


def test_persona_picker_links_sign_in_on_the_right_host(stacks: Any) -> None:
    stack = stacks("startup")
    with as_rep(stack) as http:
        page = http.get("/personas").text
    links = dict(re.findall(r'data-persona="([^"]+)" href="([^"]+)"', page))
    assert set(links) == {
        "alex.morgan@lumenlabs.example",
        "taylor.kim@foundry-talent.example",
        "jamie.rivera@mail.example",
    }
    assert ".candidate.localhost" in links["jamie.rivera@mail.example"]
    assert ".portal.localhost" in links["alex.morgan@lumenlabs.example"]


def test_company_admin_sees_only_her_company(stacks: Any) -> None:
    stack = stacks("agency")
    with sign_in(stack, "priya.nair@client.example") as http:
        page = http.get("/jobs").text
        company = http.get("/api/companies").json()["items"][0]["name"]
    listed = re.findall(r'<a href="/jobs/\d+" class="strong">', page)
    assert 0 < len(listed) < 10 and company in page


def _apps(http: Any, **params: Any) -> list[dict[str, Any]]:
    return http.get("/api/applications", params={"limit": 500, **params}).json()["items"]  # type: ignore[no-any-return]


def test_moving_a_card_persists_keeps_history_and_emails_the_candidate(stacks: Any) -> None:
    stack = stacks("agency")
    with sign_in(stack, "jordan.reyes@northbridge.example") as http:
        app = next(a for a in _apps(http) if a["stage"] == "screening")
        outbox_before = http.get("/outbox").text.count("data-email=")
        resp = http.post(
            f"/applications/{app['id']}/move",
            data={"stage": "interview"},
            headers={"Accept": "application/json"},
        )
        assert resp.status_code == 200 and resp.json()["stage"] == "interview"
        assert next(a for a in _apps(http) if a["id"] == app["id"])["stage"] == "interview"
        board = http.get(f"/jobs/{app['job_id']}").text
        assert f'data-app="{app["id"]}"' in board
        outbox = http.get("/outbox").text
        assert outbox.count("data-email=") == outbox_before + 1 and "Interview" in outbox
        again = http.post(
            f"/applications/{app['id']}/move",
            data={"stage": "interview"},
            headers={"Accept": "application/json"},
        )
        assert again.status_code == 409
        cand = http.get(f"/candidates/{app['candidate_id']}").text
        assert "Screening" in cand and "Interview" in cand


def test_hiring_books_a_placement_and_a_payout(stacks: Any) -> None:
    stack = stacks("agency")
    with as_rep(stack) as anon:
        app = next(a for a in _apps(anon) if a["stage"] == "offer" and a["recruiter_id"])
        recruiter = next(
            u
            for u in anon.get("/api/users", params={"role": "recruiter"}).json()["items"]
            if u["recruiter_id"] == app["recruiter_id"]
        )
    with sign_in(stack, recruiter["email"]) as http:
        before = http.get("/placements").text
        resp = http.post(f"/applications/{app['id']}/move", data={"stage": "hired"})
        assert resp.status_code == 303
        page = http.get("/placements").text
        assert page.count("data-placement=") == before.count("data-placement=") + 1
        assert page.count('data-payout="pending"') == before.count('data-payout="pending"') + 1
        assert app["candidate_name"] in page
        assert "Placement booked" in http.get("/outbox").text


def test_applying_shows_in_the_portal_pipeline_and_the_outbox(stacks: Any) -> None:
    stack = stacks("startup")
    with sign_in(stack, "jamie.rivera@mail.example", "candidate") as cand:
        board = cand.get("/").text
        job_ids = [int(j) for j in re.findall(r'data-job="(\d+)"', board)]
        mine = {
            a["job_id"]
            for a in cand.get("/api/applications", params={"candidate_id": 1}).json()["items"]
        }
        target = next(j for j in job_ids if j not in mine)
        resp = cand.post(
            f"/jobs/{target}/apply",
            files={"resume_file": ("jamie.txt", b"Jamie Rivera\nPython, Go")},
        )
        assert resp.status_code == 303 and resp.headers["location"].startswith("/applications")
        assert "Application sent" in cand.get(resp.headers["location"]).text
        dup = cand.post(f"/jobs/{target}/apply", data={"resume_id": "1"})
        assert (
            "already+applied" in dup.headers["location"]
            or "already%20applied" in dup.headers["location"]
        )
    with sign_in(stack, "alex.morgan@lumenlabs.example") as portal:
        assert "Jamie Rivera" in portal.get(f"/jobs/{target}").text
        outbox = portal.get("/outbox").text
        assert "We received your application" in outbox and "New applicant: Jamie Rivera" in outbox


def test_resume_downloads_as_a_valid_pdf_and_as_text(stacks: Any) -> None:
    stack = stacks("agency")
    with sign_in(stack, "jordan.reyes@northbridge.example") as http:
        pdf = http.get("/resumes/3.pdf")
        txt = http.get("/resumes/3.txt")
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF-1.4")
    assert pdf.content.rstrip().endswith(b"%%EOF")
    xref_at = int(pdf.content.rsplit(b"startxref", 1)[1].split()[0])
    assert pdf.content[xref_at : xref_at + 4] == b"xref"
    offsets = [
        int(line[:10]) for line in pdf.content[xref_at:].split(b"\n")[3:] if line.endswith(b" n ")
    ]
    assert all(re.match(rb"\d+ 0 obj", pdf.content[o : o + 12]) for o in offsets)
    assert "EXPERIENCE" in txt.text and txt.text.splitlines()[0].upper() == txt.text.splitlines()[0]
    assert txt.text.splitlines()[0].encode() in pdf.content


def test_enterprise_approval_chain_opens_a_job(stacks: Any) -> None:
    stack = stacks("enterprise")
    with sign_in(stack, "dana.whitfield@northwind.example") as http:
        queue = http.get("/approvals").text
        ids = re.findall(r'data-approval="(\d+)"', queue)
        assert ids, "Dana has requisitions waiting at the final step"
        open_before = http.get("/api/jobs", params={"status": "open"}).json()["total"]
        resp = http.post(f"/approvals/{ids[0]}", data={"decision": "approve"})
        assert "now+open" in resp.headers["location"] or "now%20open" in resp.headers["location"]
        assert http.get("/api/jobs", params={"status": "open"}).json()["total"] == open_before + 1
        reports = http.get("/reports").text
        assert reports.count("<svg") >= 6 and "Time to hire" in reports
        assert http.get("/departments").status_code == 200


def test_every_portal_page_renders_for_every_scenario(stacks: Any) -> None:
    who = {
        "agency": "priya.nair@client.example",
        "enterprise": "marcus.lee@northwind.example",
        "startup": "alex.morgan@lumenlabs.example",
    }
    for scenario, email in who.items():
        with sign_in(stacks(scenario), email) as http:
            for path in (
                "/",
                "/jobs",
                "/jobs/1",
                "/candidates",
                "/candidates/2",
                "/recruiters",
                "/placements",
                "/outbox",
            ):
                resp = http.get(path)
                assert resp.status_code == 200, (scenario, path)
                assert "Splits Network" in resp.text
