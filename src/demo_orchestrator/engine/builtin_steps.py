"""The built-in steps of a demo's plan: database -> cache -> broker -> seed -> deploy -> routes ->
health. Each is a `StepDef`; the order here is the order of new plans.
"""

from __future__ import annotations

from typing import Any

from demo_orchestrator.domain.errors import NotReady, TemporaryError
from demo_orchestrator.engine.plan import SkipStep, StepDef, StepRun
from demo_orchestrator.providers.base import DatabaseProvider, Outputs, Provider, RuntimeProvider

HEALTH_POLL_SECONDS = 0.01


def _destroy(provider: Provider | None, instance_id: str) -> None:
    if provider is not None:
        provider.destroy(instance_id=instance_id)


def _suspend(provider: Provider | None, instance_id: str) -> None:
    if isinstance(provider, RuntimeProvider):
        provider.suspend(instance_id=instance_id)
    elif provider is not None:
        provider.destroy(instance_id=instance_id)


def _reset(provider: Provider | None, instance_id: str) -> None:
    if provider is not None:
        provider.reset(instance_id=instance_id)


def _ensure(run: StepRun) -> Outputs:
    assert run.provider is not None
    return run.provider.ensure(spec=run.spec)


def _data_service(kind: str) -> StepDef:
    def skip(run: StepRun) -> str | None:
        if not getattr(run.spec.blueprint.data, kind):
            return f"the blueprint needs no {kind}"
        if run.provider is None:
            return f"no {kind} provider configured; the demo runs without one"
        return None

    return StepDef(kind, _ensure, slot=kind, undo=_destroy, reset=_reset, skip=skip)


def _skip_seed(run: StepRun) -> str | None:
    if not run.spec.blueprint.data.database:
        return "the blueprint needs no database"
    if isinstance(run.provider, DatabaseProvider) and run.provider.clones_seeded_template:
        return "cloned from the seeded template"
    return None


def _seed(run: StepRun) -> Outputs:
    if not isinstance(run.provider, DatabaseProvider):
        raise SkipStep("no database provider")
    return run.provider.seed(spec=run.spec)


def _runtime(run: StepRun) -> RuntimeProvider:
    assert isinstance(run.provider, RuntimeProvider)
    return run.provider


def _routes(run: StepRun) -> Outputs:
    runtime = _runtime(run)
    deployed = run.outputs.get("deploy", {})
    routes: dict[str, Any] = {}
    for route in run.spec.blueprint.routes:
        endpoint = runtime.endpoint(instance_id=run.spec.instance_id, state=deployed, route=route)
        if endpoint is None:
            raise TemporaryError(f"route {route} has no running service yet")
        routes[route] = {"host": endpoint.host, "port": endpoint.port}
    return Outputs(state=routes, message=f"{len(routes)} route(s) registered")


def _health(run: StepRun) -> Outputs:
    health = _runtime(run).check_ready(instance_id=run.spec.instance_id)
    if not health.healthy:
        raise NotReady(
            health.detail or "services are starting",
            delay=HEALTH_POLL_SECONDS,
            timeout=run.ctx.settings.health_timeout_seconds,
        )
    return Outputs(message=health.detail)


BUILTIN_STEPS: tuple[StepDef, ...] = (
    _data_service("database"),
    _data_service("cache"),
    _data_service("broker"),
    StepDef("seed", _seed, slot="database", needs=("database",), skip=_skip_seed),
    StepDef("deploy", _ensure, slot="runtime", undo=_destroy, suspend=_suspend, reset=_reset),
    StepDef("routes", _routes, slot="runtime", needs=("deploy",), publishes="routes"),
    StepDef("health", _health, slot="runtime", needs=("deploy",), rewind_to="deploy"),
)
