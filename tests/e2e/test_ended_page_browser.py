"""The end of a demo as the prospect sees it, in chromium: the demo's own link, opened after the
rep deleted the demo, shows "This demo has ended" with the owner's name, a mailto link to their
e-mail and the prospect's company, on a desktop and on a 390 px phone without sideways scrolling.
Screenshots go to artifacts/screenshots/ended-page-*.png."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Browser

from tests.conftest import Server
from tests.e2e.shots import save_shot

OWNER_EMAIL = "morgan.owner@sales.example"


def test_the_demo_link_after_the_end_names_whom_to_contact(
    browser: Browser, make_server: Any, tmp_path: Path
) -> None:
    server: Server = make_server(tmp_path / "home")
    server.start()
    assert server.http.put("/api/v1/users/admin/email", json={"email": OWNER_EMAIL}).is_success
    demo = server.create(prospect={"company": "Acme Robotics"})
    server.wait_status(demo["id"], "ready")
    link = demo["urls"]["portal"] + "/"
    assert server.http.delete(f"/api/v1/demo-instances/{demo['id']}").status_code == 202
    server.wait_status(demo["id"], "deleted")

    for width, height, name in ((1280, 800, "desktop"), (390, 844, "phone")):
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        answer = page.goto(link)
        assert answer is not None and answer.status == 410
        assert page.title() == "This demo has ended"
        assert page.locator("h1").inner_text() == "This demo has ended"
        body = page.locator("main").inner_text()
        assert "Acme Robotics" in body and "was closed" in body
        assert page.locator(".contact-name").inner_text() == "admin"
        mail = page.locator("a.contact-email")
        assert mail.get_attribute("href") == f"mailto:{OWNER_EMAIL}"
        assert mail.inner_text() == OWNER_EMAIL
        overflow = page.evaluate(
            "document.scrollingElement.scrollWidth - document.scrollingElement.clientWidth"
        )
        assert overflow <= 0, (name, overflow)
        save_shot(page, f"ended-page-{name}.png")
        context.close()
