"""Seeded template databases for the `postgres` provider, one per (blueprint, scenario, version).

A template is built once by running the blueprint's migrate and seed commands as a builder role
(`demo_builder_<owner>`) into a fresh database; clones then hand what the builder owns to each
demo's role. Builds run under a PostgreSQL advisory lock, so several orchestrator replicas never
build the same template twice, and under a thread lock, so one process does not hold a session
per waiting worker. A finished template is commented `... template <blueprint>/<scenario> <fp>`
and set `IS_TEMPLATE true ALLOW_CONNECTIONS false`: no session can ever be open on it, so a clone
never fails with "source database is being accessed by other users". While building it is
commented `... building ...`; a crash leaves that, and the next build drops and redoes it. A new
fingerprint (changed migrations or seed code) builds a new template and drops the older ones.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from demo_orchestrator.domain.blueprint import Blueprint, Scenario
from demo_orchestrator.domain.errors import PermanentError
from demo_orchestrator.providers.fingerprint import template_fingerprint
from demo_orchestrator.providers.ownership import Passwords, first_line
from demo_orchestrator.providers.postgres_admin import Ident, PostgresAdmin
from demo_orchestrator.providers.seeding import run_data_commands

log = logging.getLogger(__name__)


class PostgresTemplates:
    def __init__(
        self, admin: PostgresAdmin, *, owner: str, marker: str, passwords: Passwords, workdir: Path
    ) -> None:
        self.admin = admin
        self.owner = owner
        self.marker = marker
        self.builder = f"demo_builder_{owner}"
        self.passwords = passwords
        self.workdir = workdir
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def name(self, blueprint: Blueprint, scenario: Scenario) -> str:
        slug = scenario.name.replace("-", "_")[:24]
        return f"demo_tpl_{self.owner}_{slug}_{template_fingerprint(blueprint, scenario)}"

    def prepare(self, blueprint: Blueprint, scenario: Scenario) -> str:
        name = self.name(blueprint, scenario)
        if self.ready(name):
            return name
        with self._guard:
            lock = self._locks.setdefault(name, threading.Lock())
        with lock, self.admin.connect() as locker:
            # Held until this session ends: one builder per template across all replicas.
            locker.execute("SELECT pg_advisory_lock(hashtext(%s))", [name])
            if not self.ready(name):
                self._build(blueprint, scenario, name)
        return name

    def remove_all(self) -> list[str]:
        """Drop every template and the builder role of this owner (for tests and clean-up)."""
        with self.admin.connect() as conn:
            names = [
                str(r[0])
                for r in conn.execute(
                    "SELECT datname FROM pg_database WHERE starts_with(datname, %(prefix)s) "
                    "AND (shobj_description(oid, 'pg_database') IS NULL OR starts_with("
                    "shobj_description(oid, 'pg_database'), %(marker)s))",
                    {"prefix": f"demo_tpl_{self.owner}_", "marker": f"{self.marker} "},
                ).fetchall()
            ]
            for template in names:
                self.drop(conn, template)
            if self.admin.role_exists(conn, self.builder):
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(Ident(self.builder)))
        return names

    def ready(self, name: str) -> bool:
        with self.admin.connect() as conn:
            row = conn.execute(
                "SELECT datistemplate, shobj_description(oid, 'pg_database') FROM pg_database "
                "WHERE datname = %s",
                [name],
            ).fetchone()
        return bool(row and row[0] and str(row[1] or "").startswith(f"{self.marker} template "))

    def _build(self, blueprint: Blueprint, scenario: Scenario, name: str) -> None:
        label = f"{blueprint.name}/{scenario.name} {template_fingerprint(blueprint, scenario)}"
        password = self.passwords.of("postgres-builder", self.owner)
        with self.admin.connect() as conn:
            _, comment, owner = self.admin.lookup(conn, name)
            if owner is not None:
                # Ours when marked, or unmarked (a crash between CREATE and COMMENT): the name
                # itself carries our owner id.
                if comment is not None and not comment.startswith(self.marker):
                    raise PermanentError(f"PostgreSQL database {name} exists and is not ours")
                self.drop(conn, name)  # half-built by a crashed process
            verb = "ALTER" if self.admin.role_exists(conn, self.builder) else "CREATE"
            with conn.transaction():  # never a role without its marker
                conn.execute(
                    sql.SQL("{} ROLE {} WITH LOGIN PASSWORD {} NOCREATEDB NOCREATEROLE").format(
                        sql.SQL(verb), Ident(self.builder), sql.Literal(password)
                    )
                )
                conn.execute(
                    self.admin.comment("ROLE", self.builder, f"{self.marker} template-builder")
                )
            # Born closed (see postgres.py): no other role may open a session on it while it is
            # open to PUBLIC, nor seed its own rows into every future clone.
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE template0 ALLOW_CONNECTIONS false").format(
                    Ident(name)
                )
            )
            conn.execute(self.admin.comment("DATABASE", name, f"{self.marker} building {label}"))
            conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(Ident(name)))
            conn.execute(
                sql.SQL("GRANT CONNECT, CREATE, TEMPORARY ON DATABASE {} TO {}").format(
                    Ident(name), Ident(self.builder)
                )
            )
            conn.execute(
                sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true").format(Ident(name))
            )
        with self.admin.connect(dbname=name) as conn:
            conn.execute(sql.SQL("GRANT ALL ON SCHEMA public TO {}").format(Ident(self.builder)))
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            run_data_commands(
                blueprint,
                scenario,
                database_url=self.admin.url_for(self.builder, password, name),
                cwd=self.workdir,
                secret=password,
            )
        except PermanentError:
            with self.admin.connect() as conn:
                self.drop(conn, name)  # never leave a half-seeded template behind
            raise
        with self.admin.connect() as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                [name],
            )
            conn.execute(
                sql.SQL("REVOKE ALL ON DATABASE {} FROM {}").format(
                    Ident(name), Ident(self.builder)
                )
            )
            conn.execute(self.admin.comment("DATABASE", name, f"{self.marker} template {label}"))
            conn.execute(
                sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false").format(
                    Ident(name)
                )
            )
            stale = conn.execute(
                "SELECT datname FROM pg_database WHERE datname <> %s AND starts_with("
                "coalesce(shobj_description(oid, 'pg_database'), ''), %s)",
                [name, f"{self.marker} template {blueprint.name}/{scenario.name} "],
            ).fetchall()
            for (old,) in stale:
                try:
                    self.drop(conn, str(old))
                except psycopg.Error as exc:  # a clone from it still running: next build drops it
                    log.warning("cannot drop stale template %s yet: %s", old, first_line(exc))
        log.info("built PostgreSQL template %s", name)

    def drop(self, conn: psycopg.Connection[Any], name: str) -> None:
        conn.execute(
            sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE false ALLOW_CONNECTIONS true").format(
                Ident(name)
            )
        )
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(Ident(name)))
