"""plans as data: the provider of each step, retry dates, an ordered change feed

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 13:30:00

Instances stored before this revision already hold their plan as one `steps` row per step (the
seven steps database, cache, broker, seed, deploy, routes, health, in that order), which is the
plan they were made with. What they lack is the provider of each step: it stays NULL, meaning
"the provider configured for the step's slot", which is what undid them before this revision.
Instances that somehow have no step rows at all get the plan of that time, so teardown of every
old instance finds a plan.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

LEGACY_PLAN = ("database", "cache", "broker", "seed", "deploy", "routes", "health")


def upgrade() -> None:
    with op.batch_alter_table("steps", schema=None) as batch_op:
        batch_op.add_column(sa.Column("provider", sa.String(length=64), nullable=True))
    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_instance_id_id", ["instance_id", "id"], unique=False)
    connection = op.get_bind()
    planless = connection.execute(
        sa.text(
            "SELECT id FROM instances WHERE NOT EXISTS "
            "(SELECT 1 FROM steps WHERE steps.instance_id = instances.id)"
        )
    ).scalars()
    rows = [
        {"instance_id": instance_id, "name": name, "position": position}
        for instance_id in list(planless)
        for position, name in enumerate(LEGACY_PLAN)
    ]
    if rows:
        connection.execute(
            sa.text(
                "INSERT INTO steps (instance_id, name, position, status, retries) "
                "VALUES (:instance_id, :name, :position, 'pending', 0)"
            ),
            rows,
        )


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_instance_id_id")
    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.drop_column("next_attempt_at")
    with op.batch_alter_table("steps", schema=None) as batch_op:
        batch_op.drop_column("provider")
