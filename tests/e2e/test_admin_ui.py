"""The admin UI and the sales self-service portal, driven as a person would: Debian's chromium
through Playwright, against a real `democtl serve` running the reference stack."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.conftest import Server
from tests.e2e.shots import save_shot

ROOT = Path(__file__).resolve().parents[2]
ADMIN_PASSWORD = "quartz-lantern-meadow-7"
SALES_PASSWORD = "sales-pass-0123"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(
        tmp_path_factory.mktemp("ui"),
        DEMO_BLUEPRINT="splits-network",
        DEMO_BLUEPRINT_PATHS="[]",
        DEMO_ADMIN_PASSWORD=ADMIN_PASSWORD,
        DEMO_SALES_MAX_HOURS="1",
        DEMO_SALES_MAX_CONCURRENT="2",
    ).start()
    for name in ("sally", "sven"):
        answer = server.http.post(
            "/api/v1/users", json={"name": name, "role": "sales", "password": SALES_PASSWORD}
        )
        assert answer.status_code == 201, answer.text
    yield server
    server.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport={"width": 1300, "height": 900})
    yield ctx
    ctx.close()


def sign_in(page: Page, ui: Server, user: str, password: str, start: str = "/portal") -> None:
    page.goto(ui.url + start)
    expect(page).to_have_url(re.compile(r"/login"))
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("button.primary")


def shot(page: Page, name: str) -> None:
    save_shot(page, f"ui-{name}.png")


def test_anonymous_visitors_get_the_sign_in_page_and_wrong_passwords_fail(
    ui: Server, context: BrowserContext
) -> None:
    page = context.new_page()
    for path in ("/portal/admin/demo-instances", "/portal/demos", "/portal/admin/usage", "/portal"):
        page.goto(ui.url + path)
        expect(page).to_have_url(re.compile(r"/login\?next="))
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    # the form carries a login-CSRF token, matched on post against a pre-session cookie
    token = page.locator("form[action='/login'] input[name=csrf_token]")
    assert len(token.get_attribute("value") or "") >= 40
    assert any(c["name"] == "demo_login_csrf" and c["httpOnly"] for c in context.cookies())
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "not-the-password")
    page.click("button.primary")
    expect(page.locator(".flash.bad")).to_contain_text("Wrong user name or password")
    assert not [c for c in context.cookies() if c["name"] == "demo_session"]
    page.goto(ui.url + "/portal/admin/demo-instances")
    expect(page).to_have_url(re.compile(r"/login"))


def test_admin_creates_watches_opens_extends_resets_and_deletes(
    ui: Server, context: BrowserContext
) -> None:
    page = context.new_page()
    sign_in(page, ui, "admin", ADMIN_PASSWORD, "/portal/admin/demo-instances")
    expect(page).to_have_url(re.compile(r"/portal/admin/demo-instances$"))
    cookie = next(c for c in context.cookies() if c["name"] == "demo_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    page.click("#create-demo")
    page.check("input[name=scenario][value=agency]")
    page.fill("input[name=duration_hours]", "1.5")
    page.fill("input[name=company]", "Initech")
    page.fill("input[name=industry]", "Software")
    shot(page, "create-form")
    page.click("#submit-create")
    expect(page).to_have_url(re.compile(r"/portal/admin/demo-instances/demo-[a-z0-9]{6}"))
    instance_id = page.url.rsplit("/", 1)[1].split("?")[0]
    # the steps go green live, then the page shows the links
    expect(page.locator("#status-badge .badge")).to_have_text("ready", timeout=60_000)
    for step in ("database", "deploy", "routes", "health"):
        expect(page.locator(f'#steps [data-step="{step}"]')).to_have_class("st-done")
    shot(page, "detail")
    api_view = ui.get(instance_id)
    assert api_view["status"] == "ready" and api_view["prospect"]["company"] == "Initech"
    portal_url = api_view["urls"]["portal"]
    expect(page.locator('a[data-url="portal"]')).to_have_attribute("href", portal_url)

    # the one-click persona link signs in on the demo's portal
    with context.expect_page() as opened:
        page.locator("a[data-persona]").first.click()
    demo = opened.value
    demo.wait_for_load_state()
    assert demo.url.startswith(portal_url)
    persona = api_view["personas"][0]["name"]
    expect(demo.locator("body")).to_contain_text(persona)
    demo.close()

    before = ui.get(instance_id)["expires_at"]
    page.select_option("select[name=hours]", "1")
    page.click("#extend")
    expect(page.locator(".flash.ok")).to_contain_text("Extended by 1 h")
    assert ui.get(instance_id)["expires_at"] > before

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#reset")
    expect(page.locator(".flash.ok")).to_contain_text("Resetting")
    expect(page.locator("#status-badge .badge")).to_have_text("ready", timeout=60_000)
    # Then the page reloads itself to show the ready demo's actions: act on that page.
    expect(page.locator('#steps[data-state="ready"]')).to_be_attached(timeout=10_000)
    audit = [
        a["action"]
        for a in ui.http.get(f"/api/v1/demo-instances/{instance_id}/audit").json()["items"]
    ]
    assert audit[:3] == ["create", "extend", "reset"]

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#delete")
    # The form's redirect first (its notice), then the live badge: the change feed can push
    # `deleted` to the old page before the browser has followed the redirect.
    expect(page.locator(".flash.ok")).to_contain_text("Deleting")
    expect(page.locator("#status-badge .badge")).to_have_text("deleted", timeout=30_000)
    assert ui.get(instance_id)["status"] == "deleted"
    page.goto(ui.url + "/portal/admin/demo-instances")
    expect(page.locator(f'tr[data-id="{instance_id}"]')).to_have_count(0)  # ended: hidden
    page.check("#show-ended")
    page.click(".filters button")
    expect(page.locator(f'tr[data-id="{instance_id}"] .badge')).to_have_text("deleted")
    shot(page, "list")


def test_sales_requests_inside_and_outside_the_policy_and_admin_approves(
    ui: Server, browser: Browser
) -> None:
    sales_ctx = browser.new_context(viewport={"width": 1300, "height": 900})
    admin_ctx = browser.new_context(viewport={"width": 1300, "height": 900})
    try:
        sales = sales_ctx.new_page()
        sign_in(sales, ui, "sally", SALES_PASSWORD)
        expect(sales).to_have_url(re.compile(r"/portal/demos$"))

        def request(hours: str, company: str) -> str:
            sales.goto(f"{ui.url}/portal/demos")
            sales.click("#request-demo")
            sales.check("input[name=scenario][value=startup]")
            sales.fill("input[name=duration_hours]", hours)
            sales.fill("input[name=company]", company)
            sales.click("#submit-create")
            expect(sales).to_have_url(re.compile(r"/portal/demos/demo-[a-z0-9]{6}"))
            return sales.url.rsplit("/", 1)[1].split("?")[0]

        inside = request("1", "Umbrella")
        expect(sales.locator(".flash.ok")).to_contain_text("being created")
        assert ui.get(inside)["status"] in {"pending", "provisioning", "ready"}
        outside = request("3", "Hooli")
        expect(sales.locator(".flash.ok")).to_contain_text("waits for an admin")
        expect(sales.locator("#status-badge .badge")).to_have_text("pending approval")
        expect(sales.locator(".flash.warn")).to_contain_text("longer than the 1 h")
        assert ui.get(outside)["status"] == "pending_approval"
        ui.wait_status(inside, "ready", timeout=60)

        admin = admin_ctx.new_page()
        sign_in(admin, ui, "admin", ADMIN_PASSWORD, f"/portal/admin/demo-instances/{outside}")
        expect(admin).to_have_url(re.compile(outside))
        admin.click("#approve")
        expect(admin.locator(".flash.ok")).to_contain_text("Approved")

        sales.goto(f"{ui.url}/portal/demos")
        row = sales.locator(f'tr[data-id="{outside}"] .badge')
        expect(row).not_to_have_text("pending approval")
        ui.wait_status(outside, "ready", timeout=60)
        sales.goto(f"{ui.url}/portal/demos/{outside}")
        expect(sales.locator("#status-badge .badge")).to_have_text("ready")
        expect(sales.locator(".tour li").first).to_be_visible()  # the guided tour beside the links
        expect(sales.locator("a[data-persona]").first).to_be_visible()
        shot(sales, "sales-demos")

        # another user's demo and the admin pages are out of reach
        other = ui.create(scenario="startup", duration_hours=0.5)["id"]
        forbidden = sales.goto(f"{ui.url}/portal/demos/{other}")
        assert forbidden is not None and forbidden.status == 403
        expect(sales.locator(".problem")).to_contain_text("belongs to another user")
        assert sales.goto(f"{ui.url}/portal/admin/demo-instances").status == 403  # type: ignore[union-attr]
        sales.goto(f"{ui.url}/portal/demos")
        expect(sales.locator(f'tr[data-id="{other}"]')).to_have_count(0)
        refused = sales_ctx.request.post(
            f"{ui.url}/portal/demo-instances/{other}/delete",
            form={"csrf_token": _csrf(sales)},
            max_redirects=0,
        )
        assert refused.status == 303 and "another+user" in refused.headers["location"]
        assert ui.get(other)["desired"] == "ready"
    finally:
        sales_ctx.close()
        admin_ctx.close()


def test_a_form_post_without_the_csrf_token_is_refused(ui: Server, context: BrowserContext) -> None:
    page = context.new_page()
    sign_in(page, ui, "admin", ADMIN_PASSWORD)
    before = len(ui.http.get("/api/v1/demo-instances", params={"limit": 500}).json()["items"])
    body = {"scenario": "agency", "duration_hours": "1"}
    missing = context.request.post(f"{ui.url}/portal/admin/demo-instances", form=body)
    assert missing.status == 403 and "not sent from this site" in missing.text()
    forged = context.request.post(
        f"{ui.url}/portal/admin/demo-instances", form={**body, "csrf_token": "forged"}
    )
    assert forged.status == 403
    after = len(ui.http.get("/api/v1/demo-instances", params={"limit": 500}).json()["items"])
    assert after == before
    accepted = context.request.post(
        f"{ui.url}/portal/admin/demo-instances",
        form={**body, "csrf_token": _csrf(page)},
        max_redirects=0,
    )
    assert accepted.status == 303


def test_usage_page_shows_demo_hours_and_cost_and_the_csv_matches(
    ui: Server, context: BrowserContext
) -> None:
    ui.create(scenario="agency", duration_hours=1)
    page = context.new_page()
    sign_in(page, ui, "admin", ADMIN_PASSWORD, "/portal/admin/usage")
    expect(page).to_have_url(re.compile(r"/portal/admin/usage"))
    demos = int(page.locator("#total-demos").inner_text())
    hours = float(page.locator("#total-hours").inner_text())
    cost = float(page.locator("#total-cost").inner_text())
    assert demos >= 3 and hours > 0 and cost > 0
    expect(page.locator("svg.chart")).to_have_count(4)
    expect(page.locator("#by-owner")).to_contain_text("sally")
    shot(page, "usage")
    with page.expect_download() as download:
        page.click("#csv")
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert len(rows) == demos
    assert {"admin", "sally"} <= {r["owner"] for r in rows}
    # the CSV was made a moment after the page: cost only grows, by a hair
    assert sum(float(r["cost_usd"]) for r in rows) == pytest.approx(cost, abs=0.002)
    assert sum(float(r["demo_hours"]) for r in rows) == pytest.approx(hours, abs=0.01)
    for row in rows:
        assert float(row["cost_usd"]) == pytest.approx(float(row["demo_hours"]) * 0.16, abs=1e-3)


def _csrf(page: Page) -> str:
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    assert token
    return token
