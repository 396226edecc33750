"""Issue 15, item 6 in a real browser (Debian's chromium through Playwright) against a real
`democtl serve` running the reference stack: the admin list on a phone, "Copy" on plain-http
hosts, the creation notice following the live status, pending rows without a countdown, the
tour's deep links on the detail page, and a rep extending their own demo.

The browser maps `orchestrator.test` to 127.0.0.1 (`--host-resolver-rules`): a plain-http name
that is not loopback, so not a secure context and without `navigator.clipboard`, as a team's
internal host would be (127.0.0.1 and localhost count as secure in chromium)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.conftest import Server
from tests.e2e.conftest import ARGS, CHROMIUM
from tests.e2e.shots import save_shot

ADMIN_PASSWORD = "Copper-Lantern-Healing-4821"
REP_PASSWORD = "Amber-Orchard-Sailing-7315"
PLAIN_HTTP_NAME = "orchestrator.test"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(
        tmp_path_factory.mktemp("slips-ui"),
        DEMO_BLUEPRINT="splits-network",
        DEMO_BLUEPRINT_PATHS="[]",
        DEMO_ADMIN_PASSWORD=ADMIN_PASSWORD,
        DEMO_SALES_MAX_HOURS="1",
        DEMO_SALES_MAX_CONCURRENT="5",
        DEMO_MAX_HOURS="3",
        DEMO_ALLOWED_HOSTS=f"localhost,127.0.0.1,[::1],{PLAIN_HTTP_NAME}",
    ).start()
    for name in ("rita", "ravi"):
        made = server.http.post(
            "/api/v1/users", json={"name": name, "role": "sales", "password": REP_PASSWORD}
        )
        assert made.status_code == 201, made.text
    yield server
    server.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[*ARGS, f"--host-resolver-rules=MAP {PLAIN_HTTP_NAME} 127.0.0.1"],
        )
        yield chromium
        chromium.close()


def _context(browser: Browser, width: int = 1300, height: int = 900) -> BrowserContext:
    return browser.new_context(viewport={"width": width, "height": height})


def _sign_in(page: Page, base: str, user: str, password: str, start: str) -> None:
    page.goto(base + start)
    expect(page).to_have_url(re.compile(r"/login"))
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("button.primary")
    expect(page).not_to_have_url(re.compile(r"/login"))


def _as_rep(ui: Server, user: str, **body: Any) -> dict[str, Any]:
    token = ui.http.post("/api/v1/tokens", json={"user": user, "role": "sales"}).json()["token"]
    answer = httpx.post(
        f"{ui.url}/api/v1/demo-instances",
        headers={"Authorization": f"Bearer {token}"},
        json=body,
        trust_env=False,
    )
    assert answer.status_code == 202, answer.text
    return dict(answer.json())


def _fits(page: Page) -> tuple[int, int, list[str]]:
    """The page's scroll width, its visible width, and what sticks out (to say what to fix)."""
    return page.evaluate(
        """(() => {
          const root = document.scrollingElement, out = [];
          for (const el of document.querySelectorAll("body *")) {
            const box = el.getBoundingClientRect();
            const parent = el.parentElement.getBoundingClientRect();
            if (box.right > root.clientWidth + 1 && parent.right <= root.clientWidth + 1)
              out.push(el.tagName + "." + el.className + "#" + el.id + " " + Math.round(box.right));
          }
          return [root.scrollWidth, root.clientWidth, out];
        })()"""
    )


def test_the_admin_list_and_a_detail_page_fit_a_phone(ui: Server, browser: Browser) -> None:
    long_name = "Quarterly business review with the whole talent acquisition leadership team"
    ready = ui.create(
        scenario="agency",
        name=long_name,
        prospect={
            "company": "Consolidated Intercontinental Holdings",
            "industry": "Logistics and supply chain",
            "opportunity_id": "OPP-2026-000123456",
            "stage": "Negotiation",
        },
        notes="A long note " * 30,
    )
    _as_rep(ui, "rita", scenario="startup", duration_hours=2, name="waits for approval")
    ui.wait_status(ready["id"], "ready", timeout=60)
    context = _context(browser, 390, 844)
    try:
        page = context.new_page()
        _sign_in(page, ui.url, "admin", ADMIN_PASSWORD, "/portal/admin/demo-instances")
        expect(page.locator(f'tr[data-id="{ready["id"]}"]')).to_be_visible()
        width, client, wide = _fits(page)
        assert width <= client, f"the list page scrolls sideways at 390 px: {wide}"
        # one card per demo: no header row, each value labelled
        expect(page.locator("#instances thead")).to_be_hidden()
        expect(
            page.locator(f'tr[data-id="{ready["id"]}"] td[data-label="Prospect"]')
        ).to_contain_text("Consolidated Intercontinental Holdings")
        save_shot(page, "slips-list-390.png")
        page.goto(f"{ui.url}/portal/admin/demo-instances/{ready['id']}")
        expect(page.locator("#status-badge .badge")).to_have_text("ready")
        width, client, wide = _fits(page)
        assert width <= client, f"the detail page scrolls sideways at 390 px: {wide}"
        save_shot(page, "slips-detail-390.png")
    finally:
        context.close()


