"""Queries of the engagement a demo's stack reported (`demo_activity`).

Counts are added with one INSERT ... ON CONFLICT DO UPDATE per row (SQLite and PostgreSQL both
have it), so reports of the same minute from two reload generations of a stack, or to two
orchestrator replicas, add up instead of failing on the unique key.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from demo_orchestrator.store.models import ActivityRow


@dataclass(frozen=True)
class Visit:
    """One aggregated count to add."""

    instance_id: str
    at: datetime
    persona: str
    route: str
    path: str
    tour_step: int
    requests: int


def add(session: Session, visits: Iterable[Visit]) -> int:
    dialect = session.get_bind().dialect.name
    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    added = 0
    for visit in visits:
        statement = insert(ActivityRow).values(
            instance_id=visit.instance_id,
            at=visit.at,
            persona=visit.persona,
            route=visit.route,
            path=visit.path,
            tour_step=visit.tour_step,
            requests=visit.requests,
        )
        excluded = statement.excluded
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["instance_id", "at", "persona", "route", "path"],
                set_={
                    "requests": ActivityRow.requests + excluded.requests,
                    # The first tour step seen on this path in this minute stays.
                    "tour_step": func.coalesce(
                        func.nullif(ActivityRow.tour_step, 0), excluded.tour_step
                    ),
                },
            )
        )
        added += visit.requests
    return added


def page(
    session: Session, instance_id: str, *, limit: int, after: tuple[datetime, int] | None
) -> list[ActivityRow]:
    """Oldest first, keyset-paged by (minute, id)."""
    query = select(ActivityRow).where(ActivityRow.instance_id == instance_id)
    if after is not None:
        at, row_id = after
        query = query.where(
            (ActivityRow.at > at) | ((ActivityRow.at == at) & (ActivityRow.id > row_id))
        )
    return list(session.scalars(query.order_by(ActivityRow.at, ActivityRow.id).limit(limit)))


def of_instances(session: Session, instance_ids: list[str]) -> list[ActivityRow]:
    if not instance_ids:
        return []
    return list(
        session.scalars(
            select(ActivityRow)
            .where(ActivityRow.instance_id.in_(instance_ids))
            .order_by(ActivityRow.at, ActivityRow.id)
        )
    )
