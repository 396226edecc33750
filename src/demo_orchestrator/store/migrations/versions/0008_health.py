"""health: whether a ready demo answers, beside its status (which it does not change)

A demo whose service stops answering its health path is restarted a few times with back-off; one
that cannot be healed stays `ready` but shows `health.state = degraded` with the reason and since
when. `health_restarts` and `health_restarted_at` count the restarts and time the back-off, so
the bound holds across orchestrator restarts and replicas.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("instances") as batch:
        batch.add_column(
            sa.Column("health_state", sa.String(16), nullable=False, server_default="ok")
        )
        batch.add_column(sa.Column("health_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("health_since", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("health_restarts", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("health_restarted_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("instances") as batch:
        for name in (
            "health_restarted_at",
            "health_restarts",
            "health_since",
            "health_reason",
            "health_state",
        ):
            batch.drop_column(name)
