"""Blueprint and scenario models: what one demo environment consists of.

A blueprint is a YAML file (see `blueprints/splits-network.yaml`). It is pure data: the engine and
the providers read it, nothing here does I/O except `load_blueprint`, which only parses a file.

Command templates are lists of strings; these placeholders are filled in by the runtime:
`{python}` (the orchestrator's interpreter), `{port}` (the service's allocated port),
`{scenario}`, `{seed}` (the scenario's seed), `{manifest}` (where a seed command writes its
manifest JSON), `{instance_id}`. On Kubernetes `{python}` is the image's `python`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from demo_orchestrator.domain.errors import InvalidBlueprint

_NAME = r"^[a-z][a-z0-9-]{0,40}$"
# `package.module:callable` or `path/to/file.py:callable`
_ENTRY = r"^[\w./-]+:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Service(_Model):
    """One long-running process (local runtime) or Deployment (Kubernetes) of the demo."""

    name: str = Field(pattern=_NAME)
    command: list[str] = Field(min_length=1)
    # Local runtime: `module:callable` (or `file.py:callable`, relative to the blueprint file) that
    # serves the service, called as `callable(port, environ)` in a child forked from a parent that
    # has already imported it (see providers/forkserver.py); `command` is the fallback.
    entry: str | None = Field(default=None, pattern=_ENTRY)
    # Called once in that parent before any fork: import and build what every demo shares
    # (compiled templates, lazily imported modules); never a thread, loop, connection or open file.
    preload: str | None = Field(default=None, pattern=_ENTRY)
    image: str | None = None
    health_path: str = "/healthz"
    # Local runtime, opt-in: the path of the service's reload endpoint. Given one, the runtime
    # applies new per-demo settings (a warm-pool claim, a reset) in place: it rewrites the file
    # named by DEMO_SETTINGS_FILE and POSTs here with `Authorization: Bearer $DEMO_RELOAD_TOKEN`;
    # the service re-reads the file, reopens its connections and answers `{"version"}` of the file
    # it applied. Without one, or when the service does not confirm, the service is restarted.
    reload_path: str | None = Field(default=None, pattern=r"^/[\w./-]*$")
    routes: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    # Memory limit (MB): the local runtime's cap and the container's limit on Kubernetes.
    memory_mb: int = Field(default=256, gt=0)
    # Kubernetes only (the local runtime allocates loopback ports and shares the machine):
    # the container port, the command in the image (its own entrypoint when unset; placeholders
    # {port}, {scenario}, {seed}, {instance_id}), and the container's requests and CPU limit.
    port: int = Field(default=8080, gt=0, lt=65536)
    container_command: list[str] | None = None
    memory_request_mb: int = Field(default=128, gt=0)
    cpu_request_m: int = Field(default=100, gt=0)
    cpu_limit_m: int = Field(default=1000, gt=0)

    @model_validator(mode="after")
    def _requests_within_limits(self) -> Service:
        if self.memory_request_mb > self.memory_mb:
            raise ValueError(f"service {self.name}: memory_request_mb exceeds memory_mb")
        if self.cpu_request_m > self.cpu_limit_m:
            raise ValueError(f"service {self.name}: cpu_request_m exceeds cpu_limit_m")
        return self


class DataPlan(_Model):
    """The data services a demo needs and how its database is migrated and seeded."""

    database: bool = True
    cache: bool = False
    broker: bool = False
    migrate: list[str] = Field(default_factory=list)
    seed: list[str] = Field(default_factory=list)
    # Python packages or files (relative to the blueprint file) whose content keys the seeded
    # template: change the migrations or the seed code and the template is rebuilt.
    fingerprint: list[str] = Field(default_factory=list)


class DemoSizes(_Model):
    """What one demo may use on a cluster: its namespace's ResourceQuota and LimitRange.

    The defaults fit the reference stack with its in-namespace PostgreSQL, Redis, RabbitMQ and
    migrate-and-seed Job, plus one surge pod of a rolling update.
    """

    requests_cpu_m: int = Field(default=1500, gt=0)
    limits_cpu_m: int = Field(default=6000, gt=0)
    requests_memory_mb: int = Field(default=1536, gt=0)
    limits_memory_mb: int = Field(default=3072, gt=0)
    pods: int = Field(default=12, gt=0)
    services: int = Field(default=8, ge=0)
    persistent_volume_claims: int = Field(default=3, ge=0)
    storage_gb: int = Field(default=6, ge=0)
    # LimitRange: a container without its own sizes gets the defaults; none may exceed the max.
    container_default_cpu_m: int = Field(default=500, gt=0)
    container_default_memory_mb: int = Field(default=256, gt=0)
    container_default_request_cpu_m: int = Field(default=50, gt=0)
    container_default_request_memory_mb: int = Field(default=64, gt=0)
    container_max_cpu_m: int = Field(default=2000, gt=0)
    container_max_memory_mb: int = Field(default=1024, gt=0)


class Persona(_Model):
    """A seeded user to sign in as; the seed code must create a user with this e-mail and role."""

    name: str
    role: str
    email: str
    show: str = ""
    # The route whose host serves this persona's one-click sign-in; the blueprint's `login_route`
    # (or its first route) when unset.
    route: str | None = None
    # Works at the prospect's company: in a demo made for a prospect, shown (and signed in to the
    # stack's picker) with an address at the prospect's domain (domain/prospect.py).
    prospect: bool = False


EXPECT_KEYS = ("selector", "min_count", "text", "prospect")


class TourExpect(_Model):
    """What a tour step's page must show, machine-checkable (a browser test walks every step).

    On the step's page, signed in as the step's persona: `selector` (CSS) matches at least
    `min_count` elements (1 when unset), `text` appears in the page's visible text, and with
    `prospect: true` the prospect's company name (DEMO_PROSPECT_COMPANY) appears on the page.
    Every key is optional, but at least one must be given; a key not listed here is refused.
    """

    selector: StrictStr | None = Field(default=None, min_length=1, max_length=500)
    min_count: StrictInt | None = Field(default=None, ge=0, le=100_000)
    text: StrictStr | None = Field(default=None, min_length=1, max_length=500)
    prospect: StrictBool | None = None

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, raw: Any) -> Any:
        if isinstance(raw, TourExpect):
            return raw
        if not isinstance(raw, dict):  # pydantic turns ValueError, not TypeError, into its error
            raise ValueError(  # noqa: TRY004
                f"expect must be a mapping of {', '.join(EXPECT_KEYS)}, not {type(raw).__name__}"
            )
        unknown = sorted(str(k) for k in raw if k not in EXPECT_KEYS)
        if unknown:
            raise ValueError(
                f"expect has unknown key(s) {', '.join(repr(k) for k in unknown)}; "
                f"it takes {', '.join(EXPECT_KEYS)}"
            )
        if not any(raw.get(k) is not None for k in EXPECT_KEYS):
            raise ValueError(
                f"expect is empty: give at least one of {', '.join(EXPECT_KEYS)} "
                "(or leave expect out)"
            )
        return raw

    @model_validator(mode="after")
    def _count_needs_selector(self) -> TourExpect:
        if self.min_count is not None and self.selector is None:
            raise ValueError("expect.min_count counts what `selector` matches: give a selector")
        return self

    @model_serializer(mode="wrap")
    def _given_only(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Only the keys given (a blueprint's `expect: {text: ...}` reads back as written)."""
        return {k: v for k, v in handler(self).items() if v is not None}


