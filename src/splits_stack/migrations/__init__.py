"""Alembic migrations of the stack's own schema, run programmatically by `splits_stack migrate`."""
