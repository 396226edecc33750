"""bookings: a demo's meeting start (`starts_at`) and each user's IANA time zone

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27 20:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("instances") as batch_op:
        batch_op.add_column(sa.Column("starts_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_instances_starts_at", ["starts_at"])
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(
            sa.Column("timezone", sa.String(64), nullable=False, server_default="UTC")
        )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("timezone")
    with op.batch_alter_table("instances") as batch_op:
        batch_op.drop_index("ix_instances_starts_at")
        batch_op.drop_column("starts_at")
