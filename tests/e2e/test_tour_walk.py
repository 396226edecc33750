"""The rep's tour walked in a real browser (Debian's chromium through Playwright) against a real
`democtl serve` with a demo of every scenario for a prospect: the rep's link, the in-demo tour
panel, "Go" on every step in order, and on each step's page as its persona the step's `expect`
from the blueprint (selector count, visible text, the prospect's name). Also: the panel is absent
for a persona's session alone and for a read-only share; the deep link `&step=N` lands on step N
as its persona (on the candidate host for a candidate's step); at 390 px the panel starts
collapsed, opens and closes from the keyboard. Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.sync_api import Browser, Page, expect

from tests.conftest import Server, splits_server
from tests.e2e.shots import save_shot

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
PROSPECT = {"company": "Acme Robotics", "industry": "Robotics"}
SCENARIOS = ("agency", "enterprise", "startup")
PANEL = "[data-rep-tour]"
# The page's own visible text and matches, the panel left out (its step titles would match).
PAGE_TEXT = """() => Array.from(document.body.children)
  .filter((e) => !e.matches('[data-rep-tour], script'))
  .map((e) => e.innerText).join('\\n')"""
PAGE_COUNT = """(selector) => Array.from(document.querySelectorAll(selector))
  .filter((e) => !e.closest('[data-rep-tour]')).length"""


def scenario_of(name: str) -> dict[str, Any]:
    found = yaml.safe_load((ROOT / "blueprints" / "splits-network.yaml").read_text())
    return next(s for s in found["scenarios"] if s["name"] == name)


def route_of(scenario: dict[str, Any], persona: str) -> str:
    people = {p["name"]: p for p in scenario["personas"]}
    return str(people[persona].get("route") or "portal")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    made = splits_server(tmp_path_factory.mktemp("tour-walk")).start()
    try:
        yield made
    finally:
        made.close()


@pytest.fixture(scope="module")
def demos(server: Server) -> dict[str, dict[str, Any]]:
    """One ready demo per scenario, made for the prospect."""
    made = {
        name: server.create(scenario=name, duration_hours=1, prospect=PROSPECT)
        for name in SCENARIOS
    }
    ready = {}
    for name, instance in made.items():
        ready[name] = server.wait_status(instance["id"], "ready", "failed", timeout=180)
        assert ready[name]["status"] == "ready", ready[name]
    return ready


def _open(browser: Browser, link: str, width: int = 1440, height: int = 900) -> Page:
    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    page.set_default_timeout(20_000)
    page.goto(link)
    return page


def _panel_open(page: Page) -> Any:
    panel = page.locator(PANEL)
    expect(panel, "no tour panel in the rep's session: did the demo get DEMO_TOUR?").to_have_count(
        1
    )
    if panel.get_attribute("open") is None:
        panel.locator("summary").click()
    expect(panel.locator("ol")).to_be_visible()
    return panel


def _on_step(page: Page, instance: dict[str, Any], route: str, step: dict[str, Any]) -> None:
    """The browser is on the step's page, on its host, as its persona."""
    host = re.escape(instance["urls"][route])
    path = re.escape(step["page"].split("#")[0])
    page.wait_for_url(re.compile(rf"^{host}{path}(\?[^#]*)?(#.*)?$"))
    expect(page.locator(".me")).to_contain_text(step["persona"])


def _unmet(page: Page, want: dict[str, Any]) -> list[str]:
    """What of `expect` (contract 1) this page does not show."""
    unmet = []
    text = page.evaluate(PAGE_TEXT)
    if "selector" in want:
        count = page.evaluate(PAGE_COUNT, want["selector"])
        if count < want.get("min_count", 1):
            unmet.append(f"{want['selector']!r}: {count} < {want.get('min_count', 1)}")
    if "text" in want and want["text"] not in text:
        unmet.append(f"text {want['text']!r} not on the page")
    if want.get("prospect") and PROSPECT["company"] not in text:
        unmet.append(f"prospect {PROSPECT['company']!r} not on the page")
    return unmet


