"""Role scoping inside the stack, on real seeded databases over real HTTP: what each persona reads
in the pages and the JSON API, and what the rep's session (the whole demo) counts.

The matrix: a company admin of client A never sees client B's jobs, mail, placements, payouts or
candidates' private data (e-mail, phone, resume), and B's job or candidate detail is a 404 exactly
like a missing one; a recruiter sees their own splits and payouts only; a candidate their own
applications; the rep sees the union of all of it, which is what the blueprint counts.
Expectations are computed from the rep's view of the same demo, never from seed constants, so the
tests hold whatever the seeding makes (e.g. the prospect transform adding placements).
Also the tour-step pages: department cards that drill into their requisitions, a first tour screen
that names the prospect in every scenario, and the hooks the live stage updates rely on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import httpx
import pytest

from splits_stack.devserver import StackProcess
from tests.stack.conftest import SCENARIOS, as_rep, blueprint, sign_in

PRIYA = "priya.nair@client.example"  # company admin of the agency's first client
JORDAN = "jordan.reyes@northbridge.example"  # recruiter
SAM = "sam.carter@mail.example"  # candidate
PROSPECT = "Acme Robotics"
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _items(http: httpx.Client, name: str, **params: Any) -> list[dict[str, Any]]:
    resp = http.get(f"/api/{name}", params={"limit": 500, **params})
    assert resp.status_code == 200, resp.text
    return resp.json()["items"]  # type: ignore[no-any-return]


def _ids(page: str, attribute: str) -> set[int]:
    return {int(i) for i in re.findall(rf'{attribute}="(\d+)"', page)}


class Demo:
    """The rep's view of one running demo: every job, application, candidate and user."""

    def __init__(self, stack: StackProcess) -> None:
        self.stack = stack
        with as_rep(stack) as rep:
            self.companies = _items(rep, "companies")
            self.jobs = _items(rep, "jobs")
            self.apps = _items(rep, "applications")
            self.candidates = _items(rep, "candidates")
            self.users = _items(rep, "users")

    def company_of(self, email: str) -> int:
        return int(next(u["company_id"] for u in self.users if u["email"] == email))

    def admin_of(self, company_id: int) -> str:
        return str(
            next(
                u["email"]
                for u in self.users
                if u["role"] == "company_admin" and u["company_id"] == company_id
            )
        )

    def job_ids(self, company_id: int) -> set[int]:
        return {j["id"] for j in self.jobs if j["company_id"] == company_id}

    def pipeline(self, company_id: int) -> set[int]:
        """The candidates who applied to one of the company's jobs."""
        jobs = self.job_ids(company_id)
        return {a["candidate_id"] for a in self.apps if a["job_id"] in jobs}

    def only_elsewhere(self, company_id: int) -> list[dict[str, Any]]:
        """Candidates in another company's pipeline and not in this one's."""
        here = self.pipeline(company_id)
        applied = {a["candidate_id"] for a in self.apps}
        return [c for c in self.candidates if c["id"] in applied - here]

    def staff_emails(self, company_id: int) -> set[str]:
        return {u["email"] for u in self.users if u["company_id"] == company_id}


