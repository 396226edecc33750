"""Live updates and the end of a demo in a real browser (issue 15, items 4 and 5).

Debian's chromium through Playwright; stacks served by `python -m splits_stack serve` on
`*.localhost` hosts, each reading its lifetime from a small fake of the orchestrator's `/self`
endpoint (contract 4, tests/stack/test_lifetime.py). A recruiter on a job page moves a card; the
candidate's open "My applications" page and the company admin's open job page follow without a
reload. With the end near the banner counts down, shrinks to a chip but stays; at the end the
page reloads. Screenshots go to artifacts/screenshots/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from splits_stack.db import make_engine
from splits_stack.devserver import StackProcess
from splits_stack.seed.run import seed
from splits_stack.services.identity import login_token, rep_token
from tests.e2e.shots import save_shot
from tests.stack.test_lifetime import FakeOrchestrator

pytestmark = pytest.mark.browser

SECRET = "browser-secret"
MOVABLE = ("applied", "screening", "interview", "offer")
TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def orchestrator() -> Iterator[FakeOrchestrator]:
    fake = FakeOrchestrator()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("live-template") / "agency.db"
    engine = make_engine(f"sqlite:///{path}")
    seed(engine, "agency", 42)
    engine.dispose()
    return path


def start_demo(
    template: Path, folder: Path, orchestrator: FakeOrchestrator, instance: str
) -> StackProcess:
    database = folder / f"{instance}.db"
    database.write_bytes(template.read_bytes())
    stack = StackProcess(f"sqlite:///{database}", log_path=folder / f"{instance}.log")
    stack.env = {
        **orchestrator.env(instance),
        "DEMO_LOGIN_SECRET": SECRET,
        "DEMO_URL_PORTAL": stack.url("portal", instance),
        "DEMO_URL_CANDIDATE": stack.url("candidate", instance),
    }
    return stack.start()


def signed_in(browser: Any, stack: StackProcess, email: str, site: str, width: int = 1280) -> Any:
    context = browser.new_context(viewport={"width": width, "height": 860})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    base = stack.env["DEMO_URL_CANDIDATE" if site == "candidate" else "DEMO_URL_PORTAL"]
    page.goto(f"{base}/auth/demo-login?email={email}&token={login_token(SECRET, email)}")
    return page


def live(page: Any) -> None:
    """Until the page's event stream is open (what happens from now on reaches it)."""
    page.wait_for_function("document.documentElement.dataset.live === 'open'")


def test_a_recruiters_move_shows_on_the_candidates_and_the_admins_open_pages(
    browser: Any, template: Path, tmp_path: Path, orchestrator: FakeOrchestrator
) -> None:
    instance = orchestrator.demo(minutes_left=12)
    stack = start_demo(template, tmp_path, orchestrator, instance)
    try:
        with httpx.Client(
            base_url=stack.base, headers={"Host": f"{instance}.portal.localhost"}, timeout=10
        ) as rep:
            assert rep.get("/auth/rep-login", params={"token": rep_token(SECRET, instance)})
            users = rep.get("/api/users", params={"limit": 500}).json()["items"]
            apps = rep.get("/api/applications", params={"limit": 500}).json()["items"]
            jobs = {j["id"]: j for j in rep.get("/api/jobs", params={"limit": 500}).json()["items"]}
        by_recruiter = {u["recruiter_id"]: u for u in users if u["role"] == "recruiter"}
        by_candidate = {u["candidate_id"]: u for u in users if u["role"] == "candidate"}
        app = next(
            a
            for a in apps
            if a["stage"] in MOVABLE
            and a["recruiter_id"] in by_recruiter
            and a["candidate_id"] in by_candidate
        )
        recruiter = by_recruiter[app["recruiter_id"]]
        candidate = by_candidate[app["candidate_id"]]
        admin = next(
            u
            for u in users
            if u["role"] in ("company_admin", "founder")
            and u["company_id"] == jobs[app["job_id"]]["company_id"]
        )
        stage = "offer" if app["stage"] != "offer" else "interview"

        mine = signed_in(browser, stack, candidate["email"], "candidate")
        mine.goto(stack.env["DEMO_URL_CANDIDATE"] + "/applications")
        badge = mine.locator(f'[data-application="{app["id"]}"] [data-stage]')
        assert badge.get_attribute("data-stage") == app["stage"]
        live(mine)
        mine.evaluate("window.__samePage = true")  # gone if the page reloads

        watching = signed_in(browser, stack, admin["email"], "portal")
        watching.goto(stack.env["DEMO_URL_PORTAL"] + f"/jobs/{app['job_id']}")
        live(watching)
        watching.evaluate("window.__samePage = true")
        profile = watching.context.new_page()  # the admin also has the candidate's page open
        profile.set_default_timeout(TIMEOUT_MS)
        profile.goto(stack.env["DEMO_URL_PORTAL"] + f"/candidates/{app['candidate_id']}")
        live(profile)

        moving = signed_in(browser, stack, recruiter["email"], "portal")
        moving.goto(stack.env["DEMO_URL_PORTAL"] + f"/jobs/{app['job_id']}")
        card = moving.locator(f'.kcard[data-app="{app["id"]}"]')
        card.locator("select").select_option(stage)
        card.locator("button").click()
        moving.wait_for_selector(f'.column[data-stage="{stage}"] .kcard[data-app="{app["id"]}"]')

        mine.wait_for_function(
            f"""document.querySelector('[data-application="{app["id"]}"] [data-stage]')
                .dataset.stage === '{stage}'"""
        )
        assert (badge.text_content() or "").strip() == stage.title()
        assert mine.evaluate("window.__samePage === true"), "the candidate's page reloaded"
        done = mine.locator(f'[data-application="{app["id"]}"] .progress li.done')
        assert done.count() == ("applied", "screening", "interview", "offer").index(stage) + 1
        save_shot(mine, "live-candidate-stage-updated.png")

        watching.wait_for_selector(f'.column[data-stage="{stage}"] .kcard[data-app="{app["id"]}"]')
        assert watching.evaluate("window.__samePage === true"), "the admin's page reloaded"
        profile.wait_for_selector(f'li:has(a[href="/jobs/{app["job_id"]}"]) .badge.stage-{stage}')
        save_shot(watching, "live-portal-card-moved.png")

        # The end is 12 minutes away: within the first lead time (15), both hosts say so.
        for page in (mine, watching):
            notice = page.locator("[data-demo-ending]")
            assert notice.is_visible()
            assert re.search(r"This demo ends in 1[12] min", notice.text_content() or "")
        for page in (mine, watching, moving):
            page.context.close()
    finally:
        stack.stop()


