"""Wires the orchestrator once: store, providers, engine and services, from one Settings object.

Nothing connects at import time; `Orchestrator.start()` migrates the store, bootstraps the admin
account, starts the reconciler and builds the seeded templates in the background.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from demo_orchestrator.engine.accounts import Accounts
from demo_orchestrator.engine.context import Context
from demo_orchestrator.engine.reconciler import Reconciler
from demo_orchestrator.engine.service import InstanceService
from demo_orchestrator.providers.registry import load_blueprints, load_slots
from demo_orchestrator.settings import Settings
from demo_orchestrator.store.crypto import SecretBox, load_or_create_key
from demo_orchestrator.store.database import Database

log = logging.getLogger(__name__)


@dataclass
class Orchestrator:
    ctx: Context
    reconciler: Reconciler
    instances: InstanceService
    accounts: Accounts

    def start(self) -> None:
        self.ctx.db.upgrade()
        self.accounts.bootstrap()
        if self.ctx.settings.engine:
            self.reconciler.start()
            if self.ctx.settings.prebuild_templates:
                threading.Thread(target=self._prebuild, name="prebuild", daemon=True).start()

    def stop(self) -> None:
        self.reconciler.stop()
        for provider in self.ctx.providers():
            provider.close()
        self.ctx.db.dispose()

    def _prebuild(self) -> None:
        blueprint = self.ctx.blueprint
        for scenario in blueprint.scenarios:
            try:
                self.ctx.database.prepare_template(blueprint=blueprint, scenario=scenario)
            except Exception:
                log.exception("building the template of scenario %s failed", scenario.name)


def bootstrap(settings: Settings) -> Orchestrator:
    settings.home.mkdir(parents=True, exist_ok=True)
    slots = load_slots(settings)  # every slot by name; cache and broker on by configuration
    ctx = Context(
        settings=settings,
        db=Database(settings.resolved_store_url()),
        box=SecretBox(load_or_create_key(settings.home, settings.secret_key)),
        blueprints=load_blueprints(settings),
        runtime=slots["runtime"],
        database=slots["database"],
        cache=slots["cache"],
        broker=slots["broker"],
    )
    reconciler = Reconciler(ctx)
    return Orchestrator(
        ctx=ctx,
        reconciler=reconciler,
        instances=InstanceService(ctx, reconciler.wake),
        accounts=Accounts(ctx),
    )
