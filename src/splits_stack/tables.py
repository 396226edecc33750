"""The stack's schema: SQLAlchemy Core tables shared by every service module.

Core tables (not ORM classes) because seeding bulk-inserts thousands of rows with `executemany`
and the read API returns plain rows; the same definitions drive the Alembic migrations.
Every timestamp is a `Timestamp` column holding UTC epoch seconds: the "freshen" step that makes a
days-old template copy look current is then one portable `UPDATE t SET c = c + :delta` per table,
identical on SQLite and PostgreSQL and well under 100 ms.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)


class Timestamp(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime stored as integer epoch seconds."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        if isinstance(value, (int, float)):
            return int(value)
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return int(value.timestamp())

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return datetime.fromtimestamp(int(value), tz=UTC)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _id() -> Column[int]:
    return Column("id", Integer, primary_key=True, autoincrement=True)


meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

companies = Table(
    "companies",
    metadata,
    _id(),
    Column("name", String(200), nullable=False),
    Column("industry", String(120), nullable=False),
    Column("size", String(40), nullable=False),
    Column("location", String(120), nullable=False),
    Column("website", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("is_prospect", Boolean, nullable=False, default=False),
    Column("created_at", Timestamp, nullable=False),
)

departments = Table(
    "departments",
    metadata,
    _id(),
    Column("company_id", ForeignKey("companies.id"), nullable=False, index=True),
    Column("name", String(120), nullable=False),
    Column("budget_k", Integer, nullable=False),
    Column("head_user_id", Integer, nullable=True),
)

recruiters = Table(
    "recruiters",
    metadata,
    _id(),
    Column("name", String(200), nullable=False),
    Column("email", String(200), nullable=False),
    Column("agency", String(200), nullable=False),
    Column("specialisations", Text, nullable=False),
    Column("bio", Text, nullable=False),
    Column("location", String(120), nullable=False),
    Column("rating", Float, nullable=False),
    Column("created_at", Timestamp, nullable=False),
)

candidates = Table(
    "candidates",
    metadata,
    _id(),
    Column("name", String(200), nullable=False),
    Column("email", String(200), nullable=False, unique=True),
    Column("phone", String(60), nullable=False),
    Column("location", String(120), nullable=False),
    Column("headline", String(300), nullable=False),
    Column("current_title", String(200), nullable=False),
    Column("current_company", String(200), nullable=False),
    Column("family", String(80), nullable=False),
    Column("years_experience", Integer, nullable=False),
    Column("skills", Text, nullable=False),
    Column("source", String(60), nullable=False),
    Column("created_at", Timestamp, nullable=False),
)

users = Table(
    "users",
    metadata,
    _id(),
    Column("email", String(200), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("role", String(40), nullable=False),
    Column("title", String(200), nullable=False),
    Column("company_id", ForeignKey("companies.id"), nullable=True),
    Column("recruiter_id", ForeignKey("recruiters.id"), nullable=True),
    Column("candidate_id", ForeignKey("candidates.id"), nullable=True),
    Column("created_at", Timestamp, nullable=False),
)

jobs = Table(
    "jobs",
    metadata,
    _id(),
    Column("company_id", ForeignKey("companies.id"), nullable=False, index=True),
    Column("department_id", ForeignKey("departments.id"), nullable=True),
    Column("hiring_manager_id", ForeignKey("users.id"), nullable=True),
    Column("title", String(200), nullable=False),
    Column("family", String(80), nullable=False),
    Column("level", String(40), nullable=False),
    Column("location", String(120), nullable=False),
    Column("remote", Boolean, nullable=False),
    Column("employment_type", String(40), nullable=False),
    Column("salary_min", Integer, nullable=False),
    Column("salary_max", Integer, nullable=False),
    Column("fee_pct", Float, nullable=False),
    Column("min_years", Integer, nullable=False),
    Column("required_skills", Text, nullable=False),
    Column("nice_skills", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("status", String(30), nullable=False, index=True),
    Column("openings", Integer, nullable=False),
    Column("priority", String(20), nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("opened_at", Timestamp, nullable=True),
    Column("closed_at", Timestamp, nullable=True),
)

job_approvals = Table(
    "job_approvals",
    metadata,
    _id(),
    Column("job_id", ForeignKey("jobs.id"), nullable=False, index=True),
    Column("step", Integer, nullable=False),
    Column("label", String(80), nullable=False),
    Column("approver_id", ForeignKey("users.id"), nullable=False),
    Column("status", String(20), nullable=False),
    Column("note", Text, nullable=False, default=""),
    Column("decided_at", Timestamp, nullable=True),
)

resumes = Table(
    "resumes",
    metadata,
    _id(),
    Column("candidate_id", ForeignKey("candidates.id"), nullable=False, index=True),
    Column("title", String(200), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("filename", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", Timestamp, nullable=False),
)

applications = Table(
    "applications",
    metadata,
    _id(),
    Column("job_id", ForeignKey("jobs.id"), nullable=False, index=True),
    Column("candidate_id", ForeignKey("candidates.id"), nullable=False, index=True),
    Column("recruiter_id", ForeignKey("recruiters.id"), nullable=True),
    Column("resume_id", ForeignKey("resumes.id"), nullable=True),
    Column("stage", String(20), nullable=False, index=True),
    Column("source", String(40), nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
)

application_moves = Table(
    "application_moves",
    metadata,
    _id(),
    Column("application_id", ForeignKey("applications.id"), nullable=False, index=True),
    Column("from_stage", String(20), nullable=True),
    Column("to_stage", String(20), nullable=False),
    Column("moved_by", ForeignKey("users.id"), nullable=True),
    Column("moved_at", Timestamp, nullable=False),
)

assignments = Table(
    "assignments",
    metadata,
    _id(),
    Column("job_id", ForeignKey("jobs.id"), nullable=False, index=True),
    Column("recruiter_id", ForeignKey("recruiters.id"), nullable=False, index=True),
    Column("recruiter_share_pct", Float, nullable=False),
    Column("status", String(20), nullable=False),
    Column("created_at", Timestamp, nullable=False),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    _id(),
    Column("company_id", ForeignKey("companies.id"), nullable=False, index=True),
    Column("plan", String(40), nullable=False),
    Column("seats", Integer, nullable=False),
    Column("seats_used", Integer, nullable=False),
    Column("monthly_usd", Integer, nullable=False),
    Column("status", String(20), nullable=False),
    Column("started_at", Timestamp, nullable=False),
    Column("renews_at", Timestamp, nullable=False),
)

placements = Table(
    "placements",
    metadata,
    _id(),
    Column("application_id", ForeignKey("applications.id"), nullable=False, unique=True),
    Column("job_id", ForeignKey("jobs.id"), nullable=False),
    Column("candidate_id", ForeignKey("candidates.id"), nullable=False),
    Column("company_id", ForeignKey("companies.id"), nullable=False),
    Column("recruiter_id", ForeignKey("recruiters.id"), nullable=True),
    Column("salary", Integer, nullable=False),
    Column("fee_pct", Float, nullable=False),
    Column("fee_amount", Integer, nullable=False),
    Column("recruiter_share_pct", Float, nullable=False),
    Column("recruiter_amount", Integer, nullable=False),
    Column("placed_at", Timestamp, nullable=False),
)

payouts = Table(
    "payouts",
    metadata,
    _id(),
    Column("placement_id", ForeignKey("placements.id"), nullable=False, index=True),
    Column("recruiter_id", ForeignKey("recruiters.id"), nullable=False),
    Column("amount", Integer, nullable=False),
    Column("status", String(20), nullable=False),
    Column("due_at", Timestamp, nullable=False),
    Column("paid_at", Timestamp, nullable=True),
)

emails = Table(
    "emails",
    metadata,
    _id(),
    Column("event_id", String(64), nullable=True, unique=True),
    Column("event", String(60), nullable=False),
    Column("to_addr", String(200), nullable=False),
    Column("to_name", String(200), nullable=False),
    Column("subject", String(300), nullable=False),
    Column("body", Text, nullable=False),
    Column("transport", String(20), nullable=False),
    Column("created_at", Timestamp, nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    Column("token", String(64), primary_key=True),
    Column("user_id", ForeignKey("users.id"), nullable=False),
    Column("created_at", Timestamp, nullable=False),
)

Index("ix_applications_job_stage", applications.c.job_id, applications.c.stage)
