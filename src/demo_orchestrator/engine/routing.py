"""Answers the router's question "where does this demo host go?" from memory.

The route table keeps, per instance, what the router needs (status, blueprint, upstreams, error),
loaded from the store on first use and dropped whenever the change feed carries a change of that
instance, so the next request loads it fresh. It is a cache of the store, never a second source of
truth: a deleted demo's routes are gone from it as soon as its change is read, so a port reused by
a new demo is never reached through the old host. Unknown ids are cached too (bounded), so a
flood of made-up hosts costs one store read each at most once.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass

from demo_orchestrator.domain.instance import Desired, Status, is_instance_id
from demo_orchestrator.engine.context import Context
from demo_orchestrator.engine.feed import Change, ChangeFeed
from demo_orchestrator.store import repository as repo

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RouteInfo:
    kind: str  # proxy | starting | not_found | failed
    status: str | None = None
    host: str | None = None
    port: int | None = None
    message: str | None = None


@dataclass(frozen=True)
class _Entry:
    status: str | None
    desired: str | None = None
    blueprint: str | None = None
    routes: dict[str, tuple[str, int]] | None = None
    error: str | None = None


STARTING = {Status.PENDING.value, Status.PROVISIONING.value, Status.PENDING_APPROVAL.value}
GONE = {Status.DELETED.value, Status.REJECTED.value, Status.DELETING.value}
NOT_FOUND = RouteInfo("not_found")
MAX_ENTRIES = 50_000


class RouteTable:
    def __init__(self, ctx: Context, feed: ChangeFeed | None = None) -> None:
        self.ctx = ctx
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._generation: dict[str, int] = {}
        self._lock = threading.Lock()
        self.loads = 0  # store reads, for tests and the bench
        self._feed = feed
        if feed is not None:
            feed.subscribe(self.changed)

    def changed(self, changes: list[Change]) -> None:
        """Drop every instance the feed says changed; the next request loads it again."""
        with self._lock:
            for change in changes:
                self._entries.pop(change.instance_id, None)
                self._generation[change.instance_id] = (
                    self._generation.get(change.instance_id, 0) + 1
                )
            if len(self._generation) > MAX_ENTRIES:
                self._generation.clear()

    def cached(self, instance_id: str, route: str) -> RouteInfo | None:
        """The answer from memory, or None when the store must be read (see `resolve`)."""
        if not is_instance_id(instance_id):
            return NOT_FOUND
        if self._feed is not None and self._feed.behind():
            return None  # a committed change may not be dispatched yet: see `resolve`
        return self._memory(instance_id, route)

    def _memory(self, instance_id: str, route: str) -> RouteInfo | None:
        with self._lock:
            entry = self._entries.get(instance_id)
        return None if entry is None else self._answer(entry, route)

    def resolve(self, instance_id: str, route: str) -> RouteInfo:
        """The answer, reading the store once if this instance is not in memory."""
        if not is_instance_id(instance_id):
            return NOT_FOUND
        if self._feed is not None:
            try:
                self._feed.catch_up()
            except Exception:  # the store is down: what memory holds is the best answer left
                log.warning("change feed: catching up failed", exc_info=True)
        answer = self._memory(instance_id, route)
        if answer is not None:
            return answer
        with self._lock:
            generation = self._generation.get(instance_id, 0)
        entry = self._load(instance_id)
        with self._lock:
            # A change read while loading makes what was loaded stale: answer it, keep nothing.
            if self._generation.get(instance_id, 0) == generation:
                self._entries[instance_id] = entry
                self._entries.move_to_end(instance_id)
                while len(self._entries) > MAX_ENTRIES:
                    self._entries.popitem(last=False)
        return self._answer(entry, route)

    def _load(self, instance_id: str) -> _Entry:
        self.loads += 1
        with self.ctx.db.read() as session:
            row = repo.get_instance(session, instance_id)
        if row is None:
            return _Entry(status=None)
        targets = (row.outputs or {}).get("routes") or {}
        routes = {
            name: (str(t["host"]), int(t["port"]))
            for name, t in targets.items()
            if isinstance(t, dict) and "host" in t and "port" in t
        }
        return _Entry(
            status=row.status,
            desired=row.desired,
            blueprint=row.blueprint,
            routes=routes,
            error=row.error,
        )

    def _answer(self, entry: _Entry, route: str) -> RouteInfo:
        if entry.status is None or entry.status in GONE:
            return RouteInfo("not_found", status=entry.status)
        blueprint = self.ctx.blueprints.get(entry.blueprint or "")
        if blueprint is None or route not in blueprint.routes:
            return RouteInfo("not_found", status=entry.status)
        if entry.status == Status.FAILED.value:
            return RouteInfo("failed", status=entry.status, message=entry.error)
        target = (entry.routes or {}).get(route)
        if entry.status == Status.READY.value and entry.desired == Desired.SLEEPING.value:
            # Falling asleep: its processes may stop (and their ports be reused) at any moment,
            # so nothing is sent there; to the router it is asleep, and a request wakes it.
            return RouteInfo("starting", status=Status.SLEEPING.value, message="waking up")
        if entry.status == Status.READY.value and target:
            return RouteInfo("proxy", status=entry.status, host=target[0], port=target[1])
        message = "waking up" if entry.status == Status.SLEEPING.value else "being prepared"
        return RouteInfo("starting", status=entry.status, message=message)