def _copy_buttons_on_a_ready_demo(ui: Server) -> dict[str, Any]:
    instance = ui.create(scenario="agency")
    return ui.wait_status(instance["id"], "ready", timeout=60)


RECORD_COPIES = """
window.__copied = [];
document.addEventListener("copy", () => {
  const active = document.activeElement;
  const text = active && "value" in active && active.value !== undefined
    ? active.value.substring(active.selectionStart, active.selectionEnd)
    : String(window.getSelection());
  window.__copied.push(text);
}, true);
"""


def test_copy_on_a_plain_http_host_copies_or_says_how(ui: Server, browser: Browser) -> None:
    instance = _copy_buttons_on_a_ready_demo(ui)
    portal = instance["urls"]["portal"]
    base = ui.url.replace("127.0.0.1", PLAIN_HTTP_NAME)
    context = _context(browser)
    try:
        context.add_init_script(RECORD_COPIES)
        page = context.new_page()
        _sign_in(
            page, base, "admin", ADMIN_PASSWORD, f"/portal/admin/demo-instances/{instance['id']}"
        )
        assert page.evaluate("[window.isSecureContext, typeof navigator.clipboard]") == [
            False,
            "undefined",
        ]
        button = page.locator(f'button[data-copy="{portal}"]')
        button.click()
        expect(button).to_have_text("Copied")
        assert page.evaluate("window.__copied") == [portal]  # the URL itself was copied

        # where copying is refused too: nothing claims success, the text waits selected
        page.evaluate("document.execCommand = () => false")
        rep = page.locator(f'button[data-copy="{instance["rep_login_url"]}"]')
        rep.click()
        expect(rep).to_have_text("Press Ctrl+C")
        field = page.locator("input.copy-manual")
        expect(field).to_have_value(instance["rep_login_url"])
        selected = page.evaluate(
            "(() => { const f = document.querySelector('input.copy-manual');"
            " return [document.activeElement === f, f.selectionStart, f.selectionEnd]; })()"
        )
        assert selected == [True, 0, len(instance["rep_login_url"])]
        save_shot(page, "slips-copy-plain-http.png")
    finally:
        context.close()


def test_copy_on_127_0_0_1_with_and_without_the_clipboard_api(ui: Server, browser: Browser) -> None:
    instance = _copy_buttons_on_a_ready_demo(ui)
    portal = instance["urls"]["portal"]
    with_api = _context(browser)
    without_api = _context(browser)
    try:
        with_api.grant_permissions(["clipboard-read", "clipboard-write"], origin=ui.url)
        page = with_api.new_page()
        _sign_in(
            page, ui.url, "admin", ADMIN_PASSWORD, f"/portal/admin/demo-instances/{instance['id']}"
        )
        page.locator(f'button[data-copy="{portal}"]').click()
        expect(page.locator(f'button[data-copy="{portal}"]')).to_have_text("Copied")
        assert page.evaluate("navigator.clipboard.readText()") == portal

        # the same host as a browser without the Clipboard API sees it
        without_api.add_init_script(
            "Object.defineProperty(Navigator.prototype, 'clipboard', {get: () => undefined});"
            + RECORD_COPIES
        )
        bare = without_api.new_page()
        _sign_in(
            bare, ui.url, "admin", ADMIN_PASSWORD, f"/portal/admin/demo-instances/{instance['id']}"
        )
        assert bare.evaluate("typeof navigator.clipboard") == "undefined"
        button = bare.locator(f'button[data-copy="{portal}"]')
        button.click()
        expect(button).to_have_text("Copied")
        assert bare.evaluate("window.__copied") == [portal]
    finally:
        with_api.close()
        without_api.close()


