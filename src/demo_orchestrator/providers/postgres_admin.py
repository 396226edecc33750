"""Admin connections to a shared PostgreSQL server, with failures mapped onto our errors.

Both the per-demo databases (`postgres.py`) and their seeded templates (`postgres_templates.py`)
talk to the server as the admin of `DEMO_POSTGRES_ADMIN_URL`; this is the one place that opens
those sessions (short-lived, autocommit, with a connect time-out), renders the server's URL with
its password hidden, and turns psycopg errors into `Unreachable` (no answer: retry, or leave a
teardown to the sweep), `PermanentError` (wrong credentials, missing privileges) or
`ProviderError` (anything else, retried).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql

from demo_orchestrator.domain.errors import PermanentError, ProviderError
from demo_orchestrator.providers.ownership import Unreachable, first_line, redact, scrub, split_url

Ident = sql.Identifier


class PostgresAdmin:
    def __init__(self, admin_url: str, *, timeout: float = 5.0) -> None:
        self._url = split_url(
            admin_url, schemes=("postgresql", "postgres"), setting="DEMO_POSTGRES_ADMIN_URL"
        )
        self._admin_url = admin_url
        self.timeout = timeout

    @property
    def host(self) -> tuple[str | None, int]:
        return self._url.hostname, self._url.port or 5432

    def url_for(self, role: str, password: str, database: str) -> str:
        host, port = self.host
        query = f"?{self._url.query}" if self._url.query else ""
        return f"postgresql://{role}:{password}@{host}:{port}/{database}{query}"

    @contextmanager
    def connect(self, *, dbname: str | None = None) -> Iterator[psycopg.Connection[Any]]:
        where = redact(self._admin_url) + (f" (database {dbname})" if dbname else "")
        kwargs: dict[str, Any] = {"dbname": dbname} if dbname else {}
        try:
            conn = psycopg.connect(
                self._admin_url,
                autocommit=True,
                connect_timeout=max(2, round(self.timeout)),
                **kwargs,
            )
        except psycopg.Error as exc:
            if "authentication failed" in str(exc):
                raise PermanentError(
                    f"PostgreSQL at {where} refused the credentials of DEMO_POSTGRES_ADMIN_URL"
                ) from exc
            raise Unreachable(
                f"PostgreSQL at {where} is unreachable: {scrub(first_line(exc), self._url.password)}"
            ) from exc
        try:
            with conn:
                yield conn
        except psycopg.errors.InsufficientPrivilege as exc:
            raise PermanentError(
                f"the PostgreSQL admin role of {where} lacks a privilege: {first_line(exc)}; "
                "it needs CREATEDB and CREATEROLE"
            ) from exc
        except psycopg.OperationalError as exc:
            raise ProviderError(
                f"PostgreSQL at {where} is unreachable: {scrub(first_line(exc), self._url.password)}"
            ) from exc
        except psycopg.Error as exc:
            raise ProviderError(
                f"PostgreSQL at {where} failed: {scrub(first_line(exc), self._url.password)}"
            ) from exc

    @staticmethod
    def comment(kind: str, name: str, text: str) -> sql.Composed:
        return sql.SQL("COMMENT ON {} {} IS {}").format(
            sql.SQL(kind), Ident(name), sql.Literal(text)
        )

    @staticmethod
    def role_exists(conn: psycopg.Connection[Any], role: str) -> bool:
        return (
            conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone() is not None
        )

    @staticmethod
    def lookup(
        conn: psycopg.Connection[Any], name: str
    ) -> tuple[str | None, str | None, str | None]:
        """(role comment or None when no role, database comment, database owner or None)."""
        role = conn.execute(
            "SELECT coalesce(shobj_description(oid, 'pg_authid'), '') FROM pg_roles "
            "WHERE rolname = %s",
            [name],
        ).fetchone()
        database = conn.execute(
            "SELECT shobj_description(oid, 'pg_database'), pg_get_userbyid(datdba) "
            "FROM pg_database WHERE datname = %s",
            [name],
        ).fetchone()
        return (
            str(role[0]) if role else None,
            str(database[0]) if database and database[0] is not None else None,
            str(database[1]) if database else None,
        )
