"""Templates saved from a running demo for the `postgres` provider (issue 14, save as template).

`CREATE DATABASE saved TEMPLATE demo_ab12cd` is a file-level copy (milliseconds, consistent) but
PostgreSQL refuses it while any session is open on the source, and the demo's services keep a
pool open on it. So the source is paused for the copy only: `ALLOW_CONNECTIONS false` (no new
session can start, not even a reconnecting pool), its sessions are terminated, the clone is made,
and `ALLOW_CONNECTIONS true` is restored in a `finally`. The demo's pools reconnect on their next
checkout (the reference stack pings before use), so the demo keeps working; a request in flight
at that instant may fail once. We chose this over `pg_dump`/restore, which is not installed in
the image, is seconds instead of milliseconds, and would need the demo's password.

Inside the copy, what the demo's role owns is reassigned to the template builder role, exactly
like a seeded template: a demo cloned from it gets it handed over by `PostgresDatabase.ensure`, and
deleting the source demo (which drops its role) never depends on the saved copy. The copy is then
commented `<marker> template saved <blueprint>/<name>` and set `IS_TEMPLATE true ALLOW_CONNECTIONS
false`, like every template. Its name is `demo_sv_<owner>_<name>`, never an instance's name, so the
orphan sweep leaves it alone; deleting the template drops it.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from psycopg import errors, sql

from demo_orchestrator.domain.errors import Conflict, PermanentError
from demo_orchestrator.providers.ownership import first_line
from demo_orchestrator.providers.postgres_admin import Ident, PostgresAdmin
from demo_orchestrator.providers.postgres_templates import PostgresTemplates

log = logging.getLogger(__name__)

# Terminated sessions take a moment to leave; CREATE DATABASE itself waits up to 5 s for them
# each time, so a few attempts (each terminating again) need no sleep of their own.
CLONE_ATTEMPTS = 3


class PostgresSavedTemplates:
    def __init__(self, admin: PostgresAdmin, *, templates: PostgresTemplates) -> None:
        self.admin = admin
        self.templates = templates
        self.marker = templates.marker

    def name(self, template: str) -> str:
        # "demo_sv_" + owner (<= 12) + "_" + name (<= 40): within PostgreSQL's 63 bytes.
        return f"demo_sv_{self.templates.owner}_{template.replace('-', '_')}"

    def save(self, *, source: str, name: str, label: str) -> dict[str, int]:
        target = self.name(name)
        with self.admin.connect() as conn:
            _, comment, owner = self.admin.lookup(conn, target)
            if owner is not None:
                if comment is not None and not comment.startswith(self.marker):
                    raise Conflict(f"PostgreSQL database {target} exists and is not ours")
                self.templates.drop(conn, target)  # left by a save that crashed half-way
            self._clone_paused(conn, source, target)
            conn.execute(self.admin.comment("DATABASE", target, f"{self.marker} saving {label}"))
            conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(Ident(target)))
            conn.execute(
                sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true").format(Ident(target))
            )
        try:
            with self.admin.connect(dbname=target) as conn:
                conn.execute(
                    sql.SQL("REASSIGN OWNED BY {} TO {}").format(
                        Ident(source), Ident(self.templates.builder)
                    )
                )
                counts = _table_counts(conn)
            with self.admin.connect() as conn:
                # REASSIGN also moved the source database itself: give it back to the demo.
                conn.execute(
                    sql.SQL("ALTER DATABASE {} OWNER TO {}").format(Ident(source), Ident(source))
                )
                conn.execute(
                    self.admin.comment("DATABASE", target, f"{self.marker} template saved {label}")
                )
                conn.execute(
                    sql.SQL(
                        "ALTER DATABASE {} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false"
                    ).format(Ident(target))
                )
        except BaseException:
            self.drop(name)
            raise
        log.info("saved %s as PostgreSQL template %s", source, target)
        return counts

    def drop(self, name: str) -> None:
        target = self.name(name)
        with self.admin.connect() as conn:
            _, comment, owner = self.admin.lookup(conn, target)
            if owner is None:
                return
            if comment is not None and not comment.startswith(self.marker):
                raise PermanentError(f"PostgreSQL database {target} is not ours; left in place")
            self.templates.drop(conn, target)

    def held(self) -> set[tuple[str, str]]:
        """(blueprint, name) of every saved template of this owner, finished or half-made."""
        with self.admin.connect() as conn:
            rows = conn.execute(
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                "WHERE starts_with(datname, %s) "
                "AND starts_with(coalesce(shobj_description(oid, 'pg_database'), ''), %s)",
                [f"demo_sv_{self.templates.owner}_", f"{self.marker} "],
            ).fetchall()
        found: set[tuple[str, str]] = set()
        for (comment,) in rows:
            label = str(comment).rsplit(" ", 1)[-1]  # "<marker> template saved <bp>/<name>"
            blueprint, _, name = label.partition("/")
            if name:
                found.add((blueprint, name))
        return found

    def remove_all(self) -> list[str]:
        """Drop every saved template of this owner (for tests and clean-up)."""
        with self.admin.connect() as conn:
            names = [
                str(r[0])
                for r in conn.execute(
                    "SELECT datname FROM pg_database WHERE starts_with(datname, %s) "
                    "AND starts_with(coalesce(shobj_description(oid, 'pg_database'), ''), %s)",
                    [f"demo_sv_{self.templates.owner}_", f"{self.marker} "],
                ).fetchall()
            ]
            for name in names:
                self.templates.drop(conn, name)
        return names

    def _clone_paused(self, conn: psycopg.Connection[Any], source: str, target: str) -> None:
        conn.execute(
            sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(Ident(source))
        )
        try:
            for attempt in range(CLONE_ATTEMPTS):
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()",
                    [source],
                )
                try:
                    conn.execute(
                        sql.SQL("CREATE DATABASE {} TEMPLATE {} ALLOW_CONNECTIONS false").format(
                            Ident(target), Ident(source)
                        )
                    )
                    return
                except errors.ObjectInUse as exc:
                    if attempt == CLONE_ATTEMPTS - 1:
                        raise Conflict(
                            f"the demo's database {source} stayed busy: {first_line(exc)}; "
                            "try again"
                        ) from exc
        finally:
            conn.execute(
                sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true").format(Ident(source))
            )


def _table_counts(conn: psycopg.Connection[Any]) -> dict[str, int]:
    """Rows per table of the public schema (the counts a saved template shows)."""
    names = [
        str(r[0])
        for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
            "AND table_type = 'BASE TABLE' AND table_name <> 'alembic_version' ORDER BY 1"
        ).fetchall()
    ]
    counts: dict[str, int] = {}
    for table in names:
        row = conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
        ).fetchone()
        counts[table] = int(row[0]) if row else 0
    return counts
