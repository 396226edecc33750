"""Notifications in a real browser (Debian's chromium through Playwright) against a real
`democtl serve`: a webhook added on the notifications page receives a demo's `ready`, signed, and
its delivery shows there; a demo within the first warning lead time shows the expiry banner on
the list and its page, whose one click extends it; the audit log page lists what was done."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect
from standardwebhooks.webhooks import Webhook

from tests.conftest import Server
from tests.e2e.shots import save_shot
from tests.fakes.receivers import Inbox, Receiver, smtp_server

ADMIN_PASSWORD = "Granite-Harbor-Notify-73"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.close()


@pytest.fixture(scope="module")
def inbox() -> Iterator[tuple[Inbox, int]]:
    with smtp_server() as running:
        yield running


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory, inbox: tuple[Inbox, int]) -> Iterator[Server]:
    server = Server(
        tmp_path_factory.mktemp("notify-ui"),
        DEMO_SMTP_URL=f"smtp://127.0.0.1:{inbox[1]}",
        DEMO_SMTP_FROM="demos@acme.example",
        DEMO_ADMIN_PASSWORD=ADMIN_PASSWORD,
        DEMO_EXPIRY_WARNING_MINUTES="60,5",  # a half-hour demo is inside the first lead time
        DEMO_WEBHOOK_ALLOW_PRIVATE_NETWORKS="true",  # the receiver listens on loopback
    ).start()
    yield server
    server.close()


def signed_in(browser: Browser, ui: Server) -> Page:
    page = browser.new_context(viewport={"width": 1300, "height": 900}).new_page()
    page.goto(ui.url + "/portal/notifications")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("button.primary")
    expect(page).to_have_url(re.compile(r"/portal/notifications$"))
    return page


def test_a_webhook_added_in_the_ui_gets_signed_deliveries_shown_on_the_page(
    ui: Server, browser: Browser, receiver: Receiver
) -> None:
    page = signed_in(browser, ui)
    page.fill("input[name=url]", f"http://127.0.0.1:{receiver.server.server_port}/hook")
    page.select_option("select[name=scope]", "global")
    page.click("#submit-webhook")
    secret = page.locator("#new-secret code").text_content()
    assert secret is not None and secret.startswith("whsec_")
    assert secret not in page.url  # shown in the answer, never put in a URL
    made = ui.http.post("/api/v1/demo-instances", json={"duration_hours": 2})  # past the leads
    assert made.status_code == 202, made.text
    instance_id = made.json()["id"]
    ui.wait_status(instance_id, "ready")
    row = page.locator(f'tr[data-status="delivered"]:has-text("{instance_id}")')
    deadline = time.monotonic() + 30
    while True:  # the page is not live: load it again until the delivery is in
        page.goto(ui.url + "/portal/notifications")
        if row.count() or time.monotonic() > deadline:
            break
        page.wait_for_timeout(250)
    expect(row).to_be_visible()
    save_shot(page, "ui-notifications.png")
    ready = [
        (h, b)
        for _, h, b in receiver.received
        if b'"type":"ready"' in b and instance_id.encode() in b
    ]
    assert len(ready) == 1
    headers, body = ready[0]
    assert Webhook(secret).verify(body, headers)["data"]["instance"]["id"] == instance_id
    assert b"login_url" not in body


def test_the_expiry_banner_extends_in_one_click_and_the_audit_page_shows_it(
    ui: Server, browser: Browser
) -> None:
    made = ui.http.post("/api/v1/demo-instances", json={"duration_hours": 0.5})
    instance_id = made.json()["id"]
    ui.wait_status(instance_id, "ready")
    far = ui.http.post("/api/v1/demo-instances", json={"duration_hours": 3}).json()["id"]
    page = signed_in(browser, ui)
    page.goto(ui.url + "/portal/admin/demo-instances")
    banner = page.locator("#expiry-banner")
    expect(banner.locator(f'[data-id="{instance_id}"]')).to_contain_text("expires in")
    expect(banner.locator(f'[data-id="{far}"]')).to_have_count(0)  # 3 h left: no warning
    save_shot(page, "ui-expiry-banner.png")
    before = ui.http.get(f"/api/v1/demo-instances/{instance_id}").json()["expires_at"]
    page.goto(ui.url + f"/portal/admin/demo-instances/{instance_id}")
    page.click(f'#expiry-banner [data-extend="{instance_id}"]')
    expect(page.locator(".flash.ok")).to_contain_text("Extended")
    after = ui.http.get(f"/api/v1/demo-instances/{instance_id}").json()["expires_at"]
    assert after > before
    expect(page.locator("#expiry-banner")).to_have_count(0)  # 1.5 h left now: past 60 min
    page.goto(ui.url + "/portal/admin/audit")
    expect(
        page.locator(f'#audit tr[data-action="extend"]:has-text("{instance_id}")')
    ).to_have_count(1)
    expect(page.locator('#audit tr[data-action="webhook.create"]')).to_have_count(1)
    save_shot(page, "ui-audit.png")


def test_an_address_set_on_the_page_gets_the_owners_mail_through_smtp(
    ui: Server, browser: Browser, inbox: tuple[Inbox, int]
) -> None:
    page = signed_in(browser, ui)
    page.fill("#email-form input[name=email]", "ops@acme.example")
    page.click("#save-email")
    expect(page.locator(".flash.ok")).to_contain_text("E-mail address saved")
    made = ui.http.post("/api/v1/demo-instances", json={"duration_hours": 2})
    instance_id = made.json()["id"]
    ui.wait_status(instance_id, "ready")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        mails = [m for rcpt, m in inbox[0].messages if "ops@acme.example" in rcpt]
        mail = next(
            (m for m in mails if instance_id in m["Subject"] and "ready" in m["Subject"]), None
        )
        if mail is not None:
            break
        time.sleep(0.1)
    assert mail is not None, [m["Subject"] for _, m in inbox[0].messages]
    assert mail["From"] == "demos@acme.example"
    body = mail.get_payload()
    assert isinstance(body, str) and f"demo-{instance_id[5:]}.portal.localhost" in body
    assert "token" not in body
    page.goto(ui.url + "/portal/notifications")
    expect(
        page.locator(f'#mails tr[data-status="delivered"]:has-text("{instance_id}")')
    ).to_have_count(1)
