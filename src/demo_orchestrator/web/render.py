"""Templates and the helpers every page shares (formatting, the flash message, the base context)."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from demo_orchestrator.bootstrap import Orchestrator
from demo_orchestrator.web.auth import WebUser

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=str(HERE / "templates"))

FINAL = {"ready", "failed", "deleted", "rejected"}


def _when(stamp: str | None) -> str:
    if not stamp:
        return "-"
    return datetime.fromisoformat(stamp).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _money(value: float) -> str:
    return f"${value:,.2f}" if value >= 1 else f"${value:.4f}"


def _hours(value: float | None) -> str:
    """A duration as people say it: 30 min, 1 h, 2.5 h."""
    if not value:
        return "-"
    return f"{round(value * 60)} min" if value < 1 else f"{value:g} h"


templates.env.filters["when"] = _when
templates.env.filters["hours"] = _hours
templates.env.filters["money"] = _money


LIVE = {"pending", "provisioning", "ready", "sleeping"}


def minutes_left(orchestrator: Orchestrator) -> Callable[[dict[str, Any]], int | None]:
    """`left(instance)`: whole minutes before expiry once within the first warning lead time
    (`DEMO_EXPIRY_WARNING_MINUTES`), else None: what the expiry banners show."""
    settings = orchestrator.ctx.settings
    leads = [int(p) for p in settings.expiry_warning_minutes.split(",") if p.strip()]
    first, now = (max(leads) if leads else 0), orchestrator.ctx.clock()

    def left(instance: dict[str, Any]) -> int | None:
        expires = instance.get("expires_at")
        if not first or not expires or instance.get("status") not in LIVE:
            return None
        minutes = (datetime.fromisoformat(expires) - now).total_seconds() / 60
        return math.ceil(minutes) if 0 < minutes <= first else None

    return left


def page(
    request: Request,
    name: str,
    *,
    user: WebUser | None,
    orchestrator: Orchestrator,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    base = {
        "user": user,
        "csrf": user.csrf if user else "",
        "max_hours": orchestrator.ctx.settings.max_hours,
        "sales_max_hours": orchestrator.ctx.settings.sales_max_hours,
        "notice": request.query_params.get("notice"),
        "error": context.pop("error", None) or request.query_params.get("error"),
        "path": request.url.path,
        "final": FINAL,
        "expiring_in": minutes_left(orchestrator),
    }
    return templates.TemplateResponse(
        request, name, {**base, **context}, status_code=status_code, headers=SECURITY_HEADERS
    )


SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def back(path: str, **message: str) -> RedirectResponse:
    """Redirect after a form post (303), with a notice or an error shown on the next page."""
    query = urlencode({k: v for k, v in message.items() if v})
    return RedirectResponse(f"{path}?{query}" if query else path, status_code=303)
