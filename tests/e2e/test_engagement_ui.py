"""Engagement from the live demo, end to end: a real `democtl serve` with the Splits Network
blueprint makes an agency demo (a real stack process on the local runtime); chromium opens Jordan
Reyes' one-click link and walks part of the tour, with a query string on the way; the stack reports
to the orchestrator by itself, and the API and the demo's detail page then show the persona, the
pages as patterns and the tour steps reached, and no query string anywhere."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from tests.conftest import Server
from tests.e2e.shots import save_shot

ADMIN_PASSWORD = "Copper-Lantern-Healing-4821"
JORDAN = "Jordan Reyes"  # blueprints/splits-network.yaml: tour steps 1-4 are his (/, /jobs/1 x2, /recruiters)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(
        tmp_path_factory.mktemp("engagement-ui"),
        DEMO_BLUEPRINT="splits-network",
        DEMO_BLUEPRINT_PATHS="[]",
        DEMO_PREBUILD_TEMPLATES="false",
        DEMO_ADMIN_PASSWORD=ADMIN_PASSWORD,
    ).start()
    yield server
    server.close()


def _activity(ui: Server, demo: str, wanted: Any, timeout: float = 60) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        items = ui.http.get(f"/api/v1/demo-instances/{demo}/activity").json()["items"]
        if wanted(items) or time.monotonic() > deadline:
            return list(items)
        time.sleep(0.25)


def test_a_persona_session_in_chromium_shows_as_engagement(ui: Server, browser: Browser) -> None:
    demo = ui.create(scenario="agency")["id"]
    ready = ui.wait_status(demo, "ready", timeout=120)
    link = next(p["login_url"] for p in ready["personas"] if p["name"] == JORDAN)

    prospect = browser.new_context(viewport={"width": 1300, "height": 900}).new_page()
    prospect.set_default_timeout(20_000)
    prospect.goto(link)
    expect(prospect).to_have_url(re.compile(r"\.portal\.localhost:\d+/$"))
    portal = ready["urls"]["portal"]
    prospect.goto(portal + "/jobs/1?utm_source=secret-campaign")
    prospect.goto(portal + "/recruiters")
    prospect.goto(portal + "/candidates")
    prospect.context.close()

    def complete(items: list[dict[str, Any]]) -> bool:
        return {i["path"] for i in items} >= {
            "/auth/demo-login",
            "/",
            "/jobs/{job_id}",
            "/recruiters",
            "/candidates",
        }

    items = _activity(ui, demo, complete)
    assert complete(items), items
    assert {i["persona"] for i in items} == {JORDAN}
    assert {i["route"] for i in items} == {"portal"}
    steps = {i["path"]: i["tour_step"] for i in items}
    assert steps == {
        "/auth/demo-login": None,
        "/": 1,
        "/jobs/{job_id}": 2,  # steps 2 and 3 share /jobs/1 (3 is its #matches tab)
        "/recruiters": 4,
        "/candidates": None,
    }
    listed = ui.http.get(f"/api/v1/demo-instances/{demo}/activity").text
    assert "secret-campaign" not in listed and "?" not in listed and "/jobs/1" not in listed

    admin = browser.new_context(viewport={"width": 1300, "height": 900}).new_page()
    admin.goto(ui.url + f"/portal/admin/demo-instances/{demo}")
    admin.fill("input[name=username]", "admin")
    admin.fill("input[name=password]", ADMIN_PASSWORD)
    admin.click("button.primary")
    expect(admin).to_have_url(re.compile(rf"/portal/admin/demo-instances/{demo}$"))
    section = admin.locator("#engagement")
    expect(section).to_contain_text("Tour steps reached: 4 of 7 (1, 2, 3, 4)")
    expect(section).to_contain_text("sign-ins: 1")
    timeline = admin.locator("#timeline")
    expect(timeline).to_contain_text(JORDAN)
    expect(timeline).to_contain_text("/jobs/{job_id}")
    assert "secret-campaign" not in (timeline.text_content() or "")
    section.scroll_into_view_if_needed()
    save_shot(admin, "engagement-detail.png")
    admin.goto(ui.url + "/portal/admin/usage")
    row = admin.locator("#engagement tr", has_text=demo)
    expect(row).to_contain_text("4 / 7")
    admin.context.close()
