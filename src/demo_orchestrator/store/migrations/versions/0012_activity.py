"""engagement: what each demo's stack reported, aggregated per minute, persona, route and path
pattern, with the tour step reached there

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-27 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "demo_activity",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("instance_id", sa.String(16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("persona", sa.String(120), nullable=False),
        sa.Column("route", sa.String(40), nullable=False),
        sa.Column("path", sa.String(200), nullable=False),
        sa.Column("tour_step", sa.Integer(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
    )
    op.create_index(
        "ux_demo_activity_key",
        "demo_activity",
        ["instance_id", "at", "persona", "route", "path"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("ux_demo_activity_key", table_name="demo_activity")
    op.drop_table("demo_activity")