class TourStep(_Model):
    persona: str
    page: str
    action: str
    talking_point: str
    # What must be on the page; None: nothing checked for this step.
    expect: TourExpect | None = None


class Scenario(_Model):
    name: str = Field(pattern=_NAME)
    title: str
    description: str = ""
    seed: int = 42
    counts: dict[str, int] = Field(default_factory=dict)
    personas: list[Persona] = Field(default_factory=list)
    tour: list[TourStep] = Field(default_factory=list)
    # Set on a template saved from a demo (engine/templates.py): the built-in scenario it was
    # saved from. Its data is a copy of that demo's database, never seeded again.
    based_on: str | None = None


class CostRates(_Model):
    """Hourly USD rates per component; their sum is an instance-hour. A sleeping demo keeps only
    its data, so it costs the components listed in `sleeping` (its database by default)."""

    hourly_usd: dict[str, float] = Field(
        default_factory=lambda: {"pods": 0.10, "database": 0.05, "network": 0.01}
    )
    sleeping: list[str] = Field(default_factory=lambda: ["database"])

    @property
    def total_hourly_usd(self) -> float:
        return round(sum(self.hourly_usd.values()), 6)

    @property
    def sleeping_hourly_usd(self) -> float:
        return round(sum(self.hourly_usd.get(c, 0.0) for c in self.sleeping), 6)


