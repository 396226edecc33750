"""SQLAlchemy 2 models of the orchestrator's store (SQLite by default, PostgreSQL for replicas).

The schema itself is owned by the Alembic migrations in `store/migrations`; these classes mirror it.
Times are stored as timezone-aware UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC; always gives back aware datetimes, also from SQLite (which keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class InstanceRow(Base):
    __tablename__ = "instances"
    # The list walks these newest first: warm-pool members left out, optionally one filter
    # (each index also serves the lookups its leading column had an index of its own for).
    __table_args__ = (
        Index("ix_instances_list", "pooled", "created_at", "id"),
        Index("ix_instances_list_status", "status", "pooled", "created_at", "id"),
        Index("ix_instances_list_scenario", "scenario", "pooled", "created_at", "id"),
        Index("ix_instances_list_owner", "owner", "pooled", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    blueprint: Mapped[str] = mapped_column(String(64))
    scenario: Mapped[str] = mapped_column(String(64))
    owner: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(200))
    prospect: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    notes: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[str] = mapped_column(String(32))
    desired: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ready_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    duration_hours: Mapped[float] = mapped_column(Float)
    meeting_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # A booked demo's meeting start: it is `scheduled` until a lead time before it, and its
    # life (expiry, the cap) counts from it. None for a demo made at once.
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    hourly_usd: Mapped[float] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    applied_generation: Mapped[int] = mapped_column(Integer, default=0)
    outputs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    secrets: Mapped[str | None] = mapped_column(Text, nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    # When a step failed for a while (or teardown could not reach a server), the engine tries
    # again at this time, not sooner; None: work on it whenever it needs work.
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Sleep: the rate while asleep, the seconds slept in finished sleeps, the sleep going on.
    sleeping_hourly_usd: Mapped[float] = mapped_column(Float, default=0.0)
    slept_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    sleeping_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The last request the router passed to the demo (written at most once a minute): idle sleep.
    last_request_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # A warm-pool member waiting to be claimed: in no list, quota or bill until then.
    pooled: Mapped[bool] = mapped_column(Boolean, default=False)
    # Health of a ready demo, beside its status: `ok` or `degraded` (it does not answer and
    # restarts did not help), why and since when; restarts made for it and the last one's time.
    health_state: Mapped[str] = mapped_column(String(16), default="ok", server_default="ok")
    health_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    health_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    health_restarts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    health_restarted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class StepRow(Base):
    """One step of an instance's stored plan, with its progress."""

    __tablename__ = "steps"

    instance_id: Mapped[str] = mapped_column(
        String(16), ForeignKey("instances.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    # The provider this step was planned with (None: no provider, or a plan stored before 0003).
    provider: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    retries: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    message: Mapped[str | None] = mapped_column(Text, nullable=True)


class EventRow(Base):
    """One change of an instance; the ids order the change feed."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_instance_id_id", "instance_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    instance_id: Mapped[str] = mapped_column(String(16), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(16))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class WarmPoolRow(Base):
    """How many ready demos of a scenario to keep ahead of demand, and how claims went."""

    __tablename__ = "warm_pool"

    blueprint: Mapped[str] = mapped_column(String(64), primary_key=True)
    scenario: Mapped[str] = mapped_column(String(64), primary_key=True)
    target: Mapped[int] = mapped_column(Integer, default=0)
    claims: Mapped[int] = mapped_column(Integer, default=0)
    misses: Mapped[int] = mapped_column(Integer, default=0)


class SleepRow(Base):
    """One sleep of an instance, for usage over a period (sleeping hours bill at another rate)."""

    __tablename__ = "sleeps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    instance_id: Mapped[str] = mapped_column(String(16), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class UserRow(Base):
    __tablename__ = "users"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    # IANA zone the user's calendar invitations and schedule page are shown in.
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    # Set by an admin: from then on the user's sessions, tokens and sign-ins are refused.
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class TokenRow(Base):
    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128))
    user: Mapped[str] = mapped_column(String(128), ForeignKey("users.name"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class IdempotencyRow(Base):
    __tablename__ = "idempotency_keys"

    owner: Mapped[str] = mapped_column(String(128), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    instance_id: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditRow(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    instance_id: Mapped[str | None] = mapped_column(String(16), nullable=True, index=True)
    source: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class WebSessionRow(Base):
    """A signed-in browser; the cookie holds a random id, the store only its SHA-256."""

    __tablename__ = "web_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user: Mapped[str] = mapped_column(String(128), ForeignKey("users.name"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class WebhookRow(Base):
    """A subscription: events of the owner's demos (scope `own`) or of all (`global`, admins)."""

    __tablename__ = "webhooks"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(128), index=True)
    url: Mapped[str] = mapped_column(Text)
    events: Mapped[list[str]] = mapped_column(JSON)
    format: Mapped[str] = mapped_column(String(16))
    scope: Mapped[str] = mapped_column(String(16))
    secret: Mapped[str] = mapped_column(Text)  # sealed by the SecretBox
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class DeliveryRow(Base):
    """One message to one webhook, with its attempts; `key` makes enqueueing idempotent, so
    every replica may enqueue what it reads from the feed and each message exists once."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ux_webhook_deliveries_key", "webhook_id", "key", unique=True),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # the webhook-id header
    webhook_id: Mapped[str] = mapped_column(String(32), index=True)
    key: Mapped[str] = mapped_column(String(160))
    event: Mapped[str] = mapped_column(String(32))
    instance_id: Mapped[str | None] = mapped_column(String(16), nullable=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))  # pending, delivered, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class NotifyCursorRow(Base):
    """How far the notifier has read the change feed (one row): a restart resumes there."""

    __tablename__ = "notify_cursor"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_event_id: Mapped[int] = mapped_column(Integer)


class ActivityRow(Base):
    """Engagement reported by a demo's stack, one row per (minute, persona, route, path pattern)
    with a request count and the tour step reached there ("" is no persona, the rep; 0 no step)."""

    __tablename__ = "demo_activity"
    __table_args__ = (
        Index(
            "ux_demo_activity_key",
            "instance_id",
            "at",
            "persona",
            "route",
            "path",
            unique=True,
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    instance_id: Mapped[str] = mapped_column(String(16), nullable=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    persona: Mapped[str] = mapped_column(String(120), nullable=False)
    route: Mapped[str] = mapped_column(String(40), nullable=False)
    path: Mapped[str] = mapped_column(String(200), nullable=False)
    tour_step: Mapped[int] = mapped_column(Integer, nullable=False)
    requests: Mapped[int] = mapped_column(Integer, nullable=False)


class SavedTemplateRow(Base):
    """A scenario saved from a running demo (engine/templates.py). `deleted_at` keeps the row
    as a tombstone, so demos made from it still resolve its personas, tour and teardown."""

    __tablename__ = "saved_templates"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    blueprint: Mapped[str] = mapped_column(String(64))
    based_on: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    owner: Mapped[str] = mapped_column(String(128), index=True)
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(16))  # saving | ready
    counts: Mapped[dict[str, int]] = mapped_column(JSON)
    database_provider: Mapped[str] = mapped_column(String(32))
    source_instance: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