@contextmanager
def _personas(stack: StackProcess, *emails: str) -> Iterator[list[httpx.Client]]:
    with ExitStack() as stack_of_clients:
        yield [stack_of_clients.enter_context(sign_in(stack, e)) for e in emails]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_company_admin_never_sees_another_clients_jobs_or_candidates(
    stacks: Any, backend: str
) -> None:
    demo = Demo(stacks("agency", backend))
    mine = demo.company_of(PRIYA)
    others = [c["id"] for c in demo.companies if c["id"] != mine]
    foreign_jobs = {j["id"] for j in demo.jobs} - demo.job_ids(mine)
    strangers = demo.only_elsewhere(mine)
    assert others and foreign_jobs and strangers, "the agency demo has several clients"
    with sign_in(demo.stack, PRIYA) as http:
        api_jobs = {j["id"] for j in _items(http, "jobs")}
        api_cands = {c["id"] for c in _items(http, "candidates")}
        api_apps = _items(http, "applications")
        jobs_page = http.get("/jobs").text
        people = http.get("/candidates").text
        for job_id in sorted(foreign_jobs)[:3]:
            page = http.get(f"/jobs/{job_id}")
            assert page.status_code == 404 and "does not exist" in page.text
            assert http.get("/api/matches", params={"job_id": job_id}).status_code == 404
        own_job = min(demo.job_ids(mine))
        board = http.get(f"/jobs/{own_job}")
        assert board.status_code == 200
        ranked = http.get("/api/matches", params={"job_id": own_job, "limit": 500}).json()
        for cand in strangers[:3]:
            detail = http.get(f"/candidates/{cand['id']}")
            assert detail.status_code == 404 and cand["email"] not in detail.text
            assert "does not exist" in detail.text
        with as_rep(demo.stack) as rep:
            resume_ids = [
                int(r)
                for c in strangers[:2]
                for r in re.findall(
                    r"/resumes/(\d+)\.pdf",
                    sign_in_page(demo, rep, f"/candidates/{c['id']}"),
                )
            ]
        assert resume_ids, "the stranger candidates have resumes"
        for rid in resume_ids:
            assert http.get(f"/resumes/{rid}.pdf").status_code == 404
            assert http.get(f"/resumes/{rid}.txt").status_code == 404
    assert api_jobs == demo.job_ids(mine)
    shown = {int(i) for i in re.findall(r'<a href="/jobs/(\d+)" class="strong">', jobs_page)}
    assert shown == demo.job_ids(mine)
    assert all(a["job_id"] in demo.job_ids(mine) for a in api_apps) and api_apps
    assert not api_cands & {c["id"] for c in strangers}
    assert demo.pipeline(mine) <= api_cands
    for cand in strangers:  # their private data shows nowhere
        assert cand["email"] not in people and cand["phone"] not in people
        assert cand["id"] not in {m["candidate_id"] for m in ranked["items"]}
        assert f'href="/candidates/{cand["id"]}"' not in board.text


def sign_in_page(demo: Demo, rep: httpx.Client, path: str) -> str:
    """A page read by a company admin who may see it (the rep picks a persona for pages):
    the admin of a company whose pipeline holds the candidate."""
    cand_id = int(path.rsplit("/", 1)[1])
    company = next(
        j["company_id"]
        for a in demo.apps
        if a["candidate_id"] == cand_id
        for j in demo.jobs
        if j["id"] == a["job_id"]
    )
    with sign_in(demo.stack, demo.admin_of(company)) as http:
        page = http.get(path)
    assert page.status_code == 200, path
    return page.text


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_company_admin_reads_her_companys_mail_money_only(stacks: Any, backend: str) -> None:
    demo = Demo(stacks("agency", backend))
    admins = {c["id"]: demo.admin_of(c["id"]) for c in demo.companies}
    seen: dict[int, dict[str, Any]] = {}
    with _personas(demo.stack, *admins.values()) as clients:
        for (company, _), http in zip(admins.items(), clients, strict=True):
            outbox = http.get("/outbox").text
            placements = http.get("/placements").text
            dashboard = http.get("/").text
            seen[company] = {
                "mail": _ids(outbox, "data-email"),
                "outbox": outbox,
                "placements": _ids(placements, "data-placement"),
                "payouts": _ids(placements, "data-payout-id"),
                "dash_payouts": _ids(dashboard, "data-payout-id"),
                "subscriptions": _ids(placements, "data-subscription"),
                "placements_page": placements,
            }
            # another company's mail, asked for by id, is not shown either
            for other in admins:
                if other != company and other in seen:
                    for mail_id in sorted(seen[other]["mail"])[:2]:
                        page = http.get("/outbox", params={"id": mail_id}).text
                        assert f'class="active"><a href="/outbox?id={mail_id}"' not in page
    names = {c["id"]: c["name"] for c in demo.companies}
    assert seen[demo.company_of(PRIYA)]["mail"], "Priya reads her company's mail"
    assert sum(1 for v in seen.values() if v["mail"]) >= 2, "several clients have mail"
    for company, view in seen.items():
        assert view["subscriptions"] == {company}
        assert view["dash_payouts"] <= view["payouts"]
        for other, theirs in seen.items():
            if other == company:
                continue
            assert not view["mail"] & theirs["mail"], (names[company], names[other])
            assert not view["placements"] & theirs["placements"]
            assert not view["payouts"] & theirs["payouts"]
            for addr in demo.staff_emails(other):
                assert addr not in view["outbox"], (names[company], addr)
            assert f"The {names[other]} hiring team" not in view["outbox"]
            assert f"<td>{names[other]}</td>" not in view["placements_page"]
    # together the clients' placements are every placement: each belongs to exactly one of them
    everyone = set().union(*(v["placements"] for v in seen.values()))
    with sign_in(demo.stack, JORDAN) as http:
        assert _ids(http.get("/placements").text, "data-placement") <= everyone


