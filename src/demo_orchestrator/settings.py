"""One settings root for the whole orchestrator, read from `DEMO_*` environment variables.

Every field has a one-line description (unit and why this default); a test checks that each one is
documented in the README. Secrets have no default outside the embedded mode, and placeholder
values are refused at start.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRETS = {"changeme", "change-me", "secret", "password", "admin", "token", "xxx"}


def _default_home() -> Path:
    return Path.cwd() / ".demo"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DEMO_", extra="ignore")

    home: Path = Field(
        default_factory=_default_home,
        description="Data folder: store, templates, per-instance files and logs (./.demo).",
    )
    host: str = Field(
        default="127.0.0.1",
        description="Interface `democtl serve` listens on (loopback: the embedded default).",
    )
    port: int = Field(default=8000, description="Port of the API, the UI and every demo's hosts.")
    public_scheme: str = Field(
        default="http", description="Scheme of demo URLs (https behind a TLS ingress)."
    )
    public_port: int | None = Field(
        default=None,
        description="Port shown in demo URLs; the serve port when unset, none when 80/443.",
    )
    store_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the orchestrator's store; SQLite under DEMO_HOME if unset.",
    )
    base_domain: str = Field(
        default="localhost",
        description="Demo hosts are demo-<id>.<route>.<base domain>; browsers resolve *.localhost.",
    )
    runtime: str = Field(default="local", description="Runtime provider: local (processes).")
    database_provider: str = Field(
        default="sqlite", description="Database provider: sqlite (a file per demo)."
    )
    blueprint: str = Field(
        default="splits-network", description="Blueprint demos are made from by default."
    )
    blueprint_paths: list[Path] = Field(
        default_factory=list,
        description="Extra blueprint YAML files or folders, besides the registered ones.",
    )
    max_hours: float = Field(
        default=8.0, gt=0, description="Cap on a demo's total life in hours, extensions included."
    )
    max_instances: int = Field(
        default=200, gt=0, description="Cap on live (not deleted) demos, to protect the machine."
    )
    max_instances_per_owner: int = Field(
        default=20, gt=0, description="Cap on live demos one user may own at once."
    )
    admin_token: str | None = Field(
        default=None,
        description="Bootstraps an admin API token with this value; generated into DEMO_HOME if unset.",
    )
    admin_password: str | None = Field(
        default=None, description="Creates the web user `admin` with this password on first start."
    )
    secret_key: str | None = Field(
        default=None,
        description="Fernet key encrypting secrets at rest; generated into DEMO_HOME if unset.",
    )
    tick_seconds: float = Field(
        default=1.0, gt=0, description="Engine reconcile period (s); events wake it sooner."
    )
    step_retries: int = Field(
        default=4, ge=0, description="Retries of a temporarily failing step before `failed`."
    )
    retry_base_seconds: float = Field(
        default=0.2, ge=0, description="First retry back-off (s); doubles per retry, capped 10 s."
    )
    health_timeout_seconds: float = Field(
        default=60.0, gt=0, description="How long the health gate waits for every service (s)."
    )
    stop_grace_seconds: float = Field(
        default=3.0,
        ge=0,
        description="SIGTERM to SIGKILL grace when stopping a demo's processes (s).",
    )
    sweep_seconds: float = Field(
        default=30.0, gt=0, description="Period of the orphan sweep (s); it also runs at start."
    )
    lease_seconds: float = Field(
        default=15.0, gt=0, description="How long a replica's claim on an instance lasts unrenewed."
    )
    prebuild_templates: bool = Field(
        default=True,
        description="Build every scenario's seeded template in the background at start.",
    )
    fault_injection: str = Field(
        default="",
        description="Testing aid: `step:count` pairs (e.g. deploy:2) failing a step count times; "
        "count `always` fails it every time.",
    )

    @field_validator("admin_token", "admin_password", "secret_key")
    @classmethod
    def _no_placeholder(cls, value: str | None) -> str | None:
        if value is not None and value.strip().lower() in PLACEHOLDER_SECRETS:
            raise ValueError("is a placeholder; set a real secret")
        if value is not None and len(value) < 8:
            raise ValueError("is too short; use at least 8 characters")
        return value

    @field_validator("base_domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        return value.strip(".").lower()

    def resolved_store_url(self) -> str:
        return self.store_url or f"sqlite:///{self.home / 'orchestrator.db'}"

    def url_port_suffix(self) -> str:
        port = self.public_port if self.public_port is not None else self.port
        if (self.public_scheme, port) in {("http", 80), ("https", 443)}:
            return ""
        return f":{port}"
