"""Gauges read from the store at scrape time: the same answer from every replica.

What is (instances by status, overdue expiries, quota use, cost, the warm pool) is read from the
store when Prometheus scrapes, never kept in memory, so several replicas report the same global
values. The providers' health is whether each provider answers `owned()` (the one call every
provider has that needs no instance), asked at most every `PROBE_SECONDS` so a scrape stays cheap.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import case, func, select, text

from demo_orchestrator.domain.instance import LIVE, Status, cost_of
from demo_orchestrator.domain.notifications import MAIL_PREFIX
from demo_orchestrator.engine.context import Context
from demo_orchestrator.engine.pool import WarmPool
from demo_orchestrator.store import repository as repo
from demo_orchestrator.store.models import DeliveryRow, EventRow, InstanceRow

log = logging.getLogger(__name__)

PROBE_SECONDS = 30.0
LIVE_VALUES = sorted(s.value for s in LIVE)


def _seconds_since(then: datetime | None, now: datetime) -> float:
    if then is None:
        return 0.0
    if then.tzinfo is None:
        then = then.replace(tzinfo=now.tzinfo)
    return max(0.0, (now - then).total_seconds())


class StoreCollector(Collector):
    def __init__(self, ctx: Context, pool: WarmPool, busy: Callable[[], set[str]]) -> None:
        self.ctx = ctx
        self.pool = pool
        self.busy = busy
        self._probe_lock = threading.Lock()
        self._probed_at = -PROBE_SECONDS
        self._probes: list[tuple[str, str, float, float]] = []  # kind, name, up, seconds

    def collect(self) -> Iterator[Metric]:
        busy = GaugeMetricFamily(
            "demo_engine_busy_workers", "Instances the engine is working on now"
        )
        busy.add_metric([], len(self.busy()))
        yield busy
        up = GaugeMetricFamily("demo_store_up", "1 when the orchestrator's store answers a query")
        try:
            families = list(self._from_store())
        except Exception:
            log.warning("metrics: the store does not answer", exc_info=True)
            families = []
        up.add_metric([], 1 if families else 0)
        yield up
        yield from families
        yield from self._providers()

    # -- the store -----------------------------------------------------------------------------

    def _from_store(self) -> Iterator[Metric]:
        now = self.ctx.clock()
        settings = self.ctx.settings
        instances = GaugeMetricFamily(
            "demo_instances", "Demo instances by status and scenario", labels=["status", "scenario"]
        )
        overdue = GaugeMetricFamily(
            "demo_instances_overdue", "Demos past their expiry time that are not deleted yet"
        )
        lateness = GaugeMetricFamily(
            "demo_expiry_overdue_seconds",
            "Seconds the most overdue demo is past its expiry time and not deleted (0: none)",
        )
        stuck = GaugeMetricFamily(
            "demo_provisioning_oldest_seconds",
            "Seconds the demo pending or provisioning the longest has been in that status (0: none)",
        )
        limit = GaugeMetricFamily(
            "demo_quota_instances_limit",
            "Live demos allowed: in total, and per owner",
            labels=["scope"],
        )
        used = GaugeMetricFamily(
            "demo_quota_instances_used",
            "Live demos counted against the quota: in total, and of the owner holding the most",
            labels=["scope"],
        )
        hourly = GaugeMetricFamily(
            "demo_cost_hourly_usd",
            "What the live demos cost per hour now (sleeping ones at their sleeping rate)",
            labels=["scenario"],
        )
        accrued = CounterMetricFamily(
            "demo_cost_accrued_usd",
            "Cost accrued by every demo the store holds, deleted ones included",
            labels=["scenario"],
        )
        with self.ctx.db.read() as session:
            session.execute(text("SELECT 1"))
            for status, scenario, count in session.execute(
                select(InstanceRow.status, InstanceRow.scenario, func.count()).group_by(
                    InstanceRow.status, InstanceRow.scenario
                )
            ):
                instances.add_metric([status, scenario], count)
            late = session.execute(
                select(func.count(), func.min(InstanceRow.expires_at)).where(
                    InstanceRow.expires_at <= now,
                    InstanceRow.status.in_([*LIVE_VALUES, Status.DELETING.value]),
                )
            ).one()
            per_owner = session.execute(
                select(func.count())
                .where(InstanceRow.status.in_(LIVE_VALUES), InstanceRow.pooled.is_(False))
                .group_by(InstanceRow.owner)
            ).scalars()
            busiest = max(per_owner, default=0)
            entered = self._oldest_in_progress(session)
            total = repo.count_live(session)
            costs = session.execute(
                select(
                    InstanceRow.scenario,
                    InstanceRow.status,
                    InstanceRow.hourly_usd,
                    InstanceRow.sleeping_hourly_usd,
                    InstanceRow.started_at,
                    InstanceRow.ended_at,
                    InstanceRow.slept_seconds,
                    InstanceRow.sleeping_since,
                )
            ).all()
        overdue.add_metric([], late[0])
        lateness.add_metric([], _seconds_since(late[1], now))
        stuck.add_metric([], _seconds_since(entered, now))
        limit.add_metric(["total"], settings.max_instances)
        limit.add_metric(["owner"], settings.max_instances_per_owner)
        used.add_metric(["total"], total)
        used.add_metric(["owner"], busiest)
        yield from (instances, overdue, lateness, stuck, limit, used)
        yield from self._costs(costs, hourly, accrued, now)
        yield from self._warm_pool()
        yield from self._deliveries()

    @staticmethod
    def _oldest_in_progress(session: Any) -> datetime | None:
        """When the longest-waiting pending or provisioning demo entered that status: its last
        status event (a wake or a heal re-enters provisioning long after the demo was made)."""
        in_progress = select(InstanceRow.id).where(
            InstanceRow.status.in_([Status.PENDING.value, Status.PROVISIONING.value])
        )
        last = (
            select(func.max(EventRow.at).label("at"))
            .where(EventRow.kind == "status", EventRow.instance_id.in_(in_progress))
            .group_by(EventRow.instance_id)
            .subquery()
        )
        value: datetime | None = session.scalar(select(func.min(last.c.at)))
        return value

    @staticmethod
    def _costs(rows: Any, hourly: Any, accrued: Any, now: Any) -> Iterator[Metric]:
        rate: dict[str, float] = {}
        total: dict[str, float] = {}
        awake = {Status.PROVISIONING.value, Status.READY.value}
        for scenario, status, hourly_usd, sleeping_usd, started, ended, slept, since in rows:
            cost = cost_of(
                hourly_usd=hourly_usd,
                started_at=started,
                ended_at=ended,
                now=now,
                sleeping_hourly_usd=sleeping_usd or 0.0,
                slept_seconds=slept or 0.0,
                sleeping_since=since,
            )
            total[scenario] = total.get(scenario, 0.0) + cost.accrued_usd
            rate.setdefault(scenario, 0.0)
            if status in awake and started is not None:
                rate[scenario] += hourly_usd
            elif status == Status.SLEEPING.value:
                rate[scenario] += sleeping_usd or 0.0
        for scenario in sorted(total):
            accrued.add_metric([scenario], round(total[scenario], 4))
            hourly.add_metric([scenario], round(rate[scenario], 4))
        yield hourly
        yield accrued

    def _deliveries(self) -> Iterator[Metric]:
        """Notification messages by channel and status: `failed` ones were given up on after
        every attempt, `pending` ones wait for their next attempt."""
        family = GaugeMetricFamily(
            "demo_notification_deliveries",
            "Notification messages kept, by channel (webhook, email) and status "
            "(pending, delivered, failed)",
            labels=["channel", "status"],
        )
        channel = case((DeliveryRow.webhook_id.like(MAIL_PREFIX + "%"), "email"), else_="webhook")
        counts = {
            (c, s): 0 for c in ("webhook", "email") for s in ("pending", "delivered", "failed")
        }
        with self.ctx.db.read() as session:
            rows = session.execute(
                select(channel, DeliveryRow.status, func.count()).group_by(
                    channel, DeliveryRow.status
                )
            ).all()
        for kind, status, count in rows:
            counts[(str(kind), str(status))] = int(count)
        for (kind, status), count in sorted(counts.items()):
            family.add_metric([kind, status], count)
        yield family

    def _warm_pool(self) -> Iterator[Metric]:
        names = ("target", "ready", "provisioning")
        gauges = {
            name: GaugeMetricFamily(
                f"demo_warm_pool_{name}",
                f"Warm-pool members by scenario: {name}",
                labels=["scenario"],
            )
            for name in names
        }
        hits = CounterMetricFamily(
            "demo_warm_pool_hits",
            "Creates served by claiming a warm-pool member",
            labels=["scenario"],
        )
        misses = CounterMetricFamily(
            "demo_warm_pool_misses",
            "Creates that found no ready member while the scenario had a target",
            labels=["scenario"],
        )
        for item in self.pool.status():
            for name in names:
                gauges[name].add_metric([item["scenario"]], item[name])
            hits.add_metric([item["scenario"]], item["claims"])
            misses.add_metric([item["scenario"]], item["misses"])
        yield from gauges.values()
        yield hits
        yield misses

    # -- providers -----------------------------------------------------------------------------

    def _providers(self) -> Iterator[Metric]:
        with self._probe_lock:
            if time.monotonic() - self._probed_at >= PROBE_SECONDS:
                self._probes = [self._probe(p) for p in self.ctx.providers()]
                self._probed_at = time.monotonic()
            probes = list(self._probes)
        up = GaugeMetricFamily(
            "demo_provider_up",
            "1 when the provider answered its last check (listing what it owns)",
            labels=["kind", "provider"],
        )
        seconds = GaugeMetricFamily(
            "demo_provider_check_duration_seconds",
            "Seconds the provider's last check took",
            labels=["kind", "provider"],
        )
        for kind, name, ok, took in probes:
            up.add_metric([kind, name], ok)
            seconds.add_metric([kind, name], took)
        yield up
        yield seconds

    @staticmethod
    def _probe(provider: Any) -> tuple[str, str, float, float]:
        started = time.monotonic()
        try:
            provider.owned()
            ok = 1.0
        except Exception:
            log.warning(
                "metrics: provider %s %s is not answering",
                provider.kind,
                provider.name,
                exc_info=True,
            )
            ok = 0.0
        return provider.kind, provider.name, ok, time.monotonic() - started