def test_a_recruiter_sees_his_own_splits_and_payouts_only(stacks: Any) -> None:
    demo = Demo(stacks("agency"))
    recruiters = [u for u in demo.users if u["role"] == "recruiter"]
    assert len(recruiters) >= 2
    by_user: dict[str, dict[str, Any]] = {}
    with _personas(demo.stack, *(r["email"] for r in recruiters)) as clients:
        for rec, http in zip(recruiters, clients, strict=True):
            page = http.get("/placements").text
            network = http.get("/recruiters").text
            by_user[rec["email"]] = {
                "placements": _ids(page, "data-placement"),
                "payouts": _ids(page, "data-payout-id"),
                "subscriptions": _ids(page, "data-subscription"),
                "earned": _ids(network, "data-earned"),
                "apps": _items(http, "applications"),
                "page": page,
                "outbox": http.get("/outbox").text,
            }
    total = 0
    for rec in recruiters:
        view = by_user[rec["email"]]
        total += len(view["placements"])
        assert view["earned"] == {rec["recruiter_id"]}  # only his own earnings
        assert not view["subscriptions"]  # the clients' billing is not his business
        assigned = _assigned_jobs(demo, rec)
        assert view["apps"] and all(
            a["recruiter_id"] == rec["recruiter_id"] or a["job_id"] in assigned
            for a in view["apps"]
        )
        payees = set(re.findall(r'data-payout-id="\d+"><td>([^<]+)</td>', view["page"]))
        assert payees <= {rec["name"]}
        splits = set(re.findall(r"<td>([^<]+) · \$", view["page"]))
        assert splits <= {rec["name"]}
        for other in recruiters:
            if other is rec:
                continue
            theirs = by_user[other["email"]]
            assert not view["placements"] & theirs["placements"]
            assert not view["payouts"] & theirs["payouts"]
            assert other["email"] not in view["outbox"]
    assert total >= 1, "some recruiter has a placement in the agency demo"
    jordan = by_user[JORDAN]
    assert jordan["placements"] and jordan["payouts"], "Jordan's own split shows"


def _assigned_jobs(demo: Demo, rec: dict[str, Any]) -> set[int]:
    with sign_in(demo.stack, rec["email"]) as http:
        page = http.get("/recruiters").text
    section = page.split(f'data-earned="{rec["recruiter_id"]}"', 1)[1].split("</section>", 1)[0]
    return {int(i) for i in re.findall(r'href="/jobs/(\d+)"', section)}


def test_a_persona_cannot_move_another_clients_card(stacks: Any) -> None:
    demo = Demo(stacks("agency"))
    mine = demo.job_ids(demo.company_of(PRIYA))
    foreign = next(a for a in demo.apps if a["job_id"] not in mine and a["stage"] != "hired")
    with sign_in(demo.stack, PRIYA) as http:
        resp = http.post(
            f"/applications/{foreign['id']}/move",
            data={"stage": "rejected"},
            headers={"Accept": "application/json"},
        )
        assert resp.status_code == 404 and "does not exist" in resp.json()["detail"]
        assert (
            http.post(f"/applications/{foreign['id']}/move", data={"stage": "rejected"}).status_code
            == 404
        )
    with as_rep(demo.stack) as rep:
        after = next(a for a in _items(rep, "applications") if a["id"] == foreign["id"])
    assert after["stage"] == foreign["stage"]


def test_a_candidate_reads_only_his_own_applications(stacks: Any) -> None:
    demo = Demo(stacks("agency"))
    sam = next(u for u in demo.users if u["email"] == SAM)
    his = {a["id"] for a in demo.apps if a["candidate_id"] == sam["candidate_id"]}
    assert his and len(his) < len(demo.apps)
    with sign_in(demo.stack, SAM, "candidate") as http:
        page = http.get("/applications")
        assert page.headers["cache-control"] == "no-store"
        api = {a["id"] for a in _items(http, "applications")}
        cands = _items(http, "candidates")
        other = next(c for c in demo.candidates if c["id"] != sam["candidate_id"])
        resumes = {rid: http.get(f"/resumes/{rid}.txt") for rid in range(1, 8)}
    assert _ids(page.text, "data-application-id") == his == api
    assert [c["id"] for c in cands] == [sam["candidate_id"]]
    assert other["email"] not in page.text
    # another candidate's resume is as missing as one that does not exist; his own downloads
    assert {r.status_code for r in resumes.values()} == {200, 404}
    assert all(
        sam["name"].upper() in r.text.upper() for r in resumes.values() if r.status_code == 200
    )


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_reps_session_sees_the_whole_demo_and_the_seeded_counts(
    stacks: Any, scenario: str
) -> None:
    stack = stacks(scenario)
    demo = Demo(stack)
    counts = next(s["counts"] for s in blueprint()["scenarios"] if s["name"] == scenario)
    assert len(demo.companies) == counts["companies"]
    assert len(demo.jobs) == counts["jobs"]
    assert len(demo.candidates) == counts["candidates"]
    assert len(demo.apps) == counts["applications"]
    # what the companies' staff see, put together, is what the rep sees (no row of nobody's)
    seen_apps: set[int] = set()
    seen_jobs: set[int] = set()
    for company in demo.companies:
        with sign_in(stack, demo.admin_of(company["id"])) as http:
            seen_apps |= {a["id"] for a in _items(http, "applications")}
            seen_jobs |= {j["id"] for j in _items(http, "jobs")}
    assert seen_apps == {a["id"] for a in demo.apps}
    assert seen_jobs == {j["id"] for j in demo.jobs}


