"""Apply the stack's Alembic migrations to DATABASE_URL (`python -m splits_stack migrate`)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

_HERE = Path(__file__).resolve().parent / "migrations"


def alembic_config(connection: object | None = None) -> object:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_HERE))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine) -> None:
    """Upgrade to head; idempotent (a no-op on an up-to-date database)."""
    from alembic import command

    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "head")  # type: ignore[arg-type]