class Blueprint(_Model):
    name: str = Field(pattern=_NAME)
    title: str = ""
    description: str = ""
    routes: list[str] = Field(min_length=1)
    login_route: str | None = None
    login_path: str = "/auth/demo-login"
    # The rep's one-click sign-in (a view of the whole demo) on the login route's host, or None
    # when the demoed product has none; the token is `engine.views.rep_token`'s.
    rep_login_path: str | None = None
    services: list[Service] = Field(min_length=1)
    data: DataPlan = Field(default_factory=DataPlan)
    cost: CostRates = Field(default_factory=CostRates)
    default_scenario: str
    scenarios: list[Scenario] = Field(min_length=1)
    # The Helm chart of the demo (Kubernetes runtime): a folder name under the charts directory
    # (DEMO_KUBERNETES_CHARTS, else `charts/` beside the blueprints folder).
    chart: str | None = None
    sizes: DemoSizes = Field(default_factory=DemoSizes)
    source: str = ""

    @field_validator("routes")
    @classmethod
    def _route_names(cls, routes: list[str]) -> list[str]:
        import re

        for route in routes:
            if not re.fullmatch(_NAME, route):
                raise ValueError(f"route {route!r} must be lowercase letters, digits and dashes")
        if len(set(routes)) != len(routes):
            raise ValueError("routes must be unique")
        return routes

    @model_validator(mode="after")
    def _consistent(self) -> Blueprint:
        served: set[str] = set()
        for service in self.services:
            for route in service.routes:
                if route not in self.routes:
                    raise ValueError(f"service {service.name!r} serves unknown route {route!r}")
                if route in served:
                    raise ValueError(f"route {route!r} is served by two services")
                served.add(route)
        missing = set(self.routes) - served
        if missing:
            raise ValueError(f"no service serves route(s) {sorted(missing)}")
        names = [s.name for s in self.scenarios]
        if len(set(names)) != len(names):
            raise ValueError("scenario names must be unique")
        if self.default_scenario not in names:
            raise ValueError(f"default_scenario {self.default_scenario!r} is not a scenario")
        if self.login_route is not None and self.login_route not in self.routes:
            raise ValueError(f"login_route {self.login_route!r} is not a route")
        for scenario in self.scenarios:
            for persona in scenario.personas:
                if persona.route is not None and persona.route not in self.routes:
                    raise ValueError(
                        f"persona {persona.email} of scenario {scenario.name} signs in on unknown "
                        f"route {persona.route!r}"
                    )
        return self

    def scenario(self, name: str) -> Scenario | None:
        return next((s for s in self.scenarios if s.name == name), None)

    def service_for_route(self, route: str) -> Service | None:
        return next((s for s in self.services if route in s.routes), None)


def parse_blueprint(raw: Any, *, source: str = "") -> Blueprint:
    if not isinstance(raw, dict):
        raise InvalidBlueprint(f"blueprint {source or '?'} must be a mapping")
    try:
        return Blueprint.model_validate({**raw, "source": source})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(_named(raw, first["loc"]))
        message = str(first["msg"]).removeprefix("Value error, ")
        prefix = f"blueprint {source or '?'}: " + (f"{where}: " if where else "")
        raise InvalidBlueprint(prefix + message) from exc


def _named(raw: dict[str, Any], loc: tuple[int | str, ...]) -> list[str]:
    """An error's location with the scenario named: `scenarios.agency.tour.2.expect`, not
    `scenarios.0...` (tour steps keep their index, counted from 0 like the YAML list)."""
    parts = [str(p) for p in loc]
    scenarios = raw.get("scenarios")
    if (
        len(loc) > 1
        and loc[0] == "scenarios"
        and isinstance(loc[1], int)
        and isinstance(scenarios, list)
        and loc[1] < len(scenarios)
    ):
        entry = scenarios[loc[1]]
        name = entry.get("name") if isinstance(entry, dict) else None
        if isinstance(name, str) and re.fullmatch(_NAME, name):  # a bad name keeps its index
            parts[1] = name
    return parts


def load_blueprint(path: Path) -> Blueprint:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InvalidBlueprint(f"cannot read blueprint {path}: {exc}") from exc
    return parse_blueprint(raw, source=str(path))
