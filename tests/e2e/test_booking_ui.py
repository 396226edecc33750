"""Booking in a real browser (Debian's chromium through Playwright) against a real `democtl
serve`: the create form's "starts at" is read in the user's time zone, the demo's page offers its
.ics (parsed with icalendar: the right times in the owner's zone, no sign-in link), and the day's
schedule, reached from the nav, lists it at its local start time."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from playwright.sync_api import Browser, expect

from tests.conftest import Server
from tests.e2e.shots import save_shot

ADMIN_PASSWORD = "Copper-Lantern-Healing-4821"
NEW_YORK = ZoneInfo("America/New_York")

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(
        tmp_path_factory.mktemp("booking-ui"), DEMO_ADMIN_PASSWORD=ADMIN_PASSWORD
    ).start()
    yield server
    server.close()


def test_a_demo_booked_in_the_form_is_on_the_days_schedule_with_its_ics(
    ui: Server, browser: Browser, tmp_path: Path
) -> None:
    answer = ui.http.put("/api/v1/users/admin/timezone", json={"timezone": "America/New_York"})
    assert answer.status_code == 200, answer.text
    day = datetime.now(NEW_YORK).date() + timedelta(days=2)
    start = datetime.combine(day, time(10, 30), tzinfo=NEW_YORK)

    context = browser.new_context(viewport={"width": 1300, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.goto(ui.url + "/portal/admin/demo-instances/new")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("button.primary")
    expect(page).to_have_url(re.compile(r"/portal/admin/demo-instances/new$"))
    expect(page.locator("#create-form")).to_contain_text("America/New_York")
    page.fill("input[name=duration_hours]", "1.5")
    page.fill("input[name=company]", "Hooli")
    page.fill("input[name=starts_at]", f"{day.isoformat()}T10:30")
    page.click("#submit-create")
    expect(page).to_have_url(re.compile(r"/portal/admin/demo-instances/demo-[a-z0-9]{6}"))
    expect(page.locator(".flash.ok")).to_contain_text("Booked")
    instance_id = page.url.rsplit("/", 1)[1].split("?")[0]
    shown = ui.get(instance_id)
    assert shown["status"] == "scheduled"
    assert datetime.fromisoformat(shown["starts_at"]) == start  # read in the user's zone

    with page.expect_download() as download_info:
        page.click("#calendar-ics")
    saved = tmp_path / "invite.ics"
    download_info.value.save_as(saved)
    [event] = Calendar.from_ical(saved.read_bytes()).walk("VEVENT")
    assert event.decoded("dtstart") == start
    assert event.decoded("dtend") == start + timedelta(hours=1.5)
    assert str(event.decoded("dtstart").tzinfo) == "America/New_York"
    assert "Hooli" in str(event["summary"])
    raw = saved.read_text()
    assert "token" not in raw.lower() and "login" not in raw.lower()

    page.click("#nav-schedule")
    expect(page).to_have_url(re.compile(r"/portal/admin/schedule"))
    page.fill("input[name=day]", day.isoformat())
    page.click("form.filters button")
    expect(page.locator("#schedule-tz")).to_have_text("America/New_York")
    row = page.locator(f'#schedule tr[data-id="{instance_id}"]')
    expect(row.locator(".start")).to_have_text("10:30")
    expect(row).to_contain_text("Hooli")
    expect(row).to_contain_text("scheduled")
    save_shot(page, "ui-schedule.png")
    page.click("#previous-day")
    expect(page.locator(f'#schedule tr[data-id="{instance_id}"]')).to_have_count(0)
    context.close()
