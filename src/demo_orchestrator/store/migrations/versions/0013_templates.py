"""templates: scenarios saved from a running demo, owned by their creator, shared on request

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-27 20:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "saved_templates",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("blueprint", sa.String(64), nullable=False),
        sa.Column("based_on", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("owner", sa.String(128), nullable=False, index=True),
        sa.Column("shared", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("database_provider", sa.String(32), nullable=False),
        sa.Column("source_instance", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("saved_templates")
