"""The core settings of the orchestrator, read from `DEMO_*` environment variables.

Only what belongs to no single provider lives here (home, store, secret key, resource owner,
quotas, engine timings, which provider fills each slot); each provider declares its own settings
model read from `DEMO_<ENTRY POINT>_*` (see `providers/base.py`), so a third-party provider needs
nothing added here. Every field has a one-line description (unit and why this default); a test
checks that each one, core or provider, is documented in the README. Secrets have no default
outside the embedded mode, and placeholder values are refused at start.
"""

from __future__ import annotations

from pathlib import Path

import limits
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
    # -- provider slots: each names a registered provider (entry point); see providers/registry
    runtime: str = Field(default="local", description="Runtime provider: local (processes).")
    database_provider: str = Field(
        default="sqlite",
        description="Database provider: sqlite (file per demo), postgres, supabase.",
    )
    cache_provider: str | None = Field(
        default=None,
        description="Cache provider; unset: the installed one whose settings are set (redis when "
        "DEMO_REDIS_URL is), else none; `none`: no cache even when one is configured.",
    )
    broker_provider: str | None = Field(
        default=None,
        description="Broker provider; unset: the installed one whose settings are set (rabbitmq "
        "when DEMO_RABBITMQ_URL is), else none; `none`: no broker.",
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
    sales_max_hours: float = Field(
        default=2.0,
        gt=0,
        description="Sales requests up to this many hours start at once; longer wait for approval.",
    )
    sales_max_concurrent: int = Field(
        default=2,
        ge=0,
        description="Sales requests start at once while the user has fewer live demos.",
    )
    session_hours: float = Field(
        default=12.0, gt=0, description="Life of a web sign-in session (hours)."
    )
    admin_token: str | None = Field(
        default=None,
        description="Bootstraps an admin API token with this value; generated into DEMO_HOME if unset.",
    )
    admin_password: str | None = Field(
        default=None, description="Creates the web user `admin` with this password on first start."
    )
    login_rate_per_user: str = Field(
        default="5/minute;20/hour",
        description="Failed sign-ins allowed per user name (`limits` notation, `;` between "
        "windows: a lock of a minute, then of an hour); more are answered 429.",
    )
    login_rate_per_address: str = Field(
        default="20/minute;100/hour",
        description="Failed sign-ins allowed per client address, across user names (more "
        "generous: offices share an address); more are answered 429.",
    )
    login_throttle_storage: str = Field(
        default="memory://",
        description="Where sign-in counts live (`limits` storage URL): memory:// counts per "
        "replica; redis://host:6379/0 shares them between replicas.",
    )
    token_max_days: int = Field(
        default=366, gt=0, description="Latest `expires_at` an API token may get, in days ahead."
    )
    secret_key: str | None = Field(
        default=None,
        description="Fernet key encrypting secrets at rest; generated into DEMO_HOME if unset.",
    )
    allow_insecure: bool = Field(
        default=False,
        description="Start even when `democtl doctor` finds a data server that would not isolate "
        "demos (trust auth, Redis default user without password); logged as a warning.",
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
    engine: bool = Field(
        default=True,
        description="Run the reconciler in this process; false for an API-only replica.",
    )
    engine_workers: int = Field(
        default=16,
        gt=0,
        description="Worker threads of the engine; waits never hold one, so a few go far.",
    )
    feed_poll_seconds: float = Field(
        default=1.0,
        gt=0,
        description="Safety-net period (s) of the change feed's read; commits and NOTIFY wake it.",
    )
    warm_pool: str = Field(
        default="",
        description="Warm-pool targets to start with, `scenario=count` pairs (agency=2,startup=1); "
        "read while the store holds none, PUT /api/v1/warm-pool/{scenario} sets them after.",
    )
    idle_minutes: float = Field(
        default=15.0,
        ge=0,
        description="A ready demo with no request through the router for this long sleeps "
        "(minutes; 0: never); the next request wakes it.",
    )
    wake_hold_seconds: float = Field(
        default=10.0,
        ge=0,
        description="How long the router holds the first request to a sleeping demo while it "
        "wakes (s), before answering with a refreshing 'waking up' page instead.",
    )
    router_connect_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How long the router waits to connect to a demo service (s; loopback "
        "connects in well under a millisecond) before a 502 page.",
    )
    router_read_timeout_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How long the router waits for a demo's answer head (status and headers, "
        "s) before a 504 page; a body already streaming (server-sent events) is not cut.",
    )
    router_total_timeout_seconds: float = Field(
        default=90.0,
        gt=0,
        description="Bound on a whole upstream exchange up to the answer head (connect, request "
        "body, retries, head; s) before a 504 page; a body already streaming is not cut.",
    )
    max_streams_per_user: int = Field(
        default=20, gt=0, description="Open event streams one user may hold at once (429 past it)."
    )
    max_streams: int = Field(
        default=500,
        gt=0,
        description="Open event streams this process serves in total (429 past it).",
    )
    create_rate_per_user: str = Field(
        default="20/minute",
        description="Creates one user may make, moving window in `limits` notation (429 past it).",
    )
    heal_restarts: int = Field(
        default=3,
        ge=0,
        description="Restarts of a demo service that stopped answering its health path before "
        "the demo is shown `degraded` (back-off doubles from DEMO_HEAL_SECONDS).",
    )
    probe_timeout_seconds: float = Field(
        default=2.0,
        gt=0,
        description="How long the local runtime's health probe waits for a service's health "
        "path (s) before it counts the service as not answering (hung).",
    )
    heal_seconds: float = Field(
        default=10.0,
        gt=0,
        description="How often ready demos are checked (s): dead processes, and services that do "
        "not answer their health path over HTTP.",
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
    data_service_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        description="Connect and request time-out towards every data service's server (s); short, "
        "so a server that is down fails a step fast and the engine retries it later.",
    )
    allowed_hosts: str | None = Field(
        default=None,
        description="Names the orchestrator's own pages answer to, comma-separated (`*.example.com`"
        " for subdomains, `*` for any); unset: the serve host, localhost, 127.0.0.1, [::1], the "
        "base domain and admin.<base domain>. Guards the UI against DNS rebinding.",
    )
    metrics_token: str | None = Field(
        default=None,
        description="When set, /metrics asks for `Authorization: Bearer <this>` (Prometheus' "
        "`authorization` scrape option); unset: /metrics is open, as Prometheus expects by default.",
    )
    expiry_warning_minutes: str = Field(
        default="15,5",
        description="Minutes before expiry when `expiring` notifications go out, comma-separated "
        "(a reminder per lead time; an extension makes them due again); empty: none.",
    )
    start_reminder_minutes: str = Field(
        default="15",
        description="Minutes before a booked demo's start when `starting` notifications go out, "
        "comma-separated (a reminder per lead time); empty: none.",
    )
    booking_lead_floor_seconds: float = Field(
        default=60.0,
        ge=0,
        description="Least time (s) a booked demo is provisioned ahead of its start, however "
        "fast its scenario was made before.",
    )
    booking_lead_factor: float = Field(
        default=2.0,
        ge=1,
        description="Safety factor on the p95 of a scenario's recent provisioning times: the "
        "lead time a booked demo is made ahead of its start.",
    )
    booking_lead_default_seconds: float = Field(
        default=300.0,
        ge=0,
        description="Lead time (s) of a booked demo whose scenario has no provisioning history "
        "yet (the floor still applies).",
    )
    webhook_timeout_seconds: float = Field(
        default=5.0, gt=0, le=60, description="Time-out of one webhook delivery attempt (s)."
    )
    webhook_max_attempts: int = Field(
        default=6,
        ge=1,
        le=20,
        description="Attempts of a webhook delivery before it is marked failed (first included).",
    )
    webhook_retry_base_seconds: float = Field(
        default=5.0,
        gt=0,
        description="Back-off before the 2nd attempt (s); x6 for each later one, capped at 1 h "
        "(5 s, 30 s, 3 min, 18 min, 1 h).",
    )
    webhook_allow_private_networks: bool = Field(
        default=False,
        description="Let webhooks go to loopback, private and link-local addresses (a receiver "
        "on this machine or the LAN); off: public addresses only, so a URL cannot reach internals.",
    )
    smtp_url: str | None = Field(
        default=None,
        description="SMTP server notification e-mails go through: smtp://[user:pw@]host[:port] "
        "(STARTTLS when offered; ?starttls=require|off) or smtps://host:465; unset: no e-mail.",
    )
    smtp_from: str = Field(
        default="demo-orchestrator@localhost",
        description="From address of notification e-mails.",
    )
    activity_url: str | None = Field(
        default=None,
        description="Base URL demos report engagement to (DEMO_ORCHESTRATOR_URL in their "
        "environment); http://127.0.0.1:<DEMO_PORT> when unset, the in-cluster service URL on "
        "Kubernetes.",
    )
    activity_rate_per_demo: str = Field(
        default="60/minute",
        description="Engagement reports one demo may send (a stack sends one every 5 s at most); "
        "past it 429, so a demo cannot flood the store.",
    )
    ended_page_days: int = Field(
        default=7,
        ge=0,
        le=3650,
        description="Days a demo's hosts answer 410 'This demo has ended' (naming its owner to "
        "contact) after it was deleted or expired, before they answer 404 like unknown hosts; "
        "0: never.",
    )
    resource_owner: str | None = Field(
        default=None,
        description="Marker on every server-side resource so the orphan sweep touches only its "
        "own; a hash of the store URL when unset.",
    )

    @field_validator("admin_token", "admin_password", "secret_key", "metrics_token")
    @classmethod
    def _no_placeholder(cls, value: str | None) -> str | None:
        if value is not None and value.strip().lower() in PLACEHOLDER_SECRETS:
            raise ValueError("is a placeholder; set a real secret")
        if value is not None and len(value) < 8:
            raise ValueError("is too short; use at least 8 characters")
        return value

    @field_validator("expiry_warning_minutes", "start_reminder_minutes")
    @classmethod
    def _leads(cls, value: str) -> str:
        parts = [p.strip() for p in value.split(",") if p.strip()]
        if not all(p.isdigit() and 0 < int(p) <= 1440 for p in parts):
            raise ValueError("is whole minutes between 1 and 1440, comma-separated (e.g. 15,5)")
        return ",".join(parts)

    @field_validator("login_rate_per_user", "login_rate_per_address")
    @classmethod
    def _rate(cls, value: str) -> str:
        from limits import parse_many

        try:
            parse_many(value)
        except ValueError as exc:
            raise ValueError(f"is not a rate like 5/minute or 5/minute;20/hour ({exc})") from exc
        return value

    @field_validator("create_rate_per_user", "activity_rate_per_demo")
    @classmethod
    def _create_rate(cls, value: str) -> str:
        try:
            limits.parse(value)
        except ValueError:
            raise ValueError("is not a rate; write it like 20/minute or 100/hour") from None
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
