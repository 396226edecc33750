"""Screenshots are evidence for people (artifacts/screenshots/), not assertions: a page screenshot
under a loaded 2-core machine can stall in chromium's compositor (a full-page capture of a page
with a live event stream waited past 30 s once in CI while every assertion had passed). So a
capture gets a bounded wait, one retry of the visible viewport, and then a warning instead of
failing the test whose assertions already hold."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from playwright.sync_api import TimeoutError as PlaywrightTimeout

SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


def save_shot(page: Any, name: str) -> Path | None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / name
    last: Exception | None = None
    for full_page in (True, False):
        try:
            page.screenshot(
                path=str(path), full_page=full_page, animations="disabled", timeout=15_000
            )
            return path
        except PlaywrightTimeout as error:  # the page itself is still checked by the caller
            last = error
    warnings.warn(f"screenshot {name} not taken: {last}", stacklevel=2)
    return None
