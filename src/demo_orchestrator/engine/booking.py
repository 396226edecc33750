"""Demos booked for a meeting: when to make them, whether a booking can be honoured, hand-off.

A booked demo is stored `scheduled` with nothing made. Its `next_attempt_at` is the start minus a
lead time measured from how long its scenario took to provision lately (p95 x a safety factor,
never under a floor; a default before there is any history), so the reconciler's ordinary
due-date mechanism hands it to `pending` in time for it to be `ready` at the start; no thread
polls for bookings. A booking whose start is within the lead time is made at once (and may be
claimed from the warm pool then). Everything that could stop it at its start (the cap, quotas,
the sales policy) is checked when it is booked, against the bookings overlapping its window.
"""

from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from demo_orchestrator.domain.errors import BadRequest, Forbidden, QuotaExceeded
from demo_orchestrator.domain.instance import Desired, Status
from demo_orchestrator.engine.changes import SYSTEM, Audit, apply_change
from demo_orchestrator.engine.context import Context
from demo_orchestrator.engine.invitation import invitation
from demo_orchestrator.engine.views import demo_urls
from demo_orchestrator.settings import Settings
from demo_orchestrator.store import bookings as store
from demo_orchestrator.store import repository as repo
from demo_orchestrator.store.models import InstanceRow

MAX_AHEAD = timedelta(days=30)


def checked_start(starts_at: datetime, *, now: datetime, field: str = "starts_at") -> datetime:
    """A booking's start: an absolute time (with its offset), in the future, at most 30 days on."""
    if starts_at.tzinfo is None or starts_at.utcoffset() is None:
        raise BadRequest(f"{field} must carry a UTC offset, e.g. 2026-12-01T14:00:00+01:00 or ...Z")
    if starts_at <= now:
        raise BadRequest(f"{field} {starts_at.isoformat()} is in the past; book a future time")
    if starts_at > now + MAX_AHEAD:
        raise BadRequest(
            f"{field} {starts_at.isoformat()} is more than 30 days ahead; book at most 30 days "
            "in advance"
        )
    return starts_at


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def lead_time(session: Session, settings: Settings, scenario: str) -> timedelta:
    """How long before its start a booked demo of this scenario is provisioned."""
    took = store.provision_seconds(session, scenario)
    seconds = (
        p95(took) * settings.booking_lead_factor if took else settings.booking_lead_default_seconds
    )
    return timedelta(seconds=max(settings.booking_lead_floor_seconds, seconds))


def check_honourable(
    session: Session,
    settings: Settings,
    *,
    owner: str,
    role: str,
    start: datetime,
    hours: float,
    booked: bool,
) -> None:
    """Refuse (now) what could not be honoured at the start: the quotas and, for a booking, the
    sales policy, counted over the demos and bookings overlapping [start, start + hours)."""
    end = start + timedelta(hours=hours)
    when = f"at {start.isoformat()}" if booked else "now"
    overlapping = store.count_overlapping(session, start=start, end=end)
    if overlapping >= settings.max_instances:
        raise QuotaExceeded(
            f"{overlapping} demos and bookings already hold the orchestrator's maximum of "
            f"{settings.max_instances} {when}; pick another time, cancel one or raise "
            "DEMO_MAX_INSTANCES"
        )
    mine = store.count_overlapping(session, start=start, end=end, owner=owner)
    if mine >= settings.max_instances_per_owner:
        raise QuotaExceeded(
            f"you already have {mine} demos or bookings {when}, your maximum of "
            f"{settings.max_instances_per_owner}; pick another time or cancel one"
        )
    if not booked or role != "sales":
        return
    # A sales booking outside the policy is refused rather than left waiting for approval:
    # an approval that comes after the meeting would be worthless, and an admin can book it.
    if hours > settings.sales_max_hours:
        raise Forbidden(
            f"a booking of {hours:g} h is longer than the {settings.sales_max_hours:g} h sales "
            "users may book on their own; book a shorter demo or ask an admin to book it"
        )
    if mine >= settings.sales_max_concurrent:
        raise Forbidden(
            f"you already have {mine} demos or bookings {when}, the "
            f"{settings.sales_max_concurrent} sales users may hold at once; pick another time"
        )


def hand_off(ctx: Context, instance_id: str, now: datetime) -> bool:
    """A scheduled demo whose lead time came: `pending`, so the runner makes it. One whose
    window passed unmade (the engine was down) is deleted. True when it is now to be made."""
    with ctx.db.write() as session:
        row = repo.get_instance(session, instance_id, lock=True)
        if row is None or row.status != Status.SCHEDULED.value:
            return row is not None and row.status == Status.PENDING.value
        if row.desired == Desired.DELETED.value or row.expires_at <= now:
            apply_change(
                session,
                row,
                now=now,
                status=Status.DELETED,
                desired=Desired.DELETED.value,
                ended_at=now,
                secrets=None,
                next_attempt_at=None,
                event=("expired", {"expires_at": row.expires_at.isoformat()}),
                audit=Audit(SYSTEM, "expire", detail={"reason": "the booking passed unmade"}),
            )
            return False
        if row.next_attempt_at is not None and row.next_attempt_at > now:
            return False
        apply_change(
            session,
            row,
            now=now,
            status=Status.PENDING,
            next_attempt_at=None,
            audit=Audit(SYSTEM, "provision", detail={"reason": "the booking's lead time came"}),
        )
    return True


def reminder_leads(settings: Settings) -> list[int]:
    return [int(p) for p in settings.start_reminder_minutes.split(",") if p.strip()]


def invitation_ics(ctx: Context, view: dict[str, Any], row: InstanceRow, tz: ZoneInfo) -> bytes:
    """The .ics of a demo: from its start (or creation) to its expiry, with its URLs (known
    before it is made) and its personas' names; never a sign-in link."""
    blueprint = ctx.blueprints.get(row.blueprint)
    urls = demo_urls(ctx.settings, blueprint, row.id) if blueprint is not None else {}
    scenario = blueprint.scenario(row.scenario) if blueprint is not None else None
    return invitation(
        view,
        start=row.starts_at or row.created_at,
        end=row.expires_at,
        stamp=row.created_at,
        tz=tz,
        urls=urls,
        persona_names=[p.name for p in scenario.personas] if scenario is not None else [],
        reminders=reminder_leads(ctx.settings) if row.starts_at is not None else [],
    )


def day_schedule(
    ctx: Context, *, owner: str | None, day: date, tz: ZoneInfo
) -> list[dict[str, Any]]:
    """The booked demos starting on `day` in zone `tz`, by start time (only `owner`'s if set)."""
    begin = datetime.combine(day, time(0), tzinfo=tz)
    finish = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    with ctx.db.read() as session:
        rows = store.booked_between(session, start=begin, end=finish, owner=owner)
        return [
            {
                "id": row.id,
                "name": row.name,
                "owner": row.owner,
                "scenario": row.scenario,
                "status": row.status,
                "prospect": (row.prospect or {}).get("company"),
                "starts": row.starts_at.astimezone(tz) if row.starts_at else None,
                "ends": row.expires_at.astimezone(tz),
            }
            for row in rows
        ]