def test_the_banner_shrinks_to_a_chip_but_stays(
    browser: Any, template: Path, tmp_path: Path, orchestrator: FakeOrchestrator
) -> None:
    instance = orchestrator.demo(minutes_left=8)
    stack = start_demo(template, tmp_path, orchestrator, instance)
    try:
        page = signed_in(browser, stack, "priya.nair@client.example", "portal")
        page.goto(stack.env["DEMO_URL_PORTAL"] + "/")
        notice = page.locator("[data-demo-ending]")
        assert notice.is_visible() and "This demo ends in" in (notice.text_content() or "")
        save_shot(page, "live-ending-banner.png")
        page.click("[data-ending-toggle]")
        assert "compact" in (notice.get_attribute("class") or "")
        assert notice.is_visible() and page.locator(".demo-ending-lead").is_hidden()
        assert re.search(r"\d+ min", notice.text_content() or "")
        page.goto(stack.env["DEMO_URL_PORTAL"] + "/jobs")  # stays a chip across pages
        assert "compact" in (page.locator("[data-demo-ending]").get_attribute("class") or "")
        save_shot(page, "live-ending-chip.png")
        page.click("[data-ending-toggle]")  # and opens again
        assert "compact" not in (page.locator("[data-demo-ending]").get_attribute("class") or "")
        page.context.close()

        phone = signed_in(browser, stack, "sam.carter@mail.example", "candidate", width=390)
        phone.goto(stack.env["DEMO_URL_CANDIDATE"] + "/applications")
        assert phone.locator("[data-demo-ending]").is_visible()
        save_shot(phone, "live-ending-banner-390.png")
        phone.context.close()
    finally:
        stack.stop()


def test_when_the_time_is_up_the_page_reloads_once_and_says_the_demo_ended(
    browser: Any, template: Path, tmp_path: Path, orchestrator: FakeOrchestrator
) -> None:
    """A demo of a few seconds left: the countdown reaches zero and the page reloads (behind the
    router, the orchestrator's "This demo has ended" page answers then; here the stack itself
    answers again, and the page says the demo ended instead of reloading for ever)."""
    instance = orchestrator.demo(minutes_left=0.5)
    stack = start_demo(template, tmp_path, orchestrator, instance)
    try:
        page = signed_in(browser, stack, "sam.carter@mail.example", "candidate")
        page.goto(stack.env["DEMO_URL_CANDIDATE"] + "/applications")
        notice = page.locator("[data-demo-ending]")
        assert notice.is_visible() and "ends in" in (notice.text_content() or "")
        page.evaluate("window.__beforeTheEnd = true")  # gone once the page reloads
        with page.expect_event("load", timeout=90_000):
            pass  # the countdown runs out
        assert page.evaluate("window.__beforeTheEnd === undefined")
        page.wait_for_function(
            "document.querySelector('[data-demo-ending]').textContent.includes('has ended')"
        )
        assert page.evaluate("window.sessionStorage.getItem('splits-demo-ended-reload')")
        save_shot(page, "live-ending-ended.png")
        page.context.close()
    finally:
        stack.stop()


def test_a_standalone_demo_shows_no_banner(
    browser: Any, template: Path, tmp_path: Path, orchestrator: FakeOrchestrator
) -> None:
    instance = "demo-nobody"  # the orchestrator does not know it: 404, nothing known
    stack = start_demo(template, tmp_path, orchestrator, instance)
    try:
        page = signed_in(browser, stack, "priya.nair@client.example", "portal")
        page.goto(stack.env["DEMO_URL_PORTAL"] + "/")
        live(page)  # the script runs (and the stream opens) ...
        assert page.locator("[data-demo-ending]").is_hidden()  # ... but nothing is shown
        page.context.close()
    finally:
        stack.stop()


def test_a_demo_ended_early_reloads_the_page_at_the_next_check(
    browser: Any, template: Path, tmp_path: Path, orchestrator: FakeOrchestrator
) -> None:
    """Deleted before its time: the router answers the demo's hosts with 410 (contract 5), so
    the page's next check of `/__demo/lifetime` reloads the page onto the router's ended page."""
    instance = orchestrator.demo(minutes_left=60)
    stack = start_demo(template, tmp_path, orchestrator, instance)
    try:
        page = signed_in(browser, stack, "priya.nair@client.example", "portal")
        page.goto(stack.env["DEMO_URL_PORTAL"] + "/jobs")
        assert page.locator("[data-demo-ending]").is_hidden()  # an hour left: nothing yet
        page.route(
            "**/__demo/lifetime",
            lambda route: route.fulfill(status=410, body="This demo has ended"),
        )
        page.evaluate("window.__beforeTheEnd = true")
        with page.expect_event("load"):
            page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")  # a check
        assert page.evaluate("window.__beforeTheEnd === undefined")
        page.context.close()
    finally:
        stack.stop()
