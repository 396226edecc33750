"""The demo on a phone (390 x 844, chromium): every page of every scenario fits the screen's width,
and the navigation does not fill the first screen (a rep opening the demo on a phone mid-call sees
the page, not a sidebar)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from splits_stack.db import make_engine
from splits_stack.devserver import StackProcess
from splits_stack.seed.run import seed
from splits_stack.services.identity import rep_token
from tests.e2e.shots import save_shot

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
SCENARIOS = {
    # scenario: (seed, portal persona, pages)
    "agency": (
        42,
        "priya.nair@client.example",
        ["/", "/jobs", "/jobs/1", "/candidates", "/recruiters", "/placements", "/outbox"],
    ),
    "enterprise": (
        7,
        "dana.whitfield@northwind.example",
        ["/", "/jobs", "/departments", "/approvals", "/reports", "/placements"],
    ),
    "startup": (
        11,
        "alex.morgan@lumenlabs.example",
        ["/", "/jobs", "/jobs/1", "/candidates", "/outbox"],
    ),
}


@pytest.fixture(scope="module")
def demos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, StackProcess]]:
    started: dict[str, StackProcess] = {}
    try:
        for name, (number, _persona, _pages) in SCENARIOS.items():
            folder = tmp_path_factory.mktemp(f"mobile-{name}")
            url = f"sqlite:///{folder / 'demo.db'}"
            engine = make_engine(url)
            seed(engine, name, number)
            engine.dispose()
            stack = StackProcess(url, log_path=folder / "stack.log")
            instance = f"demo-phone{name[:3]}"
            stack.env = {
                "DEMO_INSTANCE_ID": instance,
                "DEMO_SCENARIO": name,
                "DEMO_LOGIN_SECRET": "phone-secret",
                "DEMO_URL_PORTAL": stack.url("portal", instance),
                "DEMO_URL_CANDIDATE": stack.url("candidate", instance),
                "DEMO_PROSPECT_COMPANY": "Acme Robotics",
            }
            stack.start()
            started[name] = stack
        yield started
    finally:
        for stack in started.values():
            stack.stop()


def _fits(page: Any) -> dict[str, float]:
    return page.evaluate(
        """() => {
          const doc = document.scrollingElement;
          const nav = document.querySelector('.sidebar, .cand-top');
          return {scroll: doc.scrollWidth, client: doc.clientWidth,
                  nav: nav ? nav.getBoundingClientRect().height : 0,
                  screen: window.innerHeight};
        }"""
    )


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_every_page_fits_a_phone(
    browser: Any, demos: dict[str, StackProcess], scenario: str
) -> None:
    stack = demos[scenario]
    _number, persona, pages = SCENARIOS[scenario]
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    token = rep_token(stack.env["DEMO_LOGIN_SECRET"], stack.env["DEMO_INSTANCE_ID"])
    page.goto(stack.env["DEMO_URL_PORTAL"] + f"/auth/rep-login?token={token}")
    page.wait_for_url(re.compile(r"/personas$"))
    page.click(f'a[data-persona="{persona}"]')
    page.wait_for_load_state()
    problems = []
    for path in pages:
        page.goto(stack.env["DEMO_URL_PORTAL"] + path)
        size = _fits(page)
        if size["scroll"] > size["client"] + 1:
            problems.append(
                f"{path}: page is {size['scroll']} px wide on a {size['client']} px screen"
            )
        if size["nav"] > 0.3 * size["screen"]:
            problems.append(
                f"{path}: the navigation takes {size['nav']:.0f} of {size['screen']} px"
            )
    if scenario == "agency":
        page.goto(stack.env["DEMO_URL_PORTAL"] + "/jobs/1")
        save_shot(page, "stack-phone-job.png")
        # The candidate's site, through the rep's picker as the candidate persona.
        page.goto(stack.env["DEMO_URL_PORTAL"] + "/personas")
        page.click('a[data-persona="sam.carter@mail.example"]')
        page.wait_for_url(re.compile(r"\.candidate\.localhost:\d+/"))
        for path in ["/", "/applications", "/jobs/1"]:
            page.goto(stack.env["DEMO_URL_CANDIDATE"] + path)
            size = _fits(page)
            if size["scroll"] > size["client"] + 1:
                problems.append(
                    f"candidate {path}: {size['scroll']} px wide on {size['client']} px"
                )
            if size["nav"] > 0.3 * size["screen"]:
                problems.append(f"candidate {path}: the navigation takes {size['nav']:.0f} px")
    assert not problems, problems
    context.close()
