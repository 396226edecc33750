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
from demo_orchestrator.domain.errors import DemoError
from demo_orchestrator.engine.accounts import Accounts
from demo_orchestrator.engine.activity import RequestLog
from demo_orchestrator.engine.activity_log import ActivityLog
from demo_orchestrator.engine.builtin_steps import BUILTIN_STEPS
from demo_orchestrator.engine.context import Context, utcnow
from demo_orchestrator.engine.expiry_follower import ExpiryFollower, follows_expiry
from demo_orchestrator.engine.faults import FaultInjector
from demo_orchestrator.engine.feed import ChangeFeed
from demo_orchestrator.engine.notifications import Notifier, Sender
from demo_orchestrator.engine.plan import Plans, StepDef
from demo_orchestrator.engine.pool import WarmPool
from demo_orchestrator.engine.reconciler import Reconciler
from demo_orchestrator.engine.routing import RouteTable
from demo_orchestrator.engine.runner import Runner
from demo_orchestrator.engine.service import InstanceService
from demo_orchestrator.providers.base import DatabaseProvider, Provider, RuntimeProvider
from demo_orchestrator.providers.registry import load_blueprints, load_named, load_slots
from demo_orchestrator.providers.smtp_mail import SmtpMailer
from demo_orchestrator.providers.webhook_http import WebhookSender
from demo_orchestrator.settings import Settings
from demo_orchestrator.store.crypto import SecretBox, load_or_create_key, private_home
from demo_orchestrator.store.database import Database

log = logging.getLogger(__name__)


@dataclass
class Orchestrator:
    ctx: Context
    plans: Plans
    feed: ChangeFeed
    routes: RouteTable
    requests: RequestLog
    pool: WarmPool
    reconciler: Reconciler
    instances: InstanceService
    accounts: Accounts
    notifier: Notifier
    activity: ActivityLog

    def start(self) -> None:
        self.ctx.db.upgrade()
        try:
            self.reachable()
        except DemoError as exc:  # demos wait for it; the operator learns at once
            log.warning("%s", exc.detail)
        self.accounts.bootstrap()
        self.pool.seed_targets()
        self.feed.start()
        self.requests.start()
        if self.ctx.settings.engine:
            self.feed.subscribe(self.notifier.wake)
            self.notifier.start()
            self.reconciler.start()
            if self.ctx.settings.prebuild_templates:
                threading.Thread(target=self._prebuild, name="prebuild", daemon=True).start()

    def reachable(self) -> None:
        """Raise `TemporaryError` naming the runtime's outside system (a cluster) when it cannot
        be reached: `/healthz` answers 503 with it, and the start says so in one line."""
        self.ctx.runtime.reachable()

    def stop(self) -> None:
        self.reconciler.stop()
        self.notifier.stop()
        self.requests.stop()
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


def _providers(
    settings: Settings,
    runtime: RuntimeProvider | None,
    database: DatabaseProvider | None,
    cache: Provider | None,
    broker: Provider | None,
) -> tuple[RuntimeProvider, DatabaseProvider, Provider | None, Provider | None]:
    """Every slot by name from settings (cache and broker on by configuration), unless handed in."""
    if runtime is not None and database is not None and cache is not None and broker is not None:
        return runtime, database, cache, broker
    slots = load_slots(settings)
    chosen = (
        runtime or slots["runtime"],
        database or slots["database"],
        cache if cache is not None else slots["cache"],
        broker if broker is not None else slots["broker"],
    )
    for loaded in slots.values():
        if isinstance(loaded, Provider) and all(loaded is not c for c in chosen):
            loaded.close()  # built from settings, then replaced by the one handed in
    return chosen


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
    webhook_sender: Sender | None = None,
) -> Orchestrator:
    """Build the orchestrator; each keyword replaces what settings would have chosen."""
    private_home(settings.home)
    runtime, database, cache, broker = _providers(settings, runtime, database, cache, broker)
    ctx = Context(
        settings=settings,
        db=Database(settings.resolved_store_url()),
        box=SecretBox(load_or_create_key(settings.home, settings.secret_key)),
        blueprints=blueprints if blueprints is not None else load_blueprints(settings),
        runtime=runtime,
        database=database,
        cache=cache,
        broker=broker,
        clock=clock or utcnow,
        random=rng or random.Random(),
        loader=lambda slot, name: load_named(slot, name, settings),
    )
    plans = Plans(ctx, BUILTIN_STEPS if steps is None else steps)
    feed = ChangeFeed(ctx.db, poll_seconds=settings.feed_poll_seconds)
    if follows_expiry(ctx.runtime):
        feed.subscribe(ExpiryFollower(ctx).changed)
    runner = Runner(ctx, plans, FaultInjector(settings.fault_injection))
    pool = WarmPool(ctx, plans)
    reconciler = Reconciler(
        ctx, runner, workers=settings.engine_workers, executor=executor, pool=pool
    )
    ctx.runtime.on_change(reconciler.poke)  # a watched rollout wakes its waiting step
    instances = InstanceService(ctx, plans, pool, reconciler.wake)
    return Orchestrator(
        ctx=ctx,
        plans=plans,
        feed=feed,
        routes=RouteTable(ctx, feed),
        requests=RequestLog(ctx),
        pool=pool,
        reconciler=reconciler,
        instances=instances,
        accounts=Accounts(ctx),
        notifier=Notifier(
            ctx,
            webhook_sender
            or WebhookSender(
                timeout=settings.webhook_timeout_seconds,
                allow_private=settings.webhook_allow_private_networks,
            ),
            mailer=SmtpMailer(
                settings.smtp_url, settings.smtp_from, timeout=settings.webhook_timeout_seconds
            )
            if settings.smtp_url
            else None,
        ),
        activity=ActivityLog(ctx, instances.get),
    )
