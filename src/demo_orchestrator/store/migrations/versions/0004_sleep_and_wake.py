"""sleep and wake: the sleeping rate, slept time and sleeps of an instance, its last request

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 14:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("sleeping_hourly_usd", sa.Float(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("slept_seconds", sa.Float(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("sleeping_since", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_request_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "sleeps",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("instance_id", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sleeps", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sleeps_instance_id"), ["instance_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sleeps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sleeps_instance_id"))
    op.drop_table("sleeps")
    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.drop_column("last_request_at")
        batch_op.drop_column("sleeping_since")
        batch_op.drop_column("slept_seconds")
        batch_op.drop_column("sleeping_hourly_usd")
