"""Queries behind booked demos: overlapping bookings for quotas, measured provisioning times for
the lead time, the day's schedule and the starts reminders are due for."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from demo_orchestrator.domain.instance import LIVE, Desired, Status
from demo_orchestrator.store.models import InstanceRow

# Statuses that hold (or will hold) an environment during their window.
HOLDING = [s.value for s in LIVE] + [Status.SCHEDULED.value]


def count_overlapping(
    session: Session, *, start: datetime, end: datetime, owner: str | None = None
) -> int:
    """Demos whose life overlaps [start, end): live ones (from their creation or booked start to
    their expiry) and bookings not made yet. Warm-pool members count against nothing."""
    begins = func.coalesce(InstanceRow.starts_at, InstanceRow.created_at)
    query = select(func.count()).where(
        InstanceRow.status.in_(HOLDING),
        InstanceRow.pooled.is_(False),
        InstanceRow.expires_at > start,
        begins < end,
    )
    if owner is not None:
        query = query.where(InstanceRow.owner == owner)
    return int(session.scalar(query) or 0)


def provision_seconds(session: Session, scenario: str, *, limit: int = 50) -> list[float]:
    """How long the latest demos of a scenario took from the start of provisioning to ready."""
    query = (
        select(InstanceRow.started_at, InstanceRow.ready_at)
        .where(
            InstanceRow.scenario == scenario,
            InstanceRow.started_at.is_not(None),
            InstanceRow.ready_at.is_not(None),
        )
        .order_by(InstanceRow.ready_at.desc())
        .limit(limit)
    )
    took = [
        (ready - started).total_seconds()
        for started, ready in session.execute(query)
        if started is not None and ready is not None
    ]
    return [t for t in took if t > 0]


def booked_between(
    session: Session, *, start: datetime, end: datetime, owner: str | None = None
) -> Sequence[InstanceRow]:
    """Booked demos starting in [start, end), by start time (cancelled ones left out)."""
    query = select(InstanceRow).where(
        InstanceRow.starts_at >= start,
        InstanceRow.starts_at < end,
        InstanceRow.status.in_(HOLDING),
    )
    if owner is not None:
        query = query.where(InstanceRow.owner == owner)
    return session.scalars(query.order_by(InstanceRow.starts_at, InstanceRow.id)).all()


def starting_within(session: Session, *, now: datetime, until: datetime) -> Sequence[InstanceRow]:
    """Booked demos, not cancelled, whose start falls in (now, until]: `starting` reminders."""
    return session.scalars(
        select(InstanceRow).where(
            InstanceRow.starts_at > now,
            InstanceRow.starts_at <= until,
            InstanceRow.status.in_(HOLDING),
            InstanceRow.desired != Desired.DELETED.value,
        )
    ).all()
