"""Alembic environment: migrates the connection handed over by `splits_stack.migrate`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from splits_stack.tables import metadata

connection: Connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
