"""Queries of webhooks, their deliveries and the notifier's cursor."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from demo_orchestrator.store.models import (
    DeliveryRow,
    InstanceRow,
    NotifyCursorRow,
    UserRow,
    WebhookRow,
)


def live_webhooks(session: Session, owner: str | None = None) -> list[WebhookRow]:
    query = select(WebhookRow).where(WebhookRow.deleted_at.is_(None))
    if owner is not None:
        query = query.where(WebhookRow.owner == owner)
    return list(session.scalars(query.order_by(WebhookRow.created_at, WebhookRow.id)))


def webhook(session: Session, webhook_id: str) -> WebhookRow | None:
    row = session.get(WebhookRow, webhook_id)
    return row if row is not None and row.deleted_at is None else None


def enqueue(session: Session, delivery: DeliveryRow) -> bool:
    """Insert unless a delivery with the same (webhook, key) exists; True when inserted."""
    try:
        with session.begin_nested():
            session.add(delivery)
            session.flush()
    except IntegrityError:
        return False
    return True


def due(session: Session, now: datetime, limit: int) -> list[DeliveryRow]:
    return list(
        session.scalars(
            select(DeliveryRow)
            .where(DeliveryRow.status == "pending", DeliveryRow.next_attempt_at <= now)
            .order_by(DeliveryRow.next_attempt_at, DeliveryRow.id)
            .limit(limit)
        )
    )


def claim(session: Session, row: DeliveryRow, *, until: datetime) -> bool:
    """Move a due delivery's next attempt to `until` unless another replica did first."""
    claimed = session.execute(
        update(DeliveryRow)
        .where(
            DeliveryRow.id == row.id,
            DeliveryRow.status == "pending",
            DeliveryRow.next_attempt_at == row.next_attempt_at,
        )
        .values(next_attempt_at=until)
    )
    return bool(getattr(claimed, "rowcount", 0) == 1)


def deliveries(session: Session, webhook_id: str, limit: int) -> list[DeliveryRow]:
    return list(
        session.scalars(
            select(DeliveryRow)
            .where(DeliveryRow.webhook_id == webhook_id)
            .order_by(DeliveryRow.created_at.desc(), DeliveryRow.id.desc())
            .limit(limit)
        )
    )


def cursor(session: Session) -> int | None:
    row = session.get(NotifyCursorRow, 1)
    return None if row is None else row.last_event_id


def move_cursor(session: Session, last_event_id: int) -> None:
    row = session.get(NotifyCursorRow, 1)
    if row is None:
        session.add(NotifyCursorRow(id=1, last_event_id=last_event_id))
    elif last_event_id > row.last_event_id:
        row.last_event_id = last_event_id


def expiring(session: Session, now: datetime, until: datetime) -> list[InstanceRow]:
    """Demos alive now that expire within (now, until]."""
    return list(
        session.scalars(
            select(InstanceRow).where(
                InstanceRow.pooled.is_(False),
                InstanceRow.status.in_(("pending", "provisioning", "ready", "sleeping")),
                InstanceRow.expires_at.is_not(None),
                InstanceRow.expires_at > now,
                InstanceRow.expires_at <= until,
            )
        )
    )


def as_dict(row: DeliveryRow) -> dict[str, Any]:
    def iso(value: datetime | None) -> str | None:
        return value.isoformat().replace("+00:00", "Z") if value is not None else None

    return {
        "id": row.id,
        "event": row.event,
        "instance_id": row.instance_id,
        "status": row.status,
        "attempts": row.attempts,
        "last_status_code": row.last_status_code,
        "last_error": row.last_error,
        "next_attempt_at": iso(row.next_attempt_at) if row.status == "pending" else None,
        "created_at": iso(row.created_at),
        "delivered_at": iso(row.delivered_at),
    }


def mail_recipients(session: Session, owner: str, admins_too: bool) -> list[UserRow]:
    """Users with an e-mail address: the owner, and every admin when `admins_too`."""
    query = select(UserRow).where(UserRow.email.is_not(None))
    if admins_too:
        query = query.where((UserRow.name == owner) | (UserRow.role == "admin"))
    else:
        query = query.where(UserRow.name == owner)
    return [u for u in session.scalars(query.order_by(UserRow.name)) if usable(u)]


def usable(user: UserRow) -> bool:
    """Disabled users get no mail (the column exists once accounts can be disabled)."""
    return getattr(user, "disabled_at", None) is None


def user(session: Session, name: str) -> UserRow | None:
    return session.get(UserRow, name)
