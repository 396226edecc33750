"""Demos that ended recently: what the router shows on their hosts instead of "does not exist".

A prospect who clicks the demo link after the call must learn that the demo ended and whom to
ask, not that it never existed. For DEMO_ENDED_PAGE_DAYS after a demo ended (deleted or expired)
its hosts answer 410 with its owner's name and e-mail and the prospect's company; after that, and
for hosts that were never a demo, the router's 404 stays.

The route table (engine/routing.py) answers live demos from memory; this is asked only when it
has no live route for a host, so it costs live demos nothing. Its answers are cached for a short
while (a made-up host costs one store read per `ttl` at most, and memory is bounded), which is
no second source of truth: an ended demo does not come back, and a stale answer is at most `ttl`
old (an owner's e-mail just changed, a demo that ended a moment ago).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import timedelta

from demo_orchestrator.domain.instance import is_instance_id
from demo_orchestrator.engine.context import Context
from demo_orchestrator.engine.demo_self import ended_status, owner_contact
from demo_orchestrator.store import repository as repo

TTL_SECONDS = 30.0
MAX_ENTRIES = 20_000


@dataclass(frozen=True)
class EndedDemo:
    """What the ended page names; nothing internal beyond the demo's id."""

    instance_id: str
    status: str  # deleted | expired
    routes: tuple[str, ...]
    contact_name: str | None
    contact_email: str | None
    company: str | None


class EndedDemos:
    """`lookup(instance_id, route)`: the ended demo to show a page for, or None (404)."""

    def __init__(self, ctx: Context, *, ttl: float = TTL_SECONDS) -> None:
        self.ctx = ctx
        self.ttl = ttl
        self._entries: OrderedDict[str, tuple[float, EndedDemo | None]] = OrderedDict()
        self._lock = threading.Lock()
        self.loads = 0  # store reads, for tests

    def cached(self, instance_id: str, route: str) -> tuple[bool, EndedDemo | None]:
        """`(True, answer)` from memory, or `(False, None)` when the store must be read."""
        if self.ctx.settings.ended_page_days <= 0 or not is_instance_id(instance_id):
            return True, None
        with self._lock:
            entry = self._entries.get(instance_id)
        if entry is None or time.monotonic() - entry[0] > self.ttl:
            return False, None
        return True, _on_route(entry[1], route)

    def lookup(self, instance_id: str, route: str) -> EndedDemo | None:
        """The answer, reading the store when memory has none (call it off the event loop)."""
        known, answer = self.cached(instance_id, route)
        if known:
            return answer
        found = self._load(instance_id)
        with self._lock:
            self._entries[instance_id] = (time.monotonic(), found)
            self._entries.move_to_end(instance_id)
            while len(self._entries) > MAX_ENTRIES:
                self._entries.popitem(last=False)
        return _on_route(found, route)

    def _load(self, instance_id: str) -> EndedDemo | None:
        self.loads += 1
        now = self.ctx.clock()
        window = timedelta(days=self.ctx.settings.ended_page_days)
        with self.ctx.db.read() as session:
            row = repo.get_instance(session, instance_id)
            if row is None or row.pooled or row.ready_at is None:
                return None  # never made here, never claimed, or never shown to anyone
            status = ended_status(row, now)
            if status is None or (row.ended_at is not None and row.ended_at < now - window):
                return None
            contact = owner_contact(session, row.owner)
            blueprint = self.ctx.blueprints.get(row.blueprint)
            company = (row.prospect or {}).get("company")
            return EndedDemo(
                instance_id=row.id,
                status=status,
                routes=tuple(blueprint.routes) if blueprint is not None else (),
                contact_name=contact["name"] if contact else None,
                contact_email=contact["email"] if contact else None,
                company=str(company) if company else None,
            )


def _on_route(found: EndedDemo | None, route: str) -> EndedDemo | None:
    """Only the demo's own hosts: a made-up route of an ended demo stays a 404."""
    return found if found is not None and route in found.routes else None
