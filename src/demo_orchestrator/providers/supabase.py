"""The `supabase` database provider: a Supabase project (or a branch of one) per demo.

Through the Management API: `ensure` finds or creates the project (`POST /v1/projects` with the
organization slug, a derived database password and the region) and looks once at
`GET /v1/projects/{ref}/health`; while a service is not ACTIVE_HEALTHY it raises `NotReady`, so
no worker sleeps through the minute or two a project takes to come up: the engine asks again
later. Once healthy it returns the database URL and the API keys. `DELETE /v1/projects/{ref}` on
teardown. With `DEMO_SUPABASE_PARENT_PROJECT` set, each demo is a branch of that project instead
(cheaper and quicker), through `/v1/projects/{parent}/branches` and `/v1/branches/{id}`.

Projects cannot be cloned from a seeded template (`clones_seeded_template = False`), so the
engine calls `seed`, which runs the blueprint's migrate and seed commands once. Progress is
recorded inside the project (`demo_orchestrator.seeding` then `.seeded`), so after a crash
`ensure` knows whether seeding finished; a project found half-seeded is deleted and made again,
since blueprint migrations are not required to be re-runnable. The Management API has no tags,
so the marker is the name: `demo-ab12cd-<owner>`; `owned()` only reads names of that shape.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from demo_orchestrator.domain.errors import NotReady, ProviderError, TemporaryError
from demo_orchestrator.providers.base import (
    DatabaseProvider,
    Health,
    InstanceSpec,
    Outputs,
    ProviderSettings,
    own_settings,
)
from demo_orchestrator.providers.fingerprint import template_fingerprint
from demo_orchestrator.providers.ownership import Passwords, Unreachable, owner_of
from demo_orchestrator.providers.seeding import run_data_commands
from demo_orchestrator.providers.supabase_api import SupabaseApi
from demo_orchestrator.settings import Settings

log = logging.getLogger(__name__)

HEALTHY = "ACTIVE_HEALTHY"
SERVICES = ("db", "auth", "rest")
SEED_STATE = (
    "SELECT to_regclass('demo_orchestrator.seeding') IS NOT NULL AS started, "
    "to_regclass('demo_orchestrator.seeded') IS NOT NULL AS done"
)


class SupabaseSettings(ProviderSettings):
    model_config = SettingsConfigDict(env_prefix="DEMO_SUPABASE_")

    access_token: str | None = Field(
        default=None,
        repr=False,  # a secret
        description="Management API token (sbp_...); no default: it may create and delete "
        "projects of the organization.",
    )
    organization: str | None = Field(
        default=None,
        description="Organization slug demo projects are created in; not needed when demos are "
        "branches of DEMO_SUPABASE_PARENT_PROJECT.",
    )
    region: str = Field(
        default="us-east-1",
        description="Region of new demo projects; us-east-1 is Supabase's own default.",
    )
    api_url: str = Field(
        default="https://api.supabase.com",
        description="Base URL of the Management API: the public one (a local stand-in in tests).",
    )
    parent_project: str | None = Field(
        default=None,
        description="Project ref; when set each demo is a branch of it instead of a project "
        "(cheaper and quicker to make).",
    )
    ready_timeout_seconds: float = Field(
        default=600.0,
        gt=0,
        description="How long a new project may take to become ACTIVE_HEALTHY (s) before the "
        "wait counts as a failed attempt; projects usually take one to three minutes.",
    )
    poll_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How often the engine looks again at a project still coming up (s); each "
        "look costs API calls of the ~120 a minute the Management API allows.",
    )

    def missing_fields(self) -> list[str]:
        missing = [] if self.access_token else ["access_token"]
        if not self.organization and not self.parent_project:
            missing.append("organization")
        return missing


class SupabaseDatabase(DatabaseProvider):
    name = "supabase"
    settings_model = SupabaseSettings
    clones_seeded_template = False

    def __init__(
        self,
        *,
        api: SupabaseApi,
        organization: str,
        region: str,
        owner: str,
        passwords: Passwords,
        home: Path,
        parent_project: str | None = None,
        ready_timeout: float = 600.0,
        poll: float = 5.0,
    ) -> None:
        self.api = api
        self.organization = organization
        self.region = region
        self.owner = owner
        self.passwords = passwords
        self.parent = parent_project
        self.ready_timeout = ready_timeout
        self.poll = poll
        self.kind_of_project = "branch" if parent_project else "project"
        self.workdir = home.resolve() / "templates" / "supabase"
        self._name = re.compile(rf"^(demo-[a-z0-9]{{6}})-{re.escape(owner)}$")

    @classmethod
    def from_settings(cls, settings: Settings, own: ProviderSettings | None = None) -> Self:
        config = own_settings(cls.name, SupabaseSettings, own)
        return cls(
            api=SupabaseApi(
                base_url=config.api_url,
                token=config.access_token or "",
                timeout=max(settings.data_service_timeout_seconds, 10.0),
            ),
            organization=config.organization or "",
            region=config.region,
            owner=owner_of(settings),
            passwords=Passwords.from_settings(settings),
            home=settings.home,
            parent_project=config.parent_project,
            ready_timeout=config.ready_timeout_seconds,
            poll=config.poll_seconds,
        )

    def close(self) -> None:
        self.api.close()

    # -- protocol ------------------------------------------------------------------------------

    def ensure(self, *, spec: InstanceSpec) -> Outputs:
        name = self.project_name(spec.instance_id)
        password = self.passwords.of("supabase", self.owner, name)
        found = self._find(name) or self._create(name, password)
        ref = str(found["ref"])
        healthy, status = self._status(found)
        if not healthy:
            raise NotReady(
                f"Supabase {self.kind_of_project} {ref} is coming up ({status})",
                delay=self.poll,
                timeout=self.ready_timeout,
            )
        seeding = self._seed_state(ref)
        if seeding == "interrupted":
            self._delete(found)
            raise TemporaryError(
                f"Supabase {ref} was left half-seeded (a crash?); deleted it, making it again",
                delay=self.poll,
            )
        db = self._database(found)
        url = (
            f"postgresql://{db['user']}:{db['password'] or password}@{db['host']}:{db['port']}"
            f"/{db['name']}"
        )
        keys = {
            k.get("name"): k.get("api_key")
            for k in self.api.get(f"/v1/projects/{ref}/api-keys") or []
        }
        env = {"DATABASE_URL": url, "SUPABASE_URL": db["endpoint"]}
        env.update({f"SUPABASE_{k.upper()}_KEY": str(v) for k, v in keys.items() if k and v})
        message = "exists, seeded" if seeding == "done" else f"{ref} is healthy, to be seeded"
        return Outputs(env=env, state={self.kind_of_project: name, "ref": ref}, message=message)

    def seed(self, *, spec: InstanceSpec) -> Outputs:
        """Migrate and seed the project `ensure` made, once, with progress markers inside it."""
        name = self.project_name(spec.instance_id)
        url = spec.env.get("DATABASE_URL")
        found = self._find(name)
        if found is None or not url:
            raise TemporaryError(f"Supabase {name} is not there to seed; ensure it first")
        ref = str(found["ref"])
        seeding = self._seed_state(ref)
        if seeding == "done":
            return Outputs(message=f"{ref} is already seeded")
        if seeding == "interrupted":
            self._delete(found)
            raise TemporaryError(
                f"Supabase {ref} was left half-seeded (a crash?); deleted it, making it again",
                delay=self.poll,
            )
        self._query(
            ref,
            "CREATE SCHEMA IF NOT EXISTS demo_orchestrator; "
            "CREATE TABLE demo_orchestrator.seeding (at timestamptz DEFAULT now())",
        )
        self.workdir.mkdir(parents=True, exist_ok=True)
        run_data_commands(
            spec.blueprint,
            spec.scenario,
            database_url=url,
            cwd=self.workdir,
            secret=urlsplit(url).password,
            instance_id=spec.instance_id,
        )
        key = template_fingerprint(spec.blueprint, spec.scenario)
        self._query(
            ref,
            "CREATE TABLE demo_orchestrator.seeded (fingerprint text NOT NULL); "
            f"INSERT INTO demo_orchestrator.seeded VALUES ('{key}')",
        )
        return Outputs(message=f"migrated and seeded {ref}")

    def destroy(self, *, instance_id: str) -> None:
        name = self.project_name(instance_id)
        try:
            found = self._find(name)
            if found is not None:
                self._delete(found)
        except Unreachable as exc:
            log.warning("%s; the orphan sweep removes %s once it answers", exc.detail, name)

    def probe(self, *, instance_id: str) -> Health:
        found = self._find(self.project_name(instance_id))
        if found is None:
            return Health(False, f"no such Supabase {self.kind_of_project}")
        return Health(*self._status(found))

    def owned(self) -> set[str]:
        return {m.group(1) for item in self._list() if (m := self._name.match(str(item["name"])))}

    # -- steps ---------------------------------------------------------------------------------

    def project_name(self, instance_id: str) -> str:
        return f"{instance_id}-{self.owner}"

    def _list(self) -> list[dict[str, Any]]:
        path = f"/v1/projects/{self.parent}/branches" if self.parent else "/v1/projects"
        items = self.api.get(path) or []
        if not isinstance(items, list):
            raise ProviderError(f"Supabase answered GET {path} with something not a list")
        return [i for i in items if isinstance(i, dict) and "name" in i]

    def _find(self, name: str) -> dict[str, Any] | None:
        for item in self._list():
            if item["name"] == name:
                ref = item.get("ref") or item.get("project_ref") or item.get("id")
                return {**item, "ref": ref}
        return None

    def _create(self, name: str, password: str) -> dict[str, Any]:
        if self.parent:
            body: dict[str, Any] = {"branch_name": name, "region": self.region}
            made = self.api.request("POST", f"/v1/projects/{self.parent}/branches", json=body)
            ref = made.get("project_ref") or made.get("ref")
        else:
            body = {
                "name": name,
                "organization_slug": self.organization,
                "db_pass": password,
                "region": self.region,
            }
            made = self.api.request("POST", "/v1/projects", json=body)
            ref = made.get("ref") or made.get("id")
        log.info("created Supabase %s %s (%s)", self.kind_of_project, name, ref)
        return {**made, "ref": ref}

    def _delete(self, found: dict[str, Any]) -> None:
        if self.parent:
            self.api.request("DELETE", f"/v1/branches/{found['id']}")
        else:
            self.api.request("DELETE", f"/v1/projects/{found['ref']}")

    def _status(self, found: dict[str, Any]) -> tuple[bool, str]:
        """One look: (every service ACTIVE_HEALTHY, what the API says)."""
        if self.parent:
            branch = self.api.get(f"/v1/branches/{found['id']}") or {}
            status = str(branch.get("status", ""))
            return status == HEALTHY, status or "no status"
        ref = found["ref"]
        checks = self.api.get(f"/v1/projects/{ref}/health", services=list(SERVICES)) or []
        statuses = {str(c.get("name")): str(c.get("status")) for c in checks}
        healthy = bool(statuses) and all(s == HEALTHY for s in statuses.values())
        return healthy, ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())) or "no status"

    def _database(self, found: dict[str, Any]) -> dict[str, Any]:
        """How to reach the (healthy) project's database."""
        ref = str(found["ref"])
        if self.parent:
            branch = self.api.get(f"/v1/branches/{found['id']}") or {}
            return {
                "host": branch["db_host"],
                "port": branch.get("db_port", 5432),
                "user": branch.get("db_user", "postgres"),
                "password": branch.get("db_pass"),
                "name": branch.get("db_name", "postgres"),  # set only by the local stand-in
                "endpoint": f"https://{ref}.supabase.co",
            }
        project = self.api.get(f"/v1/projects/{ref}") or {}
        database = project.get("database") or {}
        return {
            # `port`, `user`, `name` and `endpoint` are absent from the real API (5432, postgres,
            # postgres, https://<ref>.supabase.co); the local stand-in in tests sets them.
            "host": database.get("host") or f"db.{ref}.supabase.co",
            "port": database.get("port", 5432),
            "user": database.get("user", "postgres"),
            "password": None,
            "name": database.get("name", "postgres"),
            "endpoint": project.get("endpoint") or f"https://{ref}.supabase.co",
        }

    def _query(self, ref: str, query: str) -> list[dict[str, Any]]:
        rows = self.api.request("POST", f"/v1/projects/{ref}/database/query", json={"query": query})
        return rows if isinstance(rows, list) else []

    def _seed_state(self, ref: str) -> str:
        """`none` (never seeded), `interrupted` (started, never finished) or `done`."""
        state = (self._query(ref, SEED_STATE) or [{}])[0]
        if state.get("done"):
            return "done"
        return "interrupted" if state.get("started") else "none"