def test_department_cards_drill_into_their_requisitions(stacks: Any) -> None:
    stack = stacks("enterprise")
    with sign_in(stack, "dana.whitfield@northwind.example") as http:
        page = http.get("/departments").text
        cards = re.findall(
            r'href="/departments\?dept=(\d+)#requisitions" data-dept="\d+"><strong>([^<]+)</strong>'
            r'<div class="small muted">(\d+) requisitions',
            page,
        )
        assert len(cards) >= 2, "department cards link to their filtered list"
        for dept_id, name, count in cards[:3]:
            drilled = http.get("/departments", params={"dept": dept_id}).text
            rows = re.findall(r'<a href="/jobs/\d+">[^<]+</a></td><td>([^<]*)</td>', drilled)
            assert rows and set(rows) == {name}, name
            assert len(rows) == int(count)
            assert f"{name} requisitions" in drilled
        everything = re.findall(r'<a href="/jobs/\d+">[^<]+</a></td><td>', page)
        assert len(everything) > int(cards[0][2])
        assert http.get("/departments", params={"dept": "x"}).status_code == 200


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_first_tour_screen_names_the_prospect(stacks: Any, scenario: str) -> None:
    stack = stacks(scenario, DEMO_PROSPECT_COMPANY=PROSPECT, DEMO_PROSPECT_INDUSTRY="Robotics")
    spec = next(s for s in blueprint()["scenarios"] if s["name"] == scenario)
    first = spec["tour"][0]
    persona = next(p for p in spec["personas"] if p["name"] == first["persona"])
    email = persona["email"]  # the blueprint's e-mail signs in with a prospect and without
    site = "candidate" if persona.get("route") == "candidate" else "portal"
    with sign_in(stack, email, site) as http:
        page = http.get(first["page"].split("#")[0])
    assert page.status_code == 200
    assert PROSPECT in page.text and "data-prospect" in page.text
    # without a prospect the same screen names none
    plain = stacks(scenario)
    with sign_in(plain, email, site) as http:
        assert PROSPECT not in http.get(first["page"].split("#")[0]).text


def test_stage_hooks_for_live_updates_and_a_current_stage(stacks: Any) -> None:
    stack = stacks("agency", DEMO_TEST_TAG="scoping-moves")  # a copy of its own: it writes
    demo = Demo(stack)
    sam = next(u for u in demo.users if u["email"] == SAM)
    app = next(
        a
        for a in demo.apps
        if a["candidate_id"] == sam["candidate_id"] and a["stage"] not in ("hired", "rejected")
    )
    target = "offer" if app["stage"] != "offer" else "interview"
    with sign_in(stack, SAM, "candidate") as cand:
        before = cand.get("/applications").text
        assert re.search(
            rf'data-application-id="{app["id"]}">.*?class="[^"]*js-stage[^"]*" '
            rf'data-stage="{app["stage"]}"',
            before,
            re.DOTALL,
        )
        with sign_in(stack, JORDAN) as portal:
            board = portal.get(f"/jobs/{app['job_id']}").text
            card = re.search(
                rf'data-application-id="{app["id"]}"[^>]*>\s*<span class="js-stage" '
                rf'data-stage="(\w+)"',
                board,
            )
            assert card and card.group(1) == app["stage"]
            moved = portal.post(
                f"/applications/{app['id']}/move",
                data={"stage": target},
                headers={"Accept": "application/json"},
            )
            assert moved.status_code == 200, moved.text
        after = cand.get("/applications").text
    assert re.search(
        rf'data-application-id="{app["id"]}">.*?js-stage" data-stage="{target}"', after, re.DOTALL
    )
