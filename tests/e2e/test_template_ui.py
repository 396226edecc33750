"""Save as template from a demo's page in a real browser (Debian's chromium through Playwright,
a real `democtl serve`): the saved variant appears in the create form and in the API with what it
is based on; a second save under the same name is refused on the page with the reason."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.conftest import Server
from tests.e2e.shots import save_shot

ADMIN_PASSWORD = "Granite-Harbor-Template-61"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(
        tmp_path_factory.mktemp("template-ui"), DEMO_ADMIN_PASSWORD=ADMIN_PASSWORD
    ).start()
    yield server
    server.close()


def test_a_demo_saved_as_a_template_on_its_page_is_offered_when_creating(
    ui: Server, browser: Browser
) -> None:
    instance_id = ui.create()["id"]
    ui.wait_status(instance_id, "ready")
    page = browser.new_context(viewport={"width": 1300, "height": 900}).new_page()
    page.goto(ui.url + f"/portal/admin/demo-instances/{instance_id}")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("button.primary")
    expect(page).to_have_url(re.compile(rf"/portal/admin/demo-instances/{instance_id}"))
    form = page.locator("#save-template-form")
    form.locator("input[name=name]").fill("tiny-variant")
    form.locator("input[name=title]").fill("Tiny, as the call left it")
    form.locator("input[name=shared]").check()
    form.locator("button").click()
    expect(page.locator(".flash.ok")).to_contain_text("Saved as template tiny-variant")
    save_shot(page, "ui-save-template.png")
    saved = {s["name"]: s for s in ui.http.get("/api/v1/scenarios").json()["items"]}
    assert saved["tiny-variant"]["based_on"] and saved["tiny-variant"]["shared"] is True

    page.goto(ui.url + "/portal/admin/demo-instances/new")
    expect(page.locator('input[name=scenario][value="tiny-variant"]')).to_have_count(1)

    page.goto(ui.url + f"/portal/admin/demo-instances/{instance_id}")
    form = page.locator("#save-template-form")
    form.locator("input[name=name]").fill("tiny-variant")
    form.locator("button").click()
    expect(page.locator(".flash.bad")).to_contain_text("tiny-variant")
