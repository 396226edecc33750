"""Connects the store: one SQLAlchemy engine, short read and write sessions.

SQLite runs in WAL mode with a busy timeout, and write transactions start with `BEGIN IMMEDIATE`
so two writers queue instead of failing with "database is locked" half-way through a
read-then-write. PostgreSQL uses plain transactions; row claims use `SELECT ... FOR UPDATE`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from demo_orchestrator.store import migrate

# How the next SQLite transaction on this thread/task begins; `write()` switches it to IMMEDIATE.
_BEGIN_MODE: ContextVar[str] = ContextVar("sqlite_begin_mode", default="BEGIN")


def normalise_url(url: str) -> str:
    """Accept `postgresql://` and `postgres://` and use the psycopg 3 driver for them."""
    parsed = make_url(url)
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _private_file(path: Path) -> None:
    """The SQLite store (and its WAL and shared-memory files) readable by its owner only: it
    holds every demo's credentials. Run on each new connection, so the file SQLite just made
    (empty yet) is 0600 before anything is written; SQLite gives the WAL and shared-memory
    files the database file's mode; an existing store is fixed on start."""
    for suffix in ("", "-wal", "-shm"):
        try:
            os.chmod(f"{path}{suffix}", 0o600)
        except FileNotFoundError:
            pass


class Database:
    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        kwargs: dict[str, Any] = {}
        if self.is_sqlite:
            path = make_url(self.url).database
            if path and path != ":memory:":
                Path(path).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
        self.engine: Engine = create_engine(self.url, **kwargs)
        if self.is_sqlite:
            self._sqlite_pragmas(self.engine)
            self._sqlite_private(self.engine, make_url(self.url).database)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # Called after every commit that appended to the change feed (the feed's reader wakes).
        self.on_events: Callable[[], None] | None = None
        # Counts committed write transactions (for `/metrics` and the provisioning bench).
        self.commits = 0

    @staticmethod
    def _sqlite_private(engine: Engine, path: str | None) -> None:
        if not path or path == ":memory:" or path.startswith("file:"):
            return

        @event.listens_for(engine, "connect")
        def _on_connect(_dbapi_connection: Any, _record: Any) -> None:
            _private_file(Path(path))

    @staticmethod
    def _sqlite_pragmas(engine: Engine) -> None:
        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(connection: Any) -> None:
            connection.exec_driver_sql(_BEGIN_MODE.get())

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._sessions() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction that commits on success; on SQLite it holds the write lock from its start."""
        token = _BEGIN_MODE.set("BEGIN IMMEDIATE")
        reset = False
        try:
            with self._sessions() as session:
                session.connection()  # begin now, holding the write lock on SQLite
                _BEGIN_MODE.reset(token)
                reset = True
                try:
                    yield session
                    session.commit()
                except BaseException:
                    session.rollback()
                    raise
                self.commits += 1
                if session.info.get("events_added") and self.on_events is not None:
                    self.on_events()
        finally:
            if not reset:
                _BEGIN_MODE.reset(token)

    def listen(self, channel: str, wake: Callable[[], None], stop: Callable[[], bool]) -> None:
        """PostgreSQL only: call `wake()` on every NOTIFY on `channel` until `stop()` is true.

        Uses a dedicated connection (detached from the pool); raises when the connection fails,
        so the caller decides how to retry.
        """
        raw = self.engine.raw_connection()
        conn: Any = raw.driver_connection
        raw.detach()
        try:
            conn.autocommit = True
            conn.execute(f"LISTEN {channel}")
            while not stop():
                for _ in conn.notifies(timeout=1.0):
                    wake()
                    if stop():
                        break
        finally:
            raw.close()

    def upgrade(self) -> None:
        migrate.upgrade(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()
