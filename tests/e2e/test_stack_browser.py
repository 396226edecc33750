"""Splits Network in a real browser (Debian's chromium through Playwright's sync API).

One agency demo served by `python -m splits_stack serve` on `*.localhost` hosts, exactly as the
orchestrator's router exposes it: open the rep's link (the instance's `rep_login_url`), pick a persona
from the picker, drag a pipeline card, apply as a candidate, then see the application on the
portal's board and its e-mail in the outbox. Without a link the picker lists nobody.
Screenshots go to artifacts/screenshots/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from splits_stack.db import make_engine
from splits_stack.devserver import StackProcess
from splits_stack.seed.run import seed
from splits_stack.services.identity import rep_token
from tests.e2e.shots import save_shot

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    folder = tmp_path_factory.mktemp("browser")
    engine = make_engine(f"sqlite:///{folder / 'agency.db'}")
    seed(engine, "agency", 42)
    engine.dispose()
    stack = StackProcess(f"sqlite:///{folder / 'agency.db'}", log_path=folder / "stack.log")
    stack.env = {
        "DEMO_INSTANCE_ID": "demo-e2e001",
        "DEMO_LOGIN_SECRET": "browser-secret",
        "DEMO_URL_PORTAL": stack.url("portal", "demo-e2e001"),
        "DEMO_URL_CANDIDATE": stack.url("candidate", "demo-e2e001"),
        "DEMO_PROSPECT_COMPANY": "Acme Robotics",
        "DEMO_PROSPECT_INDUSTRY": "Robotics",
    }
    stack.start()
    yield stack
    stack.stop()


def _persona_page(browser: Any, demo: StackProcess) -> Any:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    token = rep_token(demo.env["DEMO_LOGIN_SECRET"], demo.env["DEMO_INSTANCE_ID"])
    page.goto(demo.env["DEMO_URL_PORTAL"] + f"/auth/rep-login?token={token}")
    page.wait_for_url(re.compile(r"/personas$"))
    return page


def test_without_a_sign_in_link_the_picker_lists_nobody(browser: Any, demo: StackProcess) -> None:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(demo.env["DEMO_URL_PORTAL"] + "/jobs/1")
    page.wait_for_url(re.compile(r"/personas\?next="))
    assert page.locator("a[data-persona]").count() == 0
    assert "sign-in link" in (page.text_content("h1") or "")
    save_shot(page, "stack-picker-without-a-link.png")
    context.close()


def test_sign_in_through_a_persona_link_and_drag_a_pipeline_card(
    browser: Any, demo: StackProcess
) -> None:
    page = _persona_page(browser, demo)
    page.click('a[data-persona="jordan.reyes@northbridge.example"]')
    page.wait_for_url(re.compile(r"\.portal\.localhost:\d+/$"))
    assert "Good to see you, Jordan" in page.text_content("h1")
    assert page.text_content('[data-kpi="open_jobs"]') == "10"
    save_shot(page, "stack-portal-dashboard.png")

    page.goto(demo.env["DEMO_URL_PORTAL"] + "/jobs/1")
    card = page.locator(
        '.column[data-stage="applied"] .kcard, .column[data-stage="screening"] .kcard'
    ).first
    app_id = card.get_attribute("data-app")
    interview = page.locator('.column[data-stage="interview"]')
    before = int(interview.locator(".count").text_content() or "0")
    card.drag_to(interview.locator(".cards"))
    page.wait_for_selector(f'.column[data-stage="interview"] .kcard[data-app="{app_id}"]')
    page.wait_for_function(
        f"document.querySelector('.column[data-stage=\"interview\"] .count').textContent == '{before + 1}'"
    )
    save_shot(page, "stack-pipeline-after-drag.png")
    page.reload()  # persisted, not just moved in the DOM
    assert page.locator(f'.column[data-stage="interview"] .kcard[data-app="{app_id}"]').count() == 1

    page.goto(demo.env["DEMO_URL_PORTAL"] + "/jobs/1")
    first = page.locator(
        '.column[data-stage="applied"] .kcard, .column[data-stage="screening"] .kcard'
    ).first
    other = first.get_attribute("data-app")
    first.locator("select").select_option("offer")
    first.locator("button").click()
    page.wait_for_selector(f'.column[data-stage="offer"] .kcard[data-app="{other}"]')
    page.context.close()


def test_apply_as_candidate_then_see_it_in_the_portal_and_the_outbox(
    browser: Any, demo: StackProcess
) -> None:
    page = _persona_page(browser, demo)
    page.click('a[data-persona="sam.carter@mail.example"]')
    page.wait_for_url(re.compile(r"\.candidate\.localhost:\d+/$"))  # the job board first
    page.click("text=My applications")
    page.wait_for_url(re.compile(r"/applications$"))
    assert page.locator("[data-application]").count() == 2
    page.click("text=Find jobs")
    page.fill('input[name="q"]', "")
    page.click("text=Search")
    jobs = page.locator("a[data-job]")
    assert jobs.count() == 10
    target = next(
        jobs.nth(i)
        for i in range(jobs.count())
        # one of Priya's company's roles (the prospect's): she sees her own pipelines only
        if "Applied" not in (text := jobs.nth(i).text_content() or "") and "Acme Robotics" in text
    )
    job_id = target.get_attribute("data-job")
    title = (target.locator("strong").first.text_content() or "").strip()
    target.click()
    save_shot(page, "stack-candidate-job.png")
    page.click("button[data-apply]")
    page.wait_for_url(re.compile(r"/applications\?flash="))
    assert page.locator("[data-application]").count() == 3
    assert title in (page.text_content("main") or "")
    save_shot(page, "stack-candidate-applications.png")
    page.context.close()

    portal = _persona_page(browser, demo)
    portal.click('a[data-persona="priya.nair@client.example"]')
    portal.goto(demo.env["DEMO_URL_PORTAL"] + f"/jobs/{job_id}")
    applied = portal.locator('.column[data-stage="applied"] .kcard[data-name="Sam Carter"]')
    assert applied.count() == 1
    save_shot(portal, "stack-portal-new-applicant.png")
    portal.goto(demo.env["DEMO_URL_PORTAL"] + "/outbox")
    assert portal.locator(".mail-list", has_text="New applicant: Sam Carter").count() == 1
    portal.click(f"text=We received your application for {title}")
    assert "Thanks for applying" in (portal.text_content(".mail-view") or "")
    save_shot(portal, "stack-portal-outbox.png")
    portal.context.close()


def test_prospect_is_woven_in_and_reports_render(browser: Any, demo: StackProcess) -> None:
    page = _persona_page(browser, demo)
    page.click('a[data-persona="priya.nair@client.example"]')
    page.goto(demo.env["DEMO_URL_PORTAL"] + "/jobs")
    assert "Acme Robotics" in (page.text_content("main") or "")
    page.goto(demo.env["DEMO_URL_PORTAL"] + "/recruiters")
    save_shot(page, "stack-portal-recruiters.png")
    page.goto(demo.env["DEMO_URL_PORTAL"] + "/candidates/1")
    assert "EXPERIENCE" in (page.text_content("pre.resume") or "")
    save_shot(page, "stack-portal-candidate.png")
    page.context.close()


def test_enterprise_approvals_and_reports_in_the_browser(browser: Any, tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'enterprise.db'}")
    seed(engine, "enterprise", 7)
    engine.dispose()
    stack = StackProcess(f"sqlite:///{tmp_path / 'enterprise.db'}", log_path=tmp_path / "stack.log")
    stack.env = {
        "DEMO_INSTANCE_ID": "demo-e2e002",
        "DEMO_LOGIN_SECRET": "browser-secret",
        "DEMO_URL_PORTAL": stack.url("portal", "demo-e2e002"),
        "DEMO_URL_CANDIDATE": stack.url("candidate", "demo-e2e002"),
    }
    stack.start()
    try:
        page = _persona_page(browser, stack)
        page.click('a[data-persona="marcus.lee@northwind.example"]')
        page.goto(stack.env["DEMO_URL_PORTAL"] + "/approvals")
        rows = page.locator("tr[data-approval]")
        waiting = rows.count()
        assert waiting > 0
        save_shot(page, "stack-enterprise-approvals.png")
        rows.first.locator("button", has_text="Approve").click()
        page.wait_for_url(re.compile(r"flash="))
        page.goto(stack.env["DEMO_URL_PORTAL"] + "/approvals")
        assert page.locator("tr[data-approval]").count() == waiting - 1
        page.goto(stack.env["DEMO_URL_PORTAL"] + "/reports")
        assert page.locator("svg.chart").count() >= 6
        save_shot(page, "stack-enterprise-reports.png")
        page.context.close()
    finally:
        stack.stop()
