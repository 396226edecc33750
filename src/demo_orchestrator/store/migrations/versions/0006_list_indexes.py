"""list indexes: the instance list walks one index newest first, with or without a filter

The list is `WHERE pooled = false [AND status|scenario|owner = ?] ORDER BY created_at DESC, id
DESC LIMIT n` with a keyset `(created_at, id) < (?, ?)` for the next pages. A composite index per
filter lets both backends read exactly the page instead of sorting every match. The single-column
indexes on status, scenario, owner and pooled are leading columns of the new ones, so they go.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 16:45:00
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

LIST_INDEXES = {
    "ix_instances_list": ["pooled", "created_at", "id"],
    "ix_instances_list_status": ["status", "pooled", "created_at", "id"],
    "ix_instances_list_scenario": ["scenario", "pooled", "created_at", "id"],
    "ix_instances_list_owner": ["owner", "pooled", "created_at", "id"],
}
SINGLE_INDEXES = {
    "ix_instances_status": "status",
    "ix_instances_scenario": "scenario",
    "ix_instances_owner": "owner",
    "ix_instances_pooled": "pooled",
}


def upgrade() -> None:
    for name, columns in LIST_INDEXES.items():
        op.create_index(name, "instances", columns, unique=False)
    for name in SINGLE_INDEXES:
        op.drop_index(name, table_name="instances")


def downgrade() -> None:
    for name, column in SINGLE_INDEXES.items():
        op.create_index(name, "instances", [column], unique=False)
    for name in LIST_INDEXES:
        op.drop_index(name, table_name="instances")
