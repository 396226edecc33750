"""Counters and histograms of what happened, read from the change feed.

The change feed is the one way changes are reported, so the metrics of events (a demo made, a
step failed or retried, an expiry noticed late, an orphan swept) are a consumer of it like the
route cache and the event streams: nothing in the engine counts on the side. Every event the
process reads after it started is counted once, whichever replica wrote it; a counter starts at
zero when the process starts (Prometheus' `rate` and `increase` handle the reset).

Durations that span several events (created -> ready, deleting -> deleted, woken -> ready) are
timed from the first event this process saw; a journey that began before the process started is
not timed. Labels are bounded: scenario, step and provider names come from the blueprint and the
configuration, and a failure's free-text error is reduced to a short, fixed list of reasons.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

from demo_orchestrator.engine.feed import Change

# Seconds: a forked demo is ready in ~0.1 s, a fresh interpreter in ~1 s, a cluster in minutes.
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)
LATENESS_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
MAX_JOURNEYS = 20_000  # instances being timed at once; beyond that the oldest are dropped

REASONS = (
    "fault_injected",
    "timeout",
    "crash",
    "unknown_step",
    "teardown",
    "reset",
    "unreachable",
    "retries_exhausted",
    "temporary",
    "permanent",
)


def reason_of(error: str | None, *, failure: bool) -> str:
    """A bounded label for a step's error text: one of `REASONS`."""
    text = (error or "").lower()
    checks = (
        ("injected fault", "fault_injected"),
        ("still not ready after", "timeout"),
        ("unexpected ", "crash"),
        ("is not known to this version", "unknown_step"),
        ("teardown:", "teardown"),
        ("reset failed", "reset"),
        ("unreachable", "unreachable"),
    )
    for needle, reason in checks:
        if needle in text:
            return reason
    if failure:
        return "retries_exhausted" if "gave up after" in text else "permanent"
    return "temporary"


class FeedMetrics:
    """Subscribe `observe` to the change feed; the metrics live in `registry`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._lock = threading.Lock()
        # instance id -> (journey, started at); the last status seen of each instance
        self._journeys: dict[str, tuple[str, datetime]] = {}
        self._last_status: dict[str, str] = {}
        self.provision = Histogram(
            "demo_provision_duration_seconds",
            "Seconds from a demo's creation (or a personalised warm-pool claim) to ready",
            ["scenario"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.teardown = Histogram(
            "demo_teardown_duration_seconds",
            "Seconds from a demo entering deleting to every resource gone (deleted)",
            ["scenario"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.wake = Histogram(
            "demo_wake_duration_seconds",
            "Seconds from a sleeping demo being woken to ready",
            ["scenario"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.step = Histogram(
            "demo_step_duration_seconds",
            "Seconds a plan step took, from its start to its outcome "
            "(success, failure, retry, skipped)",
            ["step", "outcome"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.failures = Counter(
            "demo_step_failures",
            "Plan steps that failed for good, by step and reason",
            ["step", "reason"],
            registry=registry,
        )
        self.retries = Counter(
            "demo_step_retries",
            "Plan step attempts that failed and were retried later, by step and reason",
            ["step", "reason"],
            registry=registry,
        )
        self.status_changes = Counter(
            "demo_status_changes",
            "Demo status changes, by the status entered and scenario",
            ["status", "scenario"],
            registry=registry,
        )
        self.lateness = Histogram(
            "demo_expiry_lateness_seconds",
            "Seconds between a demo's expiry time and the engine noticing it expired",
            buckets=LATENESS_BUCKETS,
            registry=registry,
        )
        self.orphans_found = Counter(
            "demo_orphans_found",
            "Resources the orphan sweep found held for no live demo, by provider",
            ["kind", "provider"],
            registry=registry,
        )
        self.orphans_removed = Counter(
            "demo_orphans_removed",
            "Orphaned resources the sweep removed, by provider",
            ["kind", "provider"],
            registry=registry,
        )
        self.heals = Counter(
            "demo_heals",
            "Ready demos whose services died and were sent back through their runtime steps",
            registry=registry,
        )
        self.health_changes = Counter(
            "demo_health_changes",
            "Changes of a ready demo's health (degraded: it stopped answering, restarts failed)",
            ["state"],
            registry=registry,
        )

    def observe(self, changes: list[Change]) -> None:
        """The change feed's subscriber."""
        with self._lock:
            for change in changes:
                self._one(change)

    def _one(self, change: Change) -> None:
        data = change.data
        if change.kind == "status":
            self._status(change, data)
        elif change.kind == "step":
            self._step(data)
        elif change.kind == "personalize":
            self._journeys[change.instance_id] = ("provision", change.at)
        elif change.kind == "expired":
            expires_at = _parse(data.get("expires_at"))
            if expires_at is not None:
                self.lateness.observe(max(0.0, (change.at - expires_at).total_seconds()))
        elif change.kind == "orphan":
            labels = (str(data.get("kind", "")), str(data.get("provider", "")))
            self.orphans_found.labels(*labels).inc()
            if data.get("removed"):
                self.orphans_removed.labels(*labels).inc()
        elif change.kind == "heal":
            self.heals.inc()
        elif change.kind == "health":
            self.health_changes.labels(str(data.get("health", {}).get("state", ""))).inc()

    def _status(self, change: Change, data: dict[str, Any]) -> None:
        iid, status, at = change.instance_id, str(data.get("status")), change.at
        scenario = data.get("scenario")
        if scenario is None:  # not a change of status: the create's own event
            if status in {"pending", "provisioning"}:
                self._journeys.setdefault(iid, ("provision", at))
            return
        self.status_changes.labels(status, scenario).inc()
        before = self._last_status.get(iid)
        self._last_status[iid] = status
        journey = self._journeys.get(iid)
        if status == "pending":
            self._journeys.setdefault(iid, ("provision", at))
        elif status == "provisioning" and journey is None and before == "sleeping":
            self._journeys[iid] = ("wake", at)
        elif status == "deleting":
            self._journeys[iid] = ("teardown", at)
        elif status == "ready" and journey is not None:
            del self._journeys[iid]
            seconds = max(0.0, (at - journey[1]).total_seconds())
            if journey[0] == "provision":
                self.provision.labels(scenario).observe(seconds)
            elif journey[0] == "wake":
                self.wake.labels(scenario).observe(seconds)
        elif status == "deleted":
            self._last_status.pop(iid, None)
            if journey is not None:
                del self._journeys[iid]
                if journey[0] == "teardown":
                    seconds = max(0.0, (at - journey[1]).total_seconds())
                    self.teardown.labels(scenario).observe(seconds)
        elif status in {"failed", "sleeping", "rejected"}:
            self._journeys.pop(iid, None)
        for table in (self._journeys, self._last_status):
            if len(table) > MAX_JOURNEYS:  # dicts keep insertion order: drop the oldest
                for key in list(table)[: len(table) - MAX_JOURNEYS]:
                    del table[key]

    def _step(self, data: dict[str, Any]) -> None:
        outcome = data.get("outcome")
        if outcome is None:
            return
        step = str(data.get("step"))
        duration = data.get("duration_seconds")
        if isinstance(duration, (int, float)):
            self.step.labels(step, outcome).observe(float(duration))
        if outcome == "failure":
            self.failures.labels(step, reason_of(data.get("error"), failure=True)).inc()
        elif outcome == "retry":
            self.retries.labels(step, reason_of(data.get("error"), failure=False)).inc()


def _parse(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
