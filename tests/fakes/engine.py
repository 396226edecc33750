"""Fakes for driving the engine in-process: providers that subclass the real interfaces and keep
their documented semantics (idempotent ensure, "already gone" destroy, owned() telling the truth),
a clock moved by hand, and an executor that runs work inline.

Every provider call is written to a shared journal, so tests can check order (teardown reverses
provisioning) and counts (a resumed plan does not redo finished steps). Failures are queued per
verb: an exception instance is raised by the next call of that verb; `Crash` (a BaseException,
like a kill -9) escapes the engine's error handling.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, Future
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from demo_orchestrator.bootstrap import Orchestrator, bootstrap
from demo_orchestrator.domain.blueprint import load_blueprint
from demo_orchestrator.domain.errors import TemporaryError
from demo_orchestrator.engine.plan import StepDef
from demo_orchestrator.engine.service import CreateInstance, Principal
from demo_orchestrator.providers.base import (
    DatabaseProvider,
    Endpoint,
    Health,
    InstanceSpec,
    Outputs,
    Provider,
    RuntimeProvider,
)
from demo_orchestrator.settings import Settings

TINY = Path(__file__).resolve().parents[1] / "blueprints" / "tiny.yaml"
ADMIN = Principal("admin", "admin")
P = ParamSpec("P")
T = TypeVar("T")


class Crash(BaseException):
    """Stands for the orchestrator dying at this very point."""


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class InlineExecutor(Executor):
    """Runs submitted work at once, in the caller's thread."""

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:  # noqa: BLE001 - the future carries it to the caller
            future.set_exception(exc)
        return future


Journal = list[tuple[str, str, str]]


class _Resources:
    """Bookkeeping every fake shares: what it holds, queued failures, the journal."""

    def _setup(self, journal: Journal) -> None:
        self.journal = journal
        self.made: set[str] = set()
        self.failures: dict[str, list[BaseException]] = {}

    def fail(self, verb: str, *errors: BaseException) -> None:
        self.failures.setdefault(verb, []).extend(errors)

    def _call(self, verb: str, instance_id: str) -> None:
        self.journal.append((str(getattr(self, "name", "")), verb, instance_id))
        queued = self.failures.get(verb)
        if queued:
            raise queued.pop(0)

    def destroy(self, *, instance_id: str) -> None:
        self._call("destroy", instance_id)
        self.made.discard(instance_id)

    def owned(self) -> set[str]:
        return set(self.made)


class FakeDatabase(_Resources, DatabaseProvider):
    name = "fake-db"

    def __init__(self, journal: Journal, *, seeded: bool = True) -> None:
        self._setup(journal)
        self.seeded = seeded
        self.rows: dict[str, int] = {}

    @property
    def clones_seeded_template(self) -> bool:  # type: ignore[override]
        return self.seeded

    def ensure(self, *, spec: InstanceSpec) -> Outputs:
        self._call("ensure", spec.instance_id)
        existed = spec.instance_id in self.made
        self.made.add(spec.instance_id)
        if not existed:
            self.rows[spec.instance_id] = 5 if self.seeded else 0
        url = f"fake://db/{spec.instance_id}"
        return Outputs(env={"DATABASE_URL": url}, state={"db": spec.instance_id})

    def seed(self, *, spec: InstanceSpec) -> Outputs:
        self._call("seed", spec.instance_id)
        self.rows[spec.instance_id] = 5
        return Outputs(message="seeded")

    def destroy(self, *, instance_id: str) -> None:
        super().destroy(instance_id=instance_id)
        self.rows.pop(instance_id, None)


class FakeService(_Resources, Provider):
    """A cache or broker: holds keys per instance; reset empties them, keeps the account."""

    def __init__(self, journal: Journal, kind: str) -> None:
        self._setup(journal)
        self.kind = kind  # type: ignore[misc]
        self.name = f"fake-{kind}"  # type: ignore[misc]
        self.keys: dict[str, set[str]] = {}

    def ensure(self, *, spec: InstanceSpec) -> Outputs:
        self._call("ensure", spec.instance_id)
        self.made.add(spec.instance_id)
        self.keys.setdefault(spec.instance_id, set())
        return Outputs(env={f"{self.kind.upper()}_URL": f"fake://{self.kind}/{spec.instance_id}"})

    def reset(self, *, instance_id: str) -> None:
        self._call("reset", instance_id)
        self.keys[instance_id] = set()

    def destroy(self, *, instance_id: str) -> None:
        super().destroy(instance_id=instance_id)
        self.keys.pop(instance_id, None)


