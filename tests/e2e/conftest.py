"""The browser every UI test drives: Debian's chromium (never a browser download) through
Playwright's sync API, launched once per test module. Not once per session: while Playwright's
sync API is open its event loop runs in this thread, and later tests that call `anyio.run`
(the in-process ASGI ones) would fail with "already running"."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()
