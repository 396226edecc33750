"""What the `postgres` provider needs from the server, tried rather than read from pg_hba.conf.

A demo's role is only a boundary if the server asks for its password and if the role can reach
no database but its own. Neither is visible in the catalog (pg_hba.conf may not even be readable
by the admin role), so the doctor tries them the way a demo would: it makes a throwaway LOGIN
role, logs in with a WRONG password (must be refused), with the right one (must be let in), and
into every database that grants CONNECT to PUBLIC (must be refused); then drops the role.
"""

from __future__ import annotations

import secrets
from typing import Any

import psycopg
from psycopg import sql

from demo_orchestrator.domain.errors import DemoError
from demo_orchestrator.providers.base import Finding
from demo_orchestrator.providers.postgres_admin import Ident, PostgresAdmin

CHECK_AUTH = "postgres passwords"
CHECK_CONNECT = "postgres databases"
TRIED_AT_MOST = 10  # databases tried by logging in; the catalog lists them all


def check(admin: PostgresAdmin) -> list[Finding]:
    where = f"PostgreSQL at {admin.host[0]}:{admin.host[1]}"
    role = f"demo_doctor_{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(18)
    try:
        with admin.connect() as conn:
            home = str(conn.info.dbname)
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} CONNECTION LIMIT 3").format(
                    Ident(role), sql.Literal(password)
                )
            )
            open_ones = [
                str(r[0])
                for r in conn.execute(
                    "SELECT datname FROM pg_database WHERE datallowconn "
                    "AND has_database_privilege('public', datname, 'CONNECT') ORDER BY datname"
                )
            ]
    except DemoError as exc:
        return [Finding("warn", CHECK_AUTH, f"{where} could not be checked: {exc.detail}")]
    try:
        return [
            _passwords(admin, where, role, password, home),
            _databases(admin, where, role, password, open_ones),
        ]
    finally:
        try:
            with admin.connect() as conn:
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(Ident(role)))
        except DemoError:
            pass  # named demo_doctor_*; harmless, and the next run makes another


def _try(admin: PostgresAdmin, role: str, password: str, database: str) -> str:
    """'in' when the login worked, 'auth' when the password was refused, else the reason."""
    try:
        conn: psycopg.Connection[Any] = psycopg.connect(
            admin.url_for(role, password, database), connect_timeout=max(2, round(admin.timeout))
        )
    except psycopg.Error as exc:
        text = str(exc)
        if "password authentication failed" in text:
            return "auth"
        if "permission denied for database" in text:
            return "denied"  # the password was accepted; CONNECT was not
        return text.strip().splitlines()[-1] if text.strip() else type(exc).__name__
    conn.close()
    return "in"


def _passwords(admin: PostgresAdmin, where: str, role: str, password: str, home: str) -> Finding:
    wrong = _try(admin, role, password + "-wrong", home)
    if wrong in ("in", "denied"):
        return Finding(
            "fail",
            CHECK_AUTH,
            f"{where} let a role in with a WRONG password (pg_hba.conf `trust`): demo roles "
            "isolate nothing, any demo can log in as any role",
            "in pg_hba.conf use `scram-sha-256` (not `trust`) for every role but local admin "
            "sockets, then `SELECT pg_reload_conf()`",
        )
    right = _try(admin, role, password, home)
    if right not in ("in", "denied"):
        return Finding(
            "fail",
            CHECK_AUTH,
            f"{where} refused a role with its right password ({right}): demos cannot log in",
            "allow password logins (`host all all <demo network> scram-sha-256`) in pg_hba.conf",
        )
    if wrong != "auth":
        return Finding("warn", CHECK_AUTH, f"{where}: a wrong password gave: {wrong}")
    return Finding("ok", CHECK_AUTH, f"{where} refuses a demo role with a wrong password")


def _databases(
    admin: PostgresAdmin, where: str, role: str, password: str, open_ones: list[str]
) -> Finding:
    """Databases any role may connect to: the catalog names them, a login confirms."""
    tried = {name: _try(admin, role, password, name) for name in open_ones[:TRIED_AT_MOST]}
    reached = [name for name, result in tried.items() if result == "in"]
    if not open_ones:
        return Finding("ok", CHECK_CONNECT, f"{where}: no database grants CONNECT to PUBLIC")
    shown = ", ".join(open_ones[:5]) + (
        f" and {len(open_ones) - 5} more" if len(open_ones) > 5 else ""
    )
    proof = f"; a throwaway role logged into {', '.join(reached[:3])}" if reached else ""
    first = open_ones[0]
    return Finding(
        "fail",
        CHECK_CONNECT,
        f"{where}: {len(open_ones)} non-demo database(s) let every role connect ({shown}){proof}",
        f'`REVOKE CONNECT ON DATABASE "{first}" FROM PUBLIC` (each of them; then GRANT CONNECT '
        "to the roles that use it)",
    )
