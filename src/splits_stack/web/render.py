"""Server-side rendering with Jinja2: one lazily built environment and a few display filters.

The environment is created on the first page render, not at start-up, so `/healthz` answers before
any template is compiled.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse

from splits_stack.services.pipeline import STAGE_LABELS

_TEMPLATES = Path(__file__).resolve().parent / "templates"


def money(value: Any) -> str:
    value = int(value or 0)
    if abs(value) >= 1_000_000:
        return f"${value / 1_000_000:.1f}M"
    return f"${value:,}"


def ago(value: datetime | None) -> str:
    if value is None:
        return "-"
    seconds = (datetime.now(UTC) - value).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = int(seconds // size)
            text = f"{n} {unit}{'s' if n != 1 else ''}"
            return f"in {text}" if future else f"{text} ago"
    return "just now"


def day(value: datetime | None) -> str:
    return value.strftime("%b %d, %Y") if value else "-"


def initials(name: str) -> str:
    parts = [p for p in name.split(" ") if p]
    return "".join(p[0] for p in parts[:2]).upper()


def hue(text: str) -> int:
    return sum(ord(c) * (i + 1) for i, c in enumerate(text)) % 360


@lru_cache(maxsize=1)
def environment() -> Any:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(
        loader=FileSystemLoader(str(_TEMPLATES)),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        money=money,
        ago=ago,
        day=day,
        initials=initials,
        hue=hue,
        stage=lambda s: STAGE_LABELS.get(s, s.replace("_", " ").title()),
        split=lambda s: [x for x in (s or "").split(", ") if x],
    )
    return env


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    from splits_stack.web import share, tour

    stack = request.app.state.stack
    shared = getattr(getattr(request.state, "viewer", None), "share", None)
    # The tour panel: a guided share's (web/share.py), or the rep's with every step and "Go"
    # (web/tour.py); base.html includes shared/tour_panel.html for either.
    if shared is not None:
        panel = share.tour_panel(request) if shared == "guided" else None
    else:
        panel = tour.panel(request)
    base = {
        # A prospect's share: no write controls (web/share.py).
        "read_only": shared is not None,
        "tour_panel": panel,
        "request": request,
        "user": getattr(request.state, "user", None),
        "site": request.app.state.site,
        "scenario": stack.scenario,
        "path": request.url.path,
        "flash": request.query_params.get("flash", ""),
    }
    # The end-of-demo banner (shared/ending_banner.html): None when nothing is known.
    signed_in = getattr(getattr(request.state, "viewer", None), "signed_in", False)
    base["lifetime"] = stack.lifetime.banner() if signed_in else None
    html = environment().get_template(template).render(**base, **context)
    return HTMLResponse(html, status_code=status_code)
