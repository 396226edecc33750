"""Repository of instances, steps and their event log: every query the engine and API need.

Callers pass a session from `Database.read()` / `Database.write()`, so one use case is one
transaction. Nothing here knows about HTTP or providers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from demo_orchestrator.domain.instance import (
    LIVE,
    Desired,
    Status,
    StepStatus,
)
from demo_orchestrator.domain.plan import PlannedStep
from demo_orchestrator.store.models import (
    AuditRow,
    EventRow,
    InstanceRow,
    StepRow,
)

# Serialises the transactions that add events on PostgreSQL, so events commit in id order and a
# reader of "every event after id N" never skips one that commits late with a lower id.
EVENTS_LOCK = 7_042_002
NOTIFY_CHANNEL = "demo_events"


def get_instance(session: Session, instance_id: str, *, lock: bool = False) -> InstanceRow | None:
    query = select(InstanceRow).where(InstanceRow.id == instance_id)
    if lock and session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.scalars(query).first()


def id_exists(session: Session, instance_id: str) -> bool:
    return session.scalar(select(func.count()).where(InstanceRow.id == instance_id)) != 0


class StepRecord(NamedTuple):
    """A read-only step, loaded as plain columns: lists of hundreds of demos read thousands."""

    instance_id: str
    name: str
    position: int
    provider: str | None
    status: str
    started_at: datetime | None
    finished_at: datetime | None
    retries: int
    error: str | None
    message: str | None


_STEP_COLUMNS = [getattr(StepRow, field) for field in StepRecord._fields]


def steps_of(session: Session, instance_ids: Sequence[str]) -> dict[str, list[StepRecord]]:
    out: dict[str, list[StepRecord]] = {i: [] for i in instance_ids}
    if not instance_ids:
        return out
    rows = session.execute(
        select(*_STEP_COLUMNS)
        .where(StepRow.instance_id.in_(instance_ids))
        .order_by(StepRow.instance_id, StepRow.position)
    )
    for row in rows:
        out[row[0]].append(StepRecord(*row))
    return out


def add_instance(session: Session, row: InstanceRow, plan: Sequence[PlannedStep]) -> None:
    """Store a new instance with the plan it will be provisioned by."""
    session.add(row)
    for position, step in enumerate(plan):
        session.add(
            StepRow(
                instance_id=row.id,
                name=step.name,
                position=position,
                provider=step.provider,
                status=StepStatus.PENDING.value,
                retries=0,
            )
        )


def step_rows(session: Session, instance_id: str) -> list[StepRow]:
    """The stored plan of one instance, in order, as rows to update."""
    return list(
        session.scalars(
            select(StepRow).where(StepRow.instance_id == instance_id).order_by(StepRow.position)
        )
    )


def count_live(session: Session, *, owner: str | None = None) -> int:
    """Live demos that count against quotas (warm-pool members count against none)."""
    query = select(func.count()).where(
        InstanceRow.status.in_([s.value for s in LIVE]), InstanceRow.pooled.is_(False)
    )
    if owner is not None:
        query = query.where(InstanceRow.owner == owner)
    return int(session.scalar(query) or 0)


def add_event(
    session: Session, instance_id: str, kind: str, data: dict[str, Any], at: datetime
) -> None:
    """Append to the change feed. On PostgreSQL the transaction takes the events lock first (so
    ids commit in order) and notifies listening replicas at commit."""
    if session.get_bind().dialect.name == "postgresql" and not session.info.get("events_locked"):
        session.execute(select(func.pg_advisory_xact_lock(EVENTS_LOCK)))
        session.execute(select(func.pg_notify(NOTIFY_CHANNEL, "")))
        session.info["events_locked"] = True
    session.add(EventRow(instance_id=instance_id, at=at, kind=kind, data=data))
    session.info["events_added"] = True


def events_since(session: Session, after_id: int, limit: int = 1000) -> list[EventRow]:
    """Every instance's events after `after_id`, in order: what the change feed reads."""
    return list(
        session.scalars(
            select(EventRow).where(EventRow.id > after_id).order_by(EventRow.id).limit(limit)
        )
    )


def last_event_id(session: Session) -> int:
    return int(session.scalar(select(func.max(EventRow.id))) or 0)


def events_after(session: Session, instance_id: str, after_id: int) -> list[EventRow]:
    return list(
        session.scalars(
            select(EventRow)
            .where(EventRow.instance_id == instance_id, EventRow.id > after_id)
            .order_by(EventRow.id)
            .limit(500)
        )
    )


