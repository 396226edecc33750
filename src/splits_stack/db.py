"""Database access: one SQLAlchemy engine per process, same code for SQLite and PostgreSQL.

SQLite gets a busy timeout and foreign keys on; it stays in rollback-journal mode (not WAL) so the
orchestrator can copy a template database as one self-contained file.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event, select

from splits_stack import tables as t


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 15})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(url, pool_size=5, max_overflow=5, pool_pre_ping=True)


def read_meta(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return {row.key: row.value for row in conn.execute(select(t.meta))}
