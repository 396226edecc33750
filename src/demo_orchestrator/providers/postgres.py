"""The `postgres` database provider: a LOGIN role and a database per demo on a shared server.

Each demo's database is `CREATE DATABASE demo_ab12cd TEMPLATE <seeded template> OWNER demo_ab12cd`,
a file-level copy that takes milliseconds whatever the data size, so no demo ever waits for
migrations or seeds. The template per (blueprint, scenario, fingerprint) is built once, under an
advisory lock so replicas never race, by running the blueprint's migrate and seed commands as a
builder role; it is then marked `IS_TEMPLATE true ALLOW_CONNECTIONS false`, so no stray session
can make a clone fail with "source database is being accessed by other users". A changed
fingerprint (migrations or seed code) builds a new template (see `postgres_templates.py`).

Database-level grants are not copied by a clone, so after every clone `REVOKE ALL ... FROM
PUBLIC` is applied again and what the builder owned is handed to the demo's role. Roles get a
CONNECTION LIMIT and no CREATEDB/CREATEROLE. Every role and database is named after the instance
and commented `managed-by demo-orchestrator <owner> instance`, so `owned()` (and thus the orphan
sweep) never sees another team's `demo_*` objects. When the orchestrator's own store lives on the
same server, CONNECT on it is revoked from PUBLIC, so no demo role can reach it.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit

import psycopg
from psycopg import sql
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from demo_orchestrator.domain.blueprint import Blueprint, Scenario
from demo_orchestrator.domain.errors import PermanentError, ProviderError
from demo_orchestrator.providers import postgres_doctor
from demo_orchestrator.providers.base import (
    DatabaseProvider,
    Finding,
    Health,
    InstanceSpec,
    Outputs,
    ProviderSettings,
    own_settings,
)
from demo_orchestrator.providers.ownership import (
    Passwords,
    Unreachable,
    first_line,
    marker,
    owner_of,
)
from demo_orchestrator.providers.postgres_admin import Ident, PostgresAdmin
from demo_orchestrator.providers.postgres_saved import PostgresSavedTemplates
from demo_orchestrator.providers.postgres_templates import PostgresTemplates
from demo_orchestrator.settings import Settings

log = logging.getLogger(__name__)

_INSTANCE_DB = re.compile(r"^demo_[a-z0-9]{6}$")


class PostgresSettings(ProviderSettings):
    model_config = SettingsConfigDict(env_prefix="DEMO_POSTGRES_")

    admin_url: str | None = Field(
        default=None,
        repr=False,  # holds a password
        description="postgresql://admin:password@host:5432/postgres of a role with CREATEDB and "
        "CREATEROLE; no default: the provider makes a role and a database per demo on it.",
    )
    connection_limit: int = Field(
        default=20,
        gt=0,
        description="CONNECTION LIMIT of each demo's role (connections); enough for a demo's "
        "pools, low enough that one demo cannot exhaust the server.",
    )

    def missing_fields(self) -> list[str]:
        return [] if self.admin_url else ["admin_url"]


def database_name(instance_id: str) -> str:
    return instance_id.replace("-", "_")


class PostgresDatabase(DatabaseProvider):
    name = "postgres"
    settings_model = PostgresSettings

    def __init__(
        self,
        *,
        admin_url: str,
        home: Path,
        owner: str,
        passwords: Passwords,
        connection_limit: int = 20,
        timeout: float = 5.0,
        store_url: str | None = None,
    ) -> None:
        self.admin = PostgresAdmin(admin_url, timeout=timeout)
        self.owner = owner
        self.marker = marker(owner)
        self.instance_marker = f"{self.marker} instance"
        self.passwords = passwords
        self.connection_limit = connection_limit
        self.templates = PostgresTemplates(
            self.admin,
            owner=owner,
            marker=self.marker,
            passwords=passwords,
            workdir=home.resolve() / "templates" / "postgres",
        )
        self.saved = PostgresSavedTemplates(self.admin, templates=self.templates)
        self._store_url = store_url
        self._store_hardened = False

    @classmethod
    def from_settings(cls, settings: Settings, own: ProviderSettings | None = None) -> Self:
        postgres = own_settings(cls.name, PostgresSettings, own)
        assert postgres.admin_url is not None  # own_settings refuses incomplete settings
        return cls(
            admin_url=postgres.admin_url,
            home=settings.home,
            owner=owner_of(settings),
            passwords=Passwords.from_settings(settings),
            connection_limit=postgres.connection_limit,
            timeout=settings.data_service_timeout_seconds,
            store_url=settings.store_url,
        )

    # -- protocol ------------------------------------------------------------------------------

    def ensure(self, *, spec: InstanceSpec) -> Outputs:
        name = database_name(spec.instance_id)
        password = self.passwords.of("postgres", self.owner, name)
        with self.admin.connect() as conn:
            self._harden_store(conn)
            role_comment, db_comment, db_owner = self.admin.lookup(conn, name)
            foreign_role = role_comment not in (None, self.instance_marker)
            foreign_db = (
                db_owner is not None and db_comment != self.instance_marker and db_owner != name
            )
            if foreign_role or foreign_db:
                raise PermanentError(
                    f"PostgreSQL already has a role or database {name} not managed by this "
                    f"orchestrator ({self.marker}); refusing to touch it"
                )
            template = self._template_for(spec.blueprint, spec.scenario, clone=db_owner is None)
            with conn.transaction():
                verb = "ALTER" if role_comment is not None else "CREATE"
                conn.execute(
                    sql.SQL(
                        "{} ROLE {} WITH LOGIN PASSWORD {} CONNECTION LIMIT {} NOSUPERUSER "
                        "NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"
                    ).format(
                        sql.SQL(verb),
                        Ident(name),
                        sql.Literal(password),
                        sql.Literal(self.connection_limit),
                    )
                )
                conn.execute(self.admin.comment("ROLE", name, self.instance_marker))
            created = db_owner is None
            if created:
                # Born closed: a new database grants CONNECT to PUBLIC until the REVOKE below,
                # and a session another role opens in that moment would outlive the REVOKE.
                conn.execute(
                    sql.SQL(
                        "CREATE DATABASE {} TEMPLATE {} OWNER {} ALLOW_CONNECTIONS false"
                    ).format(Ident(name), Ident(template), Ident(name))
                )
            conn.execute(self.admin.comment("DATABASE", name, self.instance_marker))
            # Database grants are not copied from the template: apply them after every clone.
            conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(Ident(name)))
            conn.execute(
                sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(
                    Ident(name), Ident(name)
                )
            )
            conn.execute(
                sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true").format(Ident(name))
            )
        with self.admin.connect(dbname=name) as conn:
            # What the builder made in the template now belongs to the demo's role.
            if self.admin.role_exists(conn, self.templates.builder):
                conn.execute(
                    sql.SQL("REASSIGN OWNED BY {} TO {}").format(
                        Ident(self.templates.builder), Ident(name)
                    )
                )
                # Not DROP OWNED: it also revokes the builder's privileges on shared objects,
                # i.e. CONNECT on a template another thread is seeding right now.
                for target in (
                    "SCHEMA public",
                    "ALL TABLES IN SCHEMA public",
                    "ALL SEQUENCES IN SCHEMA public",
                    "ALL FUNCTIONS IN SCHEMA public",
                ):
                    conn.execute(
                        sql.SQL("REVOKE ALL ON {} FROM {}").format(
                            sql.SQL(target), Ident(self.templates.builder)
                        )
                    )
        self.prove(name, password)
        return Outputs(
            env={"DATABASE_URL": self.url_for(name, password, name)},
            state={"database": name, "role": name, "template": template},
            message=f"cloned from template {template}" if created else "exists",
        )

    def destroy(self, *, instance_id: str) -> None:
        name = database_name(instance_id)
        try:
            self._destroy(name)
        except Unreachable as exc:
            log.warning("%s; the orphan sweep removes %s once it answers", exc.detail, name)

    def reset(self, *, instance_id: str) -> None:
        """Pristine: the demo's database is dropped `WITH (FORCE)` (which ends its sessions
        first) and `ensure`, run right after, clones it again from the seeded template with
        `CREATE DATABASE ... TEMPLATE` (a file-level copy, milliseconds). The role and its
        password stay, so the DATABASE_URL the demo holds keeps working once it reconnects."""
        name = database_name(instance_id)
        with self.admin.connect() as conn:
            role_comment, db_comment, db_owner = self.admin.lookup(conn, name)
            ours_role = role_comment == self.instance_marker
            if db_owner is not None and (
                db_comment == self.instance_marker or (db_owner == name and ours_role)
            ):
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(Ident(name)))

    def _destroy(self, name: str) -> None:
        with self.admin.connect() as conn:
            role_comment, db_comment, db_owner = self.admin.lookup(conn, name)
            ours_role = role_comment == self.instance_marker
            if db_owner is not None and (
                db_comment == self.instance_marker or (db_owner == name and ours_role)
            ):
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(Ident(name)))
            if ours_role:
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                    [name],
                )
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(Ident(name)))

    def probe(self, *, instance_id: str) -> Health:
        name = database_name(instance_id)
        with self.admin.connect() as conn:
            role_comment, _, db_owner = self.admin.lookup(conn, name)
        if db_owner is None or role_comment is None:
            return Health(False, f"database or role {name} is missing")
        return Health(True, f"database {name} exists")

    def owned(self) -> set[str]:
        with self.admin.connect() as conn:
            rows = conn.execute(
                "SELECT datname FROM pg_database WHERE datname ~ '^demo_[a-z0-9]{6}$' "
                "AND shobj_description(oid, 'pg_database') = %(m)s "
                "UNION SELECT rolname FROM pg_roles WHERE rolname ~ '^demo_[a-z0-9]{6}$' "
                "AND shobj_description(oid, 'pg_authid') = %(m)s",
                {"m": self.instance_marker},
            ).fetchall()
        return {str(r[0]).replace("_", "-", 1) for r in rows if _INSTANCE_DB.match(str(r[0]))}

    def prove(self, name: str, password: str) -> None:
        """Log in as the demo will (its role, its password, its database) and run a query."""
        try:
            with psycopg.connect(
                self.url_for(name, password, name),
                connect_timeout=max(2, round(self.admin.timeout)),
            ) as conn:
                conn.execute("SELECT 1").fetchone()
        except psycopg.Error as exc:
            detail = first_line(exc).replace(password, "***")
            raise ProviderError(
                f"PostgreSQL database {name}: login as role {name} at "
                f"{self.admin.host[0]}:{self.admin.host[1]} failed: {detail}"
            ) from exc

    def doctor(self) -> list[Finding]:
        """A wrong password refused, no non-demo database open to PUBLIC (see postgres_doctor)."""
        return postgres_doctor.check(self.admin)

    # -- templates -----------------------------------------------------------------------------

    def template_name(self, blueprint: Blueprint, scenario: Scenario) -> str:
        return self.templates.name(blueprint, scenario)

    def prepare_template(self, *, blueprint: Blueprint, scenario: Scenario) -> None:
        self.templates.prepare(blueprint, scenario)

    def _template_for(self, blueprint: Blueprint, scenario: Scenario, *, clone: bool) -> str:
        """The template a demo's database is (or was) cloned from. A saved template may have
        been deleted since: only a database still to be cloned needs it to exist."""
        if scenario.based_on is None:
            return self.templates.prepare(blueprint, scenario)
        name = self.saved.name(scenario.name)
        if clone and not self.templates.ready(name):
            raise PermanentError(
                f"saved template {scenario.name} has been deleted; create the demo from "
                f"{scenario.based_on} or another template"
            )
        return name

    def save_template(
        self, *, instance_id: str, blueprint: Blueprint, base: Scenario, name: str
    ) -> dict[str, int]:
        """See `postgres_saved.py`: a brief pause of the demo's sessions, then a clone."""
        self.templates.prepare(blueprint, base)  # the builder role the copy's objects go to
        return self.saved.save(
            source=database_name(instance_id), name=name, label=f"{blueprint.name}/{name}"
        )

    def drop_saved_template(self, *, blueprint: str, name: str) -> None:
        self.saved.drop(name)

    def saved_templates(self) -> set[tuple[str, str]]:
        return self.saved.held()

    def remove_templates(self) -> list[str]:
        """Drop every template (saved ones too) and the builder role of this owner (for tests
        and clean-up)."""
        return [*self.saved.remove_all(), *self.templates.remove_all()]

    # -- helpers -------------------------------------------------------------------------------

    def url_for(self, role: str, password: str, database: str) -> str:
        return self.admin.url_for(role, password, database)

    def _harden_store(self, conn: psycopg.Connection[Any]) -> None:
        """No demo role may connect to the orchestrator's store when it shares this server."""
        if self._store_hardened or not self._store_url:
            return
        self._store_hardened = True
        store = urlsplit(self._store_url)
        if (
            not store.scheme.startswith("postgres")
            or (
                store.hostname,
                store.port or 5432,
            )
            != self.admin.host
        ):
            return
        database = store.path.lstrip("/") or store.username or "postgres"
        user = store.username or "postgres"
        try:
            conn.execute(
                sql.SQL("REVOKE CONNECT ON DATABASE {} FROM PUBLIC").format(Ident(database))
            )
            conn.execute(
                sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(Ident(database), Ident(user))
            )
        except psycopg.Error as exc:
            log.warning("cannot revoke CONNECT on the store database: %s", first_line(exc))