class FakeRuntime(_Resources, RuntimeProvider):
    name = "fake-runtime"

    def __init__(self, journal: Journal, clock: FakeClock) -> None:
        self._setup(journal)
        self.clock = clock
        self.ports = 20000
        self.started: dict[str, datetime] = {}
        self.start_seconds: dict[str, float] = {}  # how long a deploy takes to answer
        self.dead: set[str] = set()
        self.hold: set[str] = set()  # never answers while listed
        self.port_of: dict[str, int] = {}
        self.envs: dict[str, dict[str, str]] = {}  # the environment each demo last ran with
        self.checks = 0

    def ensure(self, *, spec: InstanceSpec) -> Outputs:
        self._call("ensure", spec.instance_id)
        self.envs[spec.instance_id] = dict(spec.env)
        if spec.instance_id in self.made and spec.instance_id not in self.dead:
            return Outputs(state=self._state(spec.instance_id), message="adopted")
        self.dead.discard(spec.instance_id)
        self.made.add(spec.instance_id)
        self.ports += 1
        self.started[spec.instance_id] = self.clock()
        self.port_of[spec.instance_id] = self.ports
        return Outputs(state=self._state(spec.instance_id), message="started")

    def _state(self, instance_id: str) -> dict[str, Any]:
        return {"port": self.port_of[instance_id]}

    def destroy(self, *, instance_id: str) -> None:
        super().destroy(instance_id=instance_id)
        self.started.pop(instance_id, None)

    def check_ready(self, *, instance_id: str) -> Health:
        self.checks += 1
        if instance_id not in self.made or instance_id in self.dead:
            raise TemporaryError(f"{instance_id} is not running")
        if instance_id in self.hold:
            return Health(False, "still starting")
        age = (self.clock() - self.started[instance_id]).total_seconds()
        if age < self.start_seconds.get(instance_id, 0.0):
            return Health(False, f"starting ({age:.2f} s)")
        return Health(True, "answers")

    def alive(self, *, instance_id: str) -> Health:
        ok = instance_id in self.made and instance_id not in self.dead
        return Health(ok, "runs" if ok else "service web is not running")

    def endpoint(self, *, instance_id: str, state: dict[str, Any], route: str) -> Endpoint | None:
        return Endpoint("127.0.0.1", int(state["port"])) if "port" in state else None

    def logs(self, *, instance_id: str, service: str, tail: int) -> str:
        return ""


_TEMPLATE: list[Path] = []


def _migrated_store(home: Path, orchestrator: Orchestrator) -> None:
    """Migrate once per test session and copy the file: Alembic is the slow part of a rig."""
    import shutil
    import tempfile

    db = orchestrator.ctx.db
    if db.engine.url.get_backend_name() != "sqlite":  # a server store: migrate it in place
        db.upgrade()
        return
    target = Path(str(db.engine.url.database))
    if target.exists():  # a second rig on the same home: the store is already there
        return
    if not _TEMPLATE:
        template = Path(tempfile.mkdtemp(prefix="engine-store-")) / "orchestrator.db"
        from demo_orchestrator.store.database import Database

        fresh = Database(f"sqlite:///{template}")
        fresh.upgrade()
        fresh.dispose()
        _TEMPLATE.append(template)
    db.dispose()
    shutil.copyfile(_TEMPLATE[0], target)


class Rig:
    """An orchestrator wired with fakes, its journal and its clock."""

    def __init__(
        self,
        home: Path,
        *,
        clock: FakeClock | None = None,
        journal: Journal | None = None,
        providers: dict[str, Any] | None = None,
        steps: list[StepDef] | None = None,
        executor: Executor | None = None,
        **settings: Any,
    ) -> None:
        self.clock = clock or FakeClock()
        self.journal: Journal = journal if journal is not None else []
        if providers is None:
            providers = {
                "runtime": FakeRuntime(self.journal, self.clock),
                "database": FakeDatabase(self.journal),
                "cache": FakeService(self.journal, "cache"),
                "broker": FakeService(self.journal, "broker"),
            }
        self.providers = providers
        defaults: dict[str, Any] = {
            "home": home,
            "blueprint": "tiny",
            "retry_base_seconds": 0.2,
            "step_retries": 3,
            "health_timeout_seconds": 5.0,
            "prebuild_templates": False,
            "admin_token": "test-admin-token-0123456789",
            # Rigs make many demos at once to test the engine, not the create rate.
            "create_rate_per_user": "10000/minute",
        }
        defaults.update(settings)
        blueprint = load_blueprint(TINY)
        self.orchestrator: Orchestrator = bootstrap(
            Settings(**defaults),
            runtime=providers["runtime"],
            database=providers["database"],
            cache=providers.get("cache"),
            broker=providers.get("broker"),
            blueprints={blueprint.name: blueprint},
            steps=steps,
            clock=self.clock,
            executor=executor or InlineExecutor(),
        )
        _migrated_store(home, self.orchestrator)
        self.reconciler = self.orchestrator.reconciler
        self.service = self.orchestrator.instances

    def __getattr__(self, name: str) -> Any:
        return self.providers[name]

    def create(self, **fields: Any) -> str:
        fields.setdefault("duration_hours", 1)
        instance, _ = self.service.create(ADMIN, CreateInstance(**fields))
        return str(instance["id"])

    def get(self, instance_id: str) -> dict[str, Any]:
        return self.service.get(ADMIN, instance_id)

    def steps(self, instance_id: str) -> dict[str, str]:
        return {s["name"]: s["status"] for s in self.get(instance_id)["steps"]}

    def settle(self, seconds: float = 0.0) -> None:
        """Run everything due, then move the clock from due date to due date for `seconds`."""
        deadline = self.clock() + timedelta(seconds=seconds)
        self.reconciler.run_until_idle()
        while True:
            due = self.reconciler.next_due()
            if due is None or due > deadline:
                self.clock.now = max(self.clock.now, deadline)
                self.reconciler.run_until_idle()
                return
            self.clock.now = max(self.clock.now, due)
            self.reconciler.run_until_idle()

    def calls(self, verb: str | None = None, instance_id: str | None = None) -> list[str]:
        return [
            f"{name}.{v}"
            for name, v, i in self.journal
            if (verb is None or v == verb) and (instance_id is None or i == instance_id)
        ]

    def close(self) -> None:
        self.orchestrator.reconciler.stop()
        self.orchestrator.ctx.db.dispose()
