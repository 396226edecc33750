"""Runs one instance's provisioning plan and its teardown, persisting every step's progress.

Every step is idempotent: after a crash the whole plan simply runs again, and each provider's
`ensure` verifies or adopts what already exists (a cloned database, running processes). A
`TemporaryError` is retried with exponential back-off up to `DEMO_STEP_RETRIES`; a
`PermanentError`, any other exception, or running out of retries tears down what was made (in
reverse order) and leaves the instance `failed` with the error on the step.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from demo_orchestrator.domain.errors import DemoError, PermanentError, TemporaryError
from demo_orchestrator.domain.instance import (
    STEP_NAMES,
    Desired,
    Status,
    StepStatus,
    check_transition,
)
from demo_orchestrator.engine.context import Context
from demo_orchestrator.engine.faults import FaultInjector
from demo_orchestrator.engine.views import demo_urls
from demo_orchestrator.providers.base import InstanceSpec, Outputs
from demo_orchestrator.store import repository as repo
from demo_orchestrator.store.models import InstanceRow, StepRow

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 10.0


class Aborted(Exception):
    """The user changed their mind (deleted the demo) while it was being provisioned."""


class StepRunner:
    def __init__(self, ctx: Context, faults: FaultInjector) -> None:
        self.ctx = ctx
        self.faults = faults

    # -- persistence helpers -------------------------------------------------------------------

    def _set_status(self, instance_id: str, status: Status, **fields: Any) -> None:
        now = self.ctx.clock()
        with self.ctx.db.write() as session:
            row = repo.get_instance(session, instance_id, lock=True)
            if row is None:
                return
            current = Status(row.status)
            if current != status:
                check_transition(current, status)
            row.status = status.value
            row.version += 1
            for key, value in fields.items():
                setattr(row, key, value)
            repo.add_event(
                session,
                instance_id,
                "status",
                {"status": status.value, "error": row.error},
                now,
            )

    def _update_step(self, instance_id: str, name: str, **fields: Any) -> None:
        now = self.ctx.clock()
        with self.ctx.db.write() as session:
            step = session.get(StepRow, (instance_id, name))
            if step is None:
                return
            for key, value in fields.items():
                setattr(step, key, value)
            repo.add_event(
                session,
                instance_id,
                "step",
                {
                    "step": name,
                    "status": step.status,
                    "retries": step.retries,
                    "message": step.message,
                    "error": step.error,
                },
                now,
            )

    def _load(self, instance_id: str) -> tuple[InstanceRow, dict[str, repo.StepRecord]]:
        with self.ctx.db.read() as session:
            row = repo.get_instance(session, instance_id)
            if row is None:
                raise Aborted(instance_id)
            steps = {s.name: s for s in repo.steps_of(session, [instance_id])[instance_id]}
            return row, steps

    def _desired(self, instance_id: str) -> str:
        row, _ = self._load(instance_id)
        return row.desired

    # -- provisioning --------------------------------------------------------------------------

    def provision(self, instance_id: str) -> None:
        row, _ = self._load(instance_id)
        now = self.ctx.clock()
        resetting = row.generation != row.applied_generation
        if resetting:
            self._reset_resources(row)
        generation = row.generation
        self._set_status(
            instance_id,
            Status.PROVISIONING,
            started_at=row.started_at or now,
            error=None,
        )
        blueprint = self.ctx.blueprint_named(row.blueprint)
        scenario = self.ctx.scenario_of(blueprint, row.scenario)
        sealed = self.ctx.box.open(row.secrets)
        env = self._base_env(row, sealed)
        outputs: dict[str, Any] = dict(row.outputs or {})
        for name in STEP_NAMES:
            if self._desired(instance_id) == Desired.DELETED.value:
                raise Aborted(instance_id)
            spec = InstanceSpec(instance_id=row.id, blueprint=blueprint, scenario=scenario, env=env)
            result = self._run_with_retries(
                instance_id, name, partial(self._step, name, spec, outputs)
            )
            if result is None:
                return  # failed and torn down
            env.update(result.env)
            if result.state:
                outputs[name] = result.state
            self._save_outputs(instance_id, outputs, sealed, env)
        self._set_status(
            instance_id,
            Status.READY,
            ready_at=self.ctx.clock(),
            applied_generation=generation,
        )

    def _step(self, name: str, spec: InstanceSpec, outputs: dict[str, Any]) -> Outputs | None:
        """Run one step; None means skipped (with the reason in a SkipStep)."""
        self.faults.check(name)
        data = spec.blueprint.data
        if name == "database":
            if not data.database:
                raise SkipStep("the blueprint needs no database")
            return self.ctx.database.ensure(spec=spec)
        if name in ("cache", "broker"):
            provider = self.ctx.cache if name == "cache" else self.ctx.broker
            needed = data.cache if name == "cache" else data.broker
            if not needed:
                raise SkipStep(f"the blueprint needs no {name}")
            if provider is None:
                raise SkipStep(f"no {name} provider configured; the demo runs without one")
            return provider.ensure(spec=spec)
        if name == "seed":
            if self.ctx.database.clones_seeded_template:
                raise SkipStep("cloned from the seeded template")
            raise PermanentError(f"database provider {self.ctx.database.name} cannot seed")
        if name == "deploy":
            return self.ctx.runtime.ensure(spec=spec)
        if name == "routes":
            routes = self._routes(spec, outputs.get("deploy", {}))
            return Outputs(state=routes, message=f"{len(routes)} route(s) registered")
        if name == "health":
            try:
                health = self.ctx.runtime.wait_healthy(
                    instance_id=spec.instance_id, timeout=self.ctx.settings.health_timeout_seconds
                )
            except TemporaryError:
                # A service died while starting (say, a port taken in between): start what is
                # not running again, so the retry waits on live processes and fresh routes.
                deployed = self.ctx.runtime.ensure(spec=spec)
                outputs["deploy"] = deployed.state
                outputs["routes"] = self._routes(spec, deployed.state)
                raise
            return Outputs(message=health.detail)
        raise PermanentError(f"unknown step {name}")

    def _routes(self, spec: InstanceSpec, deployed: dict[str, Any]) -> dict[str, Any]:
        routes = {}
        for route in spec.blueprint.routes:
            endpoint = self.ctx.runtime.endpoint(
                instance_id=spec.instance_id, state=deployed, route=route
            )
            if endpoint is None:
                raise TemporaryError(f"route {route} has no running service yet")
            routes[route] = {"host": endpoint.host, "port": endpoint.port}
        return routes

    def _run_with_retries(
        self, instance_id: str, name: str, action: Callable[[], Outputs | None]
    ) -> Outputs | None:
        retries = 0
        started = self.ctx.clock()
        self._update_step(
            instance_id,
            name,
            status=StepStatus.RUNNING.value,
            started_at=started,
            finished_at=None,
            error=None,
            retries=0,
            message=None,
        )
        while True:
            try:
                result = action()
            except SkipStep as skip:
                self._update_step(
                    instance_id,
                    name,
                    status=StepStatus.SKIPPED.value,
                    finished_at=self.ctx.clock(),
                    message=str(skip),
                )
                return Outputs()
            except TemporaryError as exc:
                retries += 1
                if retries > self.ctx.settings.step_retries:
                    self._fail(
                        instance_id,
                        name,
                        f"{exc.detail} (gave up after {retries - 1} retries)",
                        retries - 1,
                    )
                    return None
                self._update_step(instance_id, name, retries=retries, error=exc.detail)
                delay = min(
                    max(exc.delay, self.ctx.settings.retry_base_seconds * 2 ** (retries - 1)),
                    MAX_BACKOFF_SECONDS,
                )
                log.info(
                    "%s: step %s failed (%s); retry %d in %.2fs",
                    instance_id,
                    name,
                    exc.detail,
                    retries,
                    delay,
                )
                self._sleep_unless_deleted(instance_id, delay)
                continue
            except DemoError as exc:
                self._fail(instance_id, name, exc.detail, retries)
                return None
            except Exception as exc:  # a provider bug must not kill the engine
                log.exception("%s: step %s crashed", instance_id, name)
                self._fail(instance_id, name, f"unexpected {type(exc).__name__}: {exc}", retries)
                return None
            result = result or Outputs()
            self._update_step(
                instance_id,
                name,
                status=StepStatus.DONE.value,
                finished_at=self.ctx.clock(),
                message=result.message or None,
                error=None,
                retries=retries,
            )
            return result

    def _sleep_unless_deleted(self, instance_id: str, delay: float) -> None:
        deadline = time.monotonic() + delay
        while time.monotonic() < deadline:
            time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
            if self._desired(instance_id) == Desired.DELETED.value:
                raise Aborted(instance_id)

    def _fail(self, instance_id: str, step: str, detail: str, retries: int) -> None:
        self._update_step(
            instance_id,
            step,
            status=StepStatus.FAILED.value,
            finished_at=self.ctx.clock(),
            error=detail,
            retries=retries,
        )
        self.teardown(instance_id, final=Status.FAILED, error=f"{step}: {detail}")

    def _save_outputs(
        self, instance_id: str, outputs: dict[str, Any], sealed: dict[str, Any], env: dict[str, str]
    ) -> None:
        with self.ctx.db.write() as session:
            row = repo.get_instance(session, instance_id, lock=True)
            if row is None:
                return
            row.outputs = dict(outputs)
            row.secrets = self.ctx.box.seal({**sealed, "env": env})

    def _base_env(self, row: InstanceRow, sealed: dict[str, Any]) -> dict[str, str]:
        blueprint = self.ctx.blueprint_named(row.blueprint)
        env = {
            "DEMO_INSTANCE_ID": row.id,
            "DEMO_SCENARIO": row.scenario,
            "DEMO_LOGIN_SECRET": sealed.get("login_secret") or secrets.token_hex(16),
        }
        for route, url in demo_urls(self.ctx.settings, blueprint, row.id).items():
            env[f"DEMO_URL_{route.upper().replace('-', '_')}"] = url
        prospect = row.prospect or {}
        if prospect.get("company"):
            env["DEMO_PROSPECT_COMPANY"] = str(prospect["company"])
        if prospect.get("industry"):
            env["DEMO_PROSPECT_INDUSTRY"] = str(prospect["industry"])
        return env

    def _reset_resources(self, row: InstanceRow) -> None:
        """Reset in place: stop the services and restore the pristine seeded database."""
        self.ctx.runtime.destroy(instance_id=row.id)
        self.ctx.database.destroy(instance_id=row.id)
        with self.ctx.db.write() as session:
            repo.add_event(
                session, row.id, "reset", {"generation": row.generation}, self.ctx.clock()
            )

    # -- teardown ------------------------------------------------------------------------------

    def teardown(self, instance_id: str, *, final: Status, error: str | None = None) -> None:
        row, steps = self._load(instance_id)
        if row.status != Status.DELETING.value and final == Status.DELETED:
            self._set_status(instance_id, Status.DELETING)
        leftovers: list[str] = []
        for name in reversed(STEP_NAMES):
            try:
                self._undo_with_retries(instance_id, name)  # idempotent: "already gone" is success
            except TemporaryError as exc:
                if final == Status.DELETED:
                    raise  # stays `deleting`: the next tick tries the teardown again
                # A failed demo is not live, so the orphan sweep removes this once the server
                # answers again; the demo must not stay `provisioning` and be retried forever.
                leftovers.append(f"{name}: {exc.detail}")
                continue
            if steps[name].status in (StepStatus.DONE.value, StepStatus.RUNNING.value):
                self._update_step(instance_id, name, status=StepStatus.TORN_DOWN.value)
        if leftovers:
            log.warning("%s: left for the orphan sweep: %s", instance_id, "; ".join(leftovers))
        fields: dict[str, Any] = {
            "ended_at": self.ctx.clock(),
            "outputs": {},
            "lease_owner": None,
            "lease_until": None,
        }
        if error is not None:
            fields["error"] = error
        if final == Status.DELETED:
            fields["secrets"] = None
        self._set_status(instance_id, final, **fields)

    def _undo(self, instance_id: str, name: str) -> None:
        if name == "deploy":
            self.ctx.runtime.destroy(instance_id=instance_id)
        elif name == "database":
            self.ctx.database.destroy(instance_id=instance_id)
        elif name == "cache" and self.ctx.cache is not None:
            self.ctx.cache.destroy(instance_id=instance_id)
        elif name == "broker" and self.ctx.broker is not None:
            self.ctx.broker.destroy(instance_id=instance_id)

    def _undo_with_retries(self, instance_id: str, name: str) -> None:
        attempt = 0
        while True:
            try:
                self._undo(instance_id, name)
                return
            except TemporaryError as exc:
                attempt += 1
                if attempt > self.ctx.settings.step_retries:
                    raise
                time.sleep(
                    min(self.ctx.settings.retry_base_seconds * 2**attempt, MAX_BACKOFF_SECONDS)
                )
                log.info("%s: teardown of %s failed (%s); retrying", instance_id, name, exc.detail)


class SkipStep(Exception):
    """Raised by a step that has nothing to do for this instance; the message says why."""
