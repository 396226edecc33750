"""The end of a live demo, whole, in chromium against a real `democtl serve` (no fake on either
side): a splits-network demo of about a minute for a prospect, open on a persona's page through
the rep's tour deep link. The stack learns its expiry from the orchestrator's `/self` channel, so
the ending banner shows at once (the end is within the first warning lead time) and counts down;
when the orchestrator expires the demo, the open page reloads onto the router's "This demo has
ended" page naming the rep to contact. Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.conftest import Server, splits_server
from tests.e2e.shots import save_shot

pytestmark = pytest.mark.browser

OWNER_EMAIL = "riley.rep@sales.example"
MINUTES = 0.7  # the demo's whole life: inside the default 15-minute warning from the start


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    made = splits_server(tmp_path_factory.mktemp("demo-end")).start()
    try:
        yield made
    finally:
        made.close()


def test_the_banner_counts_down_and_the_open_page_lands_on_the_ended_page(
    server: Server, browser: Browser
) -> None:
    assert server.http.put("/api/v1/users/admin/email", json={"email": OWNER_EMAIL}).is_success
    made = server.create(
        scenario="startup", duration_hours=MINUTES / 60, prospect={"company": "Acme Robotics"}
    )
    instance = server.wait_status(made["id"], "ready", "failed", timeout=120)
    assert instance["status"] == "ready", instance
    step = next(s for s in instance["tour"] if s["route"] == "portal")
    assert step["url"] == f"{instance['rep_login_url']}&step={step['step']}"

    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.set_default_timeout(20_000)
    page.goto(step["url"])
    expect(page.locator(".me")).to_contain_text(step["persona"])
    banner = page.locator(".demo-ending")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text(
        re.compile(r"ends in (\d+ min|\d+ s|less than a minute)", re.IGNORECASE)
    )
    save_shot(page, "demo-ending-banner.png")

    # The orchestrator expires the demo; the open page reloads onto the ended page by itself.
    server.wait_status(made["id"], "expired", "deleted", timeout=150)
    expect(page.locator("h1")).to_have_text("This demo has ended", timeout=90_000)
    assert page.locator("a.contact-email").get_attribute("href") == f"mailto:{OWNER_EMAIL}"
    assert "Acme Robotics" in page.locator("main").inner_text()
    save_shot(page, "demo-ended-after-banner.png")
    page.context.close()