def latest_event_id(session: Session, instance_id: str) -> int:
    return int(
        session.scalar(select(func.max(EventRow.id)).where(EventRow.instance_id == instance_id))
        or 0
    )


def add_audit(
    session: Session,
    *,
    at: datetime,
    actor: str,
    action: str,
    instance_id: str | None,
    source: str | None,
    detail: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditRow(
            at=at,
            actor=actor,
            action=action,
            instance_id=instance_id,
            source=source,
            detail=detail or {},
        )
    )


def audit_of(session: Session, instance_id: str) -> list[AuditRow]:
    return list(
        session.scalars(
            select(AuditRow).where(AuditRow.instance_id == instance_id).order_by(AuditRow.id)
        )
    )


class Work(NamedTuple):
    """An instance that needs the engine, and when it may be worked on next."""

    instance_id: str
    status: str
    desired: str
    next_attempt_at: datetime | None


def needing_work(session: Session, *, now: datetime) -> list[Work]:
    """Instances whose observed state differs from their desired one, or that have expired."""
    active = [Status.PENDING.value, Status.PROVISIONING.value, Status.DELETING.value]
    query = select(
        InstanceRow.id, InstanceRow.status, InstanceRow.desired, InstanceRow.next_attempt_at
    ).where(
        or_(
            InstanceRow.status.in_(active),
            # Booked: due at its lead time (next_attempt_at), or at once when it is cancelled.
            InstanceRow.status == Status.SCHEDULED.value,
            and_(
                InstanceRow.status == Status.READY.value, InstanceRow.desired != Desired.READY.value
            ),
            and_(
                InstanceRow.status.in_([Status.FAILED.value, Status.SLEEPING.value]),
                InstanceRow.desired == Desired.DELETED.value,
            ),
            and_(
                InstanceRow.status == Status.SLEEPING.value,
                InstanceRow.desired == Desired.READY.value,
            ),
            and_(
                InstanceRow.status.in_([s.value for s in LIVE]),
                InstanceRow.expires_at <= now,
            ),
        )
    )
    return [Work(*row) for row in session.execute(query.order_by(InstanceRow.created_at))]


def claim(
    session: Session, instance_id: str, *, owner: str, now: datetime, until: datetime
) -> bool:
    """Take the lease on an instance if it is free, expired or already ours."""
    result = session.execute(
        update(InstanceRow)
        .where(
            InstanceRow.id == instance_id,
            or_(
                InstanceRow.lease_owner.is_(None),
                InstanceRow.lease_owner == owner,
                InstanceRow.lease_until < now,
            ),
        )
        .values(lease_owner=owner, lease_until=until)
    )
    return bool(getattr(result, "rowcount", 0))


def release(session: Session, instance_id: str, *, owner: str) -> None:
    session.execute(
        update(InstanceRow)
        .where(InstanceRow.id == instance_id, InstanceRow.lease_owner == owner)
        .values(lease_owner=None, lease_until=None)
    )


def leases_held(session: Session) -> list[tuple[str, str]]:
    rows = session.execute(
        select(InstanceRow.id, InstanceRow.lease_owner).where(InstanceRow.lease_owner.is_not(None))
    )
    return [(r[0], r[1]) for r in rows if r[1] is not None]


def known_ids(session: Session, statuses: Iterable[str]) -> set[str]:
    return set(
        session.scalars(select(InstanceRow.id).where(InstanceRow.status.in_(list(statuses))))
    )


def usage_rows(session: Session, *, start: datetime, end: datetime) -> list[InstanceRow]:
    """Instances whose life overlaps [start, end)."""
    query = select(InstanceRow).where(
        InstanceRow.pooled.is_(False),  # billed to nobody until claimed
        InstanceRow.started_at.is_not(None),
        InstanceRow.started_at < end,
        or_(InstanceRow.ended_at.is_(None), InstanceRow.ended_at >= start),
    )
    return list(session.scalars(query))


def lock_quota(session: Session) -> None:
    """Serialise quota checks across replicas (SQLite's BEGIN IMMEDIATE already does)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(7_042_001)))


def ready_ids(session: Session) -> list[str]:
    return list(
        session.scalars(
            select(InstanceRow.id).where(
                InstanceRow.status == Status.READY.value, InstanceRow.desired == Desired.READY.value
            )
        )
    )


def recent_audit(session: Session, limit: int) -> list[AuditRow]:
    return list(session.scalars(select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)))
