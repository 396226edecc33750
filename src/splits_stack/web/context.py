"""The wired-up stack of one process: settings, engine, event bus, sessions and cache.

Built once at server start-up (never at import) and handed to the routes through `request.app.state`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, text

from splits_stack.config import Settings
from splits_stack.db import make_engine, read_meta
from splits_stack.services.activity import ActivityReporter, reporter_for
from splits_stack.services.cache import Cache, MemoryCache, RedisCache
from splits_stack.services.events import EventBus, make_bus
from splits_stack.services.freshen import freshen
from splits_stack.services.identity import DbSessions, RedisSessions, SessionStore
from splits_stack.services.lifetime import LifetimeWatch, watch_for

log = logging.getLogger("splits_stack")


@dataclass
class Stack:
    settings: Settings
    engine: Engine
    bus: EventBus
    sessions: SessionStore
    cache: Cache
    meta: dict[str, str] = field(default_factory=dict)
    freshened: dict[str, Any] = field(default_factory=dict)
    reporter: ActivityReporter = field(default_factory=lambda: ActivityReporter(None))
    # What the orchestrator says of this demo's life (services/lifetime.py); knows nothing
    # when the stack runs standalone.
    lifetime: LifetimeWatch = field(default_factory=lambda: LifetimeWatch(None))

    @property
    def scenario(self) -> str:
        return self.meta.get("scenario") or self.settings.scenario or "agency"

    @property
    def prospect(self) -> dict[str, str]:
        """The prospect as the orchestrator last said (it may have changed since start, e.g. by
        the warm pool's personalize step), else as the settings say. Only exposed here: the
        data transform itself runs at start and at reload."""
        told = self.lifetime.current.prospect if self.lifetime.current else None
        if told and told.get("company"):
            return {"company": str(told["company"]), "industry": str(told.get("industry") or "")}
        return {
            "company": self.settings.prospect_company,
            "industry": self.settings.prospect_industry,
        }

    def db_ok(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:  # noqa: BLE001 - the health check reports, it does not raise
            return False

    def close(self) -> None:
        self.reporter.close()  # sends what is still counted
        self.bus.stop()
        self.engine.dispose()


def _unseeded(engine: Engine) -> bool:
    from sqlalchemy import inspect

    if "meta" not in inspect(engine).get_table_names():
        return True
    return "scenario" not in read_meta(engine)


def build_stack(settings: Settings) -> Stack:
    engine = make_engine(settings.database_url)
    meta: dict[str, str] = {}
    done: dict[str, Any] = {}
    try:
        if _unseeded(engine):  # standalone `serve` on an empty database: make it usable at once
            from splits_stack.seed.run import seed

            log.warning("database is empty: seeding scenario %s", settings.scenario or "agency")
            seed(engine, settings.scenario or "agency", 42)
        done = freshen(
            engine, company=settings.prospect_company, industry=settings.prospect_industry
        )
        meta = read_meta(engine)
    except Exception:
        log.exception("freshen skipped: database not migrated or seeded yet")
    redis_client = None
    if settings.redis_url:
        import redis

        redis_client = redis.Redis.from_url(settings.redis_url, socket_timeout=2)
    sessions: SessionStore = (
        RedisSessions(redis_client, settings.redis_prefix) if redis_client else DbSessions(engine)
    )
    cache: Cache = (
        RedisCache(redis_client, settings.redis_prefix) if redis_client else MemoryCache()
    )
    bus = make_bus(engine, settings.instance_id, settings.amqp_url)
    reporter = reporter_for(
        settings.orchestrator_url, settings.instance_id, settings.activity_token
    )
    reporter.start()
    lifetime = watch_for(settings.orchestrator_url, settings.instance_id, settings.activity_token)
    lifetime.start()  # in the background: start-up never waits on the orchestrator
    return Stack(settings, engine, bus, sessions, cache, meta, done, reporter, lifetime)
