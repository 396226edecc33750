"""The prospect's share link in a real browser (Debian's chromium through Playwright) against a
real `democtl serve` and an agency demo of the reference stack behind its router: the read-only
link shows the demo's data with no write control, a dragged pipeline card stays where it was and a
write the page's own script sends is refused (403); the guided link shows the tour as a panel,
without the rep's talking points, and steps through it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import Server
from tests.e2e.shots import save_shot

ADMIN_PASSWORD = "Copper-Lantern-Healing-4821"
pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, Any]]]:
    server = Server(
        tmp_path_factory.mktemp("share-ui"),
        DEMO_BLUEPRINT="splits-network",
        DEMO_BLUEPRINT_PATHS="[]",
        DEMO_PREBUILD_TEMPLATES="false",
        DEMO_ADMIN_PASSWORD=ADMIN_PASSWORD,
    ).start()
    try:
        made = server.create(scenario="agency", duration_hours=1)
        ready = server.wait_status(made["id"], "ready", "failed", timeout=120)
        assert ready["status"] == "ready", ready
        yield server, ready
    finally:
        server.close()


def _shared(server: Server, instance_id: str, mode: str) -> str:
    made = server.http.post(f"/api/v1/demo-instances/{instance_id}/share", json={"mode": mode})
    assert made.status_code == 201, made.text
    ready = server.wait_status(instance_id, "ready", "failed", timeout=60)
    assert ready["status"] == "ready", ready
    return str(made.json()["url"])


def _open(browser: Browser, link: str) -> Page:
    page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    page.set_default_timeout(15_000)
    page.goto(link)
    return page


def test_read_only_shows_the_data_and_refuses_every_write(
    demo: tuple[Server, dict[str, Any]], browser: Browser
) -> None:
    server, instance = demo
    page = _open(browser, _shared(server, instance["id"], "read_only"))
    expect(page.locator("[data-shared]")).to_be_visible()
    assert page.locator("text=Switch persona").count() == 0
    assert page.locator("[data-tour-panel]").count() == 0

    page.goto(instance["urls"]["portal"] + "/jobs/1")
    cards = page.locator(".kcard")
    assert cards.count() > 0  # the pipeline's data is there
    assert page.locator("form[method=post]").count() == 0  # and no write control
    assert page.locator('.kcard[draggable="true"]').count() == 0
    card = cards.first
    app_id = card.get_attribute("data-app")
    column = card.locator("xpath=ancestor::div[@data-stage]").get_attribute("data-stage")
    target = page.locator(f'.column:not([data-stage="{column}"])').first
    card.drag_to(target)
    page.reload()
    moved = page.locator(f'.kcard[data-app="{app_id}"]')
    assert moved.locator("xpath=ancestor::div[@data-stage]").get_attribute("data-stage") == column
    # the write the board's script would send, sent by the page itself: refused
    status = page.evaluate(
        """async (id) => (await fetch('/applications/' + id + '/move', {method: 'POST',
             body: new URLSearchParams({stage: 'offer'}), credentials: 'same-origin',
             headers: {'Accept': 'application/json'}})).status""",
        app_id,
    )
    assert status == 403
    save_shot(page, "share-read-only.png")
    page.context.close()


def test_guided_shows_the_tour_without_talking_points_and_steps_through_it(
    demo: tuple[Server, dict[str, Any]], browser: Browser
) -> None:
    server, instance = demo
    page = _open(browser, _shared(server, instance["id"], "guided"))
    panel = page.locator("[data-tour-panel]")
    expect(panel).to_be_visible()
    expect(panel.locator("[data-tour-step]")).to_have_text("1")
    expect(panel.locator("[data-tour-title]")).to_have_text("Open the dashboard")
    body = page.content()
    assert "KPIs across every client" not in body  # the rep's talking point stays with the rep
    assert "talking" not in body.lower()
    save_shot(page, "share-guided-1.png")

    panel.locator("[data-tour-next]").click()
    expect(page).to_have_url(re.compile(r"/jobs/1\?tour=2$"))
    expect(panel.locator("[data-tour-title]")).to_have_text(
        "Drag a candidate from Screening to Interview"
    )
    assert "One pipeline board shared" not in page.content()
    assert page.locator("form[method=post]").count() == 0  # guided is read-only too
    panel.locator("[data-tour-next]").click()
    expect(panel.locator("[data-tour-step]")).to_have_text("3")
    panel.locator("[data-tour-previous]").click()
    expect(panel.locator("[data-tour-step]")).to_have_text("2")
    save_shot(page, "share-guided-2.png")
    page.context.close()


def test_the_detail_page_shares_copies_and_revokes(
    demo: tuple[Server, dict[str, Any]], browser: Browser
) -> None:
    server, instance = demo
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(server.url + f"/portal/admin/demo-instances/{instance['id']}")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("button.primary")
    page.select_option("select[name=mode]", "read_only")
    page.click("#create-share")
    link = page.locator("[data-share-url]")
    expect(link).to_be_visible()
    url = link.get_attribute("href")
    assert url == server.http.get(f"/api/v1/demo-instances/{instance['id']}/share").json()["url"]
    page.click("#copy-share")
    assert page.evaluate("navigator.clipboard.readText()") == url
    server.wait_status(instance["id"], "ready", timeout=60)
    page.reload()
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#revoke-share")
    expect(page.locator("[data-share-url]")).to_have_count(0)
    server.wait_status(instance["id"], "ready", timeout=60)
    prospect = _open(browser, url)
    expect(prospect.locator("h1")).to_have_text("Access denied")
    prospect.context.close()
    context.close()
