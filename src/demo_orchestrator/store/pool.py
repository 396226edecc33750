"""Queries of the warm pool: its targets and counters, its members, and the claim."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from demo_orchestrator.domain.instance import LIVE, Desired, Status
from demo_orchestrator.store.models import InstanceRow, WarmPoolRow


def pool_targets(session: Session) -> list[WarmPoolRow]:
    return list(session.scalars(select(WarmPoolRow).order_by(WarmPoolRow.scenario)))


def pool_row(session: Session, blueprint: str, scenario: str) -> WarmPoolRow:
    """The pool's row for a scenario, made (target 0) when missing."""
    row = session.get(WarmPoolRow, (blueprint, scenario))
    if row is None:
        row = WarmPoolRow(blueprint=blueprint, scenario=scenario, target=0, claims=0, misses=0)
        session.add(row)
        session.flush()
    return row


def pool_members(session: Session) -> list[tuple[str, str, str, str, str]]:
    """(id, blueprint, scenario, status, desired) of every live warm-pool member."""
    rows = session.execute(
        select(
            InstanceRow.id,
            InstanceRow.blueprint,
            InstanceRow.scenario,
            InstanceRow.status,
            InstanceRow.desired,
        )
        .where(
            InstanceRow.pooled.is_(True),
            InstanceRow.status.in_([s.value for s in LIVE] + [Status.FAILED.value]),
        )
        .order_by(InstanceRow.created_at)
    )
    return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]


def claimable(session: Session, blueprint: str, scenario: str) -> InstanceRow | None:
    """The oldest ready member of the pool for a scenario, locked for this transaction (other
    replicas skip it on PostgreSQL; SQLite's write lock already serialises claims)."""
    query = (
        select(InstanceRow)
        .where(
            InstanceRow.pooled.is_(True),
            InstanceRow.blueprint == blueprint,
            InstanceRow.scenario == scenario,
            InstanceRow.status == Status.READY.value,
            InstanceRow.desired == Desired.READY.value,
        )
        .order_by(InstanceRow.created_at)
        .limit(1)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return session.scalars(query).first()


def count_in_progress(session: Session) -> int:
    """Demos people asked for that are still being made (the pool refills only when none are)."""
    return int(
        session.scalar(
            select(func.count()).where(
                InstanceRow.pooled.is_(False),
                InstanceRow.status.in_([Status.PENDING.value, Status.PROVISIONING.value]),
            )
        )
        or 0
    )