@pytest.mark.parametrize("name", SCENARIOS)
def test_the_rep_walks_every_step_through_the_panel(
    name: str, demos: dict[str, dict[str, Any]], browser: Browser
) -> None:
    instance = demos[name]
    scenario = scenario_of(name)
    page = _open(browser, instance["rep_login_url"])
    page.wait_for_url(re.compile(r"/personas$"))
    _panel_open(page)
    if name == "agency":
        save_shot(page, "tour-panel-picker.png")
    failures = []
    for number, step in enumerate(scenario["tour"], start=1):
        assert "expect" in step, f"{name} step {number} has no expect"
        panel = _panel_open(page)
        panel.locator(f'[data-tour-go="{number}"]').click()
        _on_step(page, instance, route_of(scenario, step["persona"]), step)
        current = page.locator(f'{PANEL} [data-tour-item="{number}"]')
        expect(current).to_have_attribute("aria-current", "step")
        expect(page.locator(f'{PANEL} [aria-current="step"]')).to_have_count(1)
        unmet = _unmet(page, step["expect"])
        if unmet:
            failures.append(f"{name} step {number} ({step['persona']} {step['page']}): {unmet}")
        if name == "agency" and number == 1:
            _panel_open(page)
            save_shot(page, "tour-panel-desktop.png")
    page.context.close()
    assert not failures, "\n".join(failures)


def test_the_deep_link_lands_on_the_step_as_its_persona(
    demos: dict[str, dict[str, Any]], browser: Browser
) -> None:
    instance = demos["agency"]
    scenario = scenario_of("agency")
    for number, step in enumerate(scenario["tour"], start=1):
        if number != 2 and route_of(scenario, step["persona"]) != "candidate":
            continue  # the second step, and the candidate's (it lands on the other host)
        # The instance's own deep link when it lists its tour (contract 3), else the same by hand.
        listed = instance.get("tour") or []
        link = f"{instance['rep_login_url']}&step={number}"
        if listed:
            assert listed[number - 1]["url"] == link, listed[number - 1]
        page = _open(browser, link)
        _on_step(page, instance, route_of(scenario, step["persona"]), step)
        expect(page.locator(f'{PANEL} [data-tour-item="{number}"]')).to_have_attribute(
            "aria-current", "step"
        )
        page.context.close()


def test_no_panel_for_a_persona_alone(demos: dict[str, dict[str, Any]], browser: Browser) -> None:
    for instance in demos.values():
        persona = next(p for p in instance["personas"] if p["role"] != "candidate")
        page = _open(browser, persona["login_url"])
        expect(page.locator(".me")).to_contain_text(persona["name"])
        expect(page.locator(PANEL)).to_have_count(0)
        page.context.close()


def test_at_390px_the_panel_starts_collapsed_and_works_from_the_keyboard(
    demos: dict[str, dict[str, Any]], browser: Browser
) -> None:
    instance = demos["startup"]
    page = _open(browser, f"{instance['rep_login_url']}&step=1", width=390, height=844)
    _on_step(page, instance, "portal", scenario_of("startup")["tour"][0])
    panel = page.locator(PANEL)
    expect(panel).not_to_have_attribute("open", "")
    box = panel.bounding_box()
    assert box is not None
    # Collapsed, it is one small button in a corner: the first screen stays the page's.
    assert box["height"] <= 60 and box["width"] <= 390 / 2, box
    save_shot(page, "tour-panel-390-collapsed.png")
    panel.locator("summary").focus()
    page.keyboard.press("Enter")
    expect(panel.locator("ol")).to_be_visible()
    opened = panel.bounding_box()
    assert opened is not None and opened["x"] >= 0 and opened["x"] + opened["width"] <= 390
    save_shot(page, "tour-panel-390.png")
    page.keyboard.press("Escape")
    expect(panel.locator("ol")).to_be_hidden()
    expect(panel.locator("summary")).to_be_focused()
    page.context.close()


def test_no_panel_for_a_read_only_share(
    server: Server, demos: dict[str, dict[str, Any]], browser: Browser
) -> None:
    instance = demos["agency"]
    made = server.http.post(
        f"/api/v1/demo-instances/{instance['id']}/share", json={"mode": "read_only"}
    )
    assert made.status_code == 201, made.text
    ready = server.wait_status(instance["id"], "ready", "failed", timeout=60)
    assert ready["status"] == "ready", ready
    page = _open(browser, made.json()["url"])
    expect(page.locator("[data-shared]")).to_be_visible()
    expect(page.locator(PANEL)).to_have_count(0)
    expect(page.locator("[data-tour-panel]")).to_have_count(0)
    page.goto(instance["urls"]["portal"] + "/jobs/1")
    expect(page.locator("[data-board]")).to_be_visible()
    expect(page.locator(PANEL)).to_have_count(0)
    page.context.close()
