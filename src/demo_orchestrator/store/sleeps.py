"""Queries of sleep and idleness: the router's last requests, each sleep of an instance."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from demo_orchestrator.domain.instance import Desired, Status
from demo_orchestrator.store.models import InstanceRow, SleepRow


def idle_ids(session: Session, *, quiet_since: datetime) -> list[str]:
    """Ready demos that nobody asked to keep awake and that got no request since `quiet_since`."""
    last = func.coalesce(InstanceRow.last_request_at, InstanceRow.ready_at)
    return list(
        session.scalars(
            select(InstanceRow.id).where(
                InstanceRow.status == Status.READY.value,
                InstanceRow.desired == Desired.READY.value,
                InstanceRow.pooled.is_(False),  # the pool is kept awake for instant claims
                last < quiet_since,
            )
        )
    )


def record_requests(session: Session, seen: dict[str, datetime]) -> None:
    """The router's latest request per demo (for idle sleep); never moves a date backwards."""
    for instance_id, at in seen.items():
        session.execute(
            update(InstanceRow)
            .where(
                InstanceRow.id == instance_id,
                or_(InstanceRow.last_request_at.is_(None), InstanceRow.last_request_at < at),
            )
            .values(last_request_at=at)
        )


def start_sleep(session: Session, instance_id: str, at: datetime) -> None:
    session.add(SleepRow(instance_id=instance_id, started_at=at, ended_at=None))


def end_sleep(session: Session, instance_id: str, at: datetime) -> None:
    session.execute(
        update(SleepRow)
        .where(SleepRow.instance_id == instance_id, SleepRow.ended_at.is_(None))
        .values(ended_at=at)
    )


def sleeps_of(
    session: Session, instance_ids: Sequence[str], *, start: datetime, end: datetime
) -> dict[str, list[tuple[datetime, datetime | None]]]:
    """Each instance's sleeps that overlap [start, end)."""
    out: dict[str, list[tuple[datetime, datetime | None]]] = {i: [] for i in instance_ids}
    if not instance_ids:
        return out
    rows = session.execute(
        select(SleepRow.instance_id, SleepRow.started_at, SleepRow.ended_at).where(
            SleepRow.instance_id.in_(list(instance_ids)),
            SleepRow.started_at < end,
            or_(SleepRow.ended_at.is_(None), SleepRow.ended_at > start),
        )
    )
    for instance_id, started, ended in rows:
        out[instance_id].append((started, ended))
    return out