def test_the_creation_notice_follows_the_live_status(ui: Server, browser: Browser) -> None:
    context = _context(browser)
    try:
        page = context.new_page()
        _sign_in(page, ui.url, "admin", ADMIN_PASSWORD, "/portal/admin/demo-instances/new")
        page.check("input[name=scenario][value=agency]")
        page.fill("input[name=duration_hours]", "1")
        page.click("#submit-create")
        expect(page).to_have_url(re.compile(r"/portal/admin/demo-instances/demo-[a-z0-9]{6}"))
        instance_id = page.url.split("?")[0].rsplit("/", 1)[1]
        expect(page.locator("#status-badge .badge")).to_have_text("ready", timeout=60_000)
        expect(page.locator('#steps[data-state="ready"]')).to_be_attached(timeout=10_000)
        # gone, or saying it is ready: whichever way the page learnt it (render or live stream)
        expect(page.locator("main")).not_to_contain_text("being created")
        assert "notice=" not in page.url  # a reload cannot bring it back
        page.reload()
        expect(page.locator("#status-badge .badge")).to_have_text("ready")
        expect(page.locator("main")).not_to_contain_text("being created")
        assert ui.get(instance_id)["status"] == "ready"
    finally:
        context.close()


def test_a_waiting_request_shows_when_it_starts_not_a_countdown(
    ui: Server, browser: Browser
) -> None:
    waiting = _as_rep(ui, "ravi", scenario="startup", duration_hours=2)
    assert waiting["status"] == "pending_approval"
    context = _context(browser)
    try:
        page = context.new_page()
        _sign_in(page, ui.url, "admin", ADMIN_PASSWORD, "/portal/admin/demo-instances")
        row = page.locator(f'tr[data-id="{waiting["id"]}"]')
        expect(row).to_contain_text("starts on approval · 2 h")
        expect(row.locator("[data-expires]")).to_have_count(0)
        expect(row).not_to_contain_text("left")  # the script's countdown text
        page.goto(f"{ui.url}/portal/admin/demo-instances/{waiting['id']}")
        expect(page.locator(".meta")).to_contain_text("starts on approval")
        expect(page.locator(".meta [data-expires]")).to_have_count(0)
    finally:
        context.close()


def test_the_detail_page_opens_each_tour_step_as_its_persona(ui: Server, browser: Browser) -> None:
    instance = ui.wait_status(ui.create(scenario="agency")["id"], "ready", timeout=60)
    tour = instance["tour"]
    assert len(tour) >= 5
    context = _context(browser)
    try:
        page = context.new_page()
        _sign_in(
            page, ui.url, "admin", ADMIN_PASSWORD, f"/portal/admin/demo-instances/{instance['id']}"
        )
        links = page.locator("#tour a[data-step-link]")
        expect(links).to_have_count(len(tour))
        for n, step in enumerate(tour):
            link = links.nth(n)
            expect(link).to_have_text(f"Open step {step['step']} as {step['persona']}")
            expect(link).to_have_attribute("href", step["url"])
        assert page.locator("#tour").inner_text().count("Copy link") == len(tour)
        save_shot(page, "slips-tour-links.png")
        with context.expect_page() as opened:
            links.first.click()
        demo = opened.value
        demo.wait_for_load_state()
        assert demo.url.startswith(instance["urls"]["portal"])  # signed in on the demo
        demo.close()
    finally:
        context.close()


def test_a_rep_extends_their_own_demo_from_the_detail_page(ui: Server, browser: Browser) -> None:
    own = _as_rep(ui, "rita", scenario="startup", duration_hours=1)
    ui.wait_status(own["id"], "ready", timeout=60)
    context = _context(browser)
    try:
        page = context.new_page()
        _sign_in(page, ui.url, "rita", REP_PASSWORD, f"/portal/demos/{own['id']}")
        before = ui.get(own["id"])["expires_at"]
        page.select_option("select[name=hours]", "1")
        page.click("#extend")
        expect(page.locator(".flash.ok")).to_contain_text("Extended by 1 h")
        assert ui.get(own["id"])["expires_at"] > before
        page.select_option("select[name=hours]", "2")
        page.click("#extend")
        expect(page.locator(".flash.bad")).to_contain_text("3-hour cap")
        expect(page.locator(".flash.bad")).to_contain_text("at most")
        save_shot(page, "slips-rep-extend.png")
    finally:
        context.close()
