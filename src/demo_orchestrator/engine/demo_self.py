"""What a running demo learns about itself: `GET /api/v1/demo-instances/{id}/self`.

The stack shows a banner from the first expiry warning lead time, names the prospect, and after
the end says whom to contact; all of that changes while it runs (an extend, a warm-pool claim's
personalize step) and must reach it without a restart, in both runtimes. So the demo asks, with
its own credential (the activity token, engine/activity_log.py): at start, on every reload, and
at most every 30 s while pages are viewed.

Only what the demo's own pages may show leaves here: its status and expiry, the lead times, the
prospect's company and industry, and its owner's name and e-mail (whom the prospect contacts).
Never a secret, a URL with a token, the rep's notes or the CRM fields.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from demo_orchestrator.domain.instance import Status
from demo_orchestrator.settings import Settings
from demo_orchestrator.store import accounts
from demo_orchestrator.store.models import InstanceRow

ENDED = {Status.DELETED.value, Status.DELETING.value}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def warning_minutes(settings: Settings) -> list[int]:
    """DEMO_EXPIRY_WARNING_MINUTES as numbers, the earliest warning first (15, 5)."""
    parts = [p for p in settings.expiry_warning_minutes.split(",") if p.strip()]
    return sorted({int(p) for p in parts}, reverse=True)


def ended_status(row: InstanceRow, now: datetime) -> str | None:
    """`expired` or `deleted` for a demo that ended (or is being torn down), else None.

    Expired: it ended at or after its expiry time (only the expiry ends a demo then); deleted:
    someone ended it before."""
    if row.status not in ENDED:
        return None
    ended = row.ended_at or now
    return "expired" if ended >= row.expires_at else "deleted"


def public_status(row: InstanceRow, now: datetime) -> str:
    return ended_status(row, now) or row.status


def owner_contact(session: Session, owner: str) -> dict[str, str | None] | None:
    """The owner's name and e-mail, or None when the owner is no person (the warm pool)."""
    user = accounts.get_user(session, owner)
    if user is None:
        return None
    return {"name": user.name, "email": user.email}


def prospect_of(row: InstanceRow) -> dict[str, str | None] | None:
    prospect = row.prospect or {}
    if not prospect.get("company"):
        return None
    return {"company": str(prospect["company"]), "industry": prospect.get("industry") or None}


def self_view(
    settings: Settings,
    row: InstanceRow,
    contact: dict[str, str | None] | None,
    *,
    now: datetime,
) -> dict[str, Any]:
    return {
        "id": row.id,
        "status": public_status(row, now),
        "expires_at": _iso(row.expires_at),
        "warning_minutes": warning_minutes(settings),
        "prospect": prospect_of(row),
        "contact": contact,
        "now": _iso(now),
    }
