"""Wires the orchestrator once: store, providers, plans, engine, change feed and services.

`bootstrap(settings)` builds everything from configuration; every part can be handed in instead
(providers that subclass the real interfaces, a fake clock, an inline executor, other steps), which
is how the in-process engine tests run. Nothing connects at import time; `Orchestrator.start()`
migrates the store, bootstraps the admin account, follows the change feed, starts the reconciler
and builds the seeded templates in the background.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime

from demo_orchestrator.domain.blueprint import Blueprint
from demo_orchestrator.engine.accounts import Accounts
from demo_orchestrator.engine.builtin_steps import BUILTIN_STEPS
from demo_orchestrator.engine.context import Context, utcnow
from demo_orchestrator.engine.faults import FaultInjector
from demo_orchestrator.engine.feed import ChangeFeed
from demo_orchestrator.engine.plan import Plans, StepDef
from demo_orchestrator.engine.reconciler import Reconciler
from demo_orchestrator.engine.routing import RouteTable
from demo_orchestrator.engine.runner import Runner
from demo_orchestrator.engine.service import InstanceService
from demo_orchestrator.providers.base import DatabaseProvider, Provider, RuntimeProvider
from demo_orchestrator.providers.registry import load_blueprints, load_provider
from demo_orchestrator.settings import Settings
from demo_orchestrator.store.crypto import SecretBox, load_or_create_key
from demo_orchestrator.store.database import Database

log = logging.getLogger(__name__)


@dataclass
class Orchestrator:
    ctx: Context
    plans: Plans
    feed: ChangeFeed
    routes: RouteTable
    reconciler: Reconciler
    instances: InstanceService
    accounts: Accounts

    def start(self) -> None:
        self.ctx.db.upgrade()
        self.accounts.bootstrap()
        self.feed.start()
        if self.ctx.settings.engine:
            self.reconciler.start()
            if self.ctx.settings.prebuild_templates:
                threading.Thread(target=self._prebuild, name="prebuild", daemon=True).start()

    def stop(self) -> None:
        self.reconciler.stop()
        self.feed.stop()
        self.ctx.close_providers()
        self.ctx.db.dispose()

    def _prebuild(self) -> None:
        blueprint = self.ctx.blueprint
        for scenario in blueprint.scenarios:
            try:
                self.ctx.database.prepare_template(blueprint=blueprint, scenario=scenario)
            except Exception:
                log.exception("building the template of scenario %s failed", scenario.name)


def bootstrap(
    settings: Settings,
    *,
    runtime: RuntimeProvider | None = None,
    database: DatabaseProvider | None = None,
    cache: Provider | None = None,
    broker: Provider | None = None,
    blueprints: dict[str, Blueprint] | None = None,
    steps: Iterable[StepDef] | None = None,
    clock: Callable[[], datetime] | None = None,
    rng: random.Random | None = None,
    executor: Executor | None = None,
) -> Orchestrator:
    """Build the orchestrator; each keyword replaces what settings would have chosen."""
    settings.home.mkdir(parents=True, exist_ok=True)
    ctx = Context(
        settings=settings,
        db=Database(settings.resolved_store_url()),
        box=SecretBox(load_or_create_key(settings.home, settings.secret_key)),
        blueprints=blueprints if blueprints is not None else load_blueprints(settings),
        runtime=runtime or load_provider(settings.runtime, kind="runtime", settings=settings),
        database=database
        or load_provider(settings.database_provider, kind="database", settings=settings),
        # Data services switch on by configuration; without them a demo runs with none.
        cache=cache
        or (
            load_provider("redis", kind="cache", settings=settings) if settings.redis_url else None
        ),
        broker=broker
        or (
            load_provider("rabbitmq", kind="broker", settings=settings)
            if settings.rabbitmq_url
            else None
        ),
        clock=clock or utcnow,
        random=rng or random.Random(),
        loader=lambda slot, name: load_provider(name, kind=slot, settings=settings),
    )
    plans = Plans(ctx, BUILTIN_STEPS if steps is None else steps)
    feed = ChangeFeed(ctx.db, poll_seconds=settings.feed_poll_seconds)
    runner = Runner(ctx, plans, FaultInjector(settings.fault_injection))
    reconciler = Reconciler(ctx, runner, workers=settings.engine_workers, executor=executor)
    return Orchestrator(
        ctx=ctx,
        plans=plans,
        feed=feed,
        routes=RouteTable(ctx, feed),
        reconciler=reconciler,
        instances=InstanceService(ctx, plans, reconciler.wake),
        accounts=Accounts(ctx),
    )
