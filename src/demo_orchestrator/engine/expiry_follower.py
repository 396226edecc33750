"""Keeps a runtime's own copy of each demo's expiry in step with the store.

Some runtimes carry the expiry on the resource itself as a second line of defence (the
`kubernetes` one annotates the namespace `janitor/expires`, which kube-janitor honours even when
the orchestrator is gone). This consumer of the change feed tells the runtime the expiry when a
demo becomes ready and after every extend. It works on a thread of its own, so a slow cluster
never holds up the feed's other consumers (the router's cache); a failure is logged and the
deadline left as it was, which is at most the cap extensions cannot pass.
"""

from __future__ import annotations

import logging
import queue
import threading
from datetime import datetime

from demo_orchestrator.domain.instance import Status, as_utc
from demo_orchestrator.engine.context import Context
from demo_orchestrator.engine.feed import Change
from demo_orchestrator.providers.base import RuntimeProvider
from demo_orchestrator.store import repository as repo

log = logging.getLogger(__name__)


def follows_expiry(runtime: RuntimeProvider) -> bool:
    """True when the runtime overrides `follow_expiry` (the others need no feed consumer)."""
    return type(runtime).follow_expiry is not RuntimeProvider.follow_expiry


class ExpiryFollower:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._work: queue.Queue[tuple[str, datetime | None]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def changed(self, changes: list[Change]) -> None:
        """Feed subscriber: queue the demos whose expiry the runtime should learn."""
        for change in changes:
            if change.kind == "expiry" and change.data.get("expires_at"):
                at = as_utc(datetime.fromisoformat(str(change.data["expires_at"])))
                self._queue(change.instance_id, at)
            elif change.kind == "status" and change.data.get("status") == Status.READY.value:
                self._queue(change.instance_id, None)  # read from the store when its turn comes

    def _queue(self, instance_id: str, at: datetime | None) -> None:
        self._work.put((instance_id, at))
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="expiry-follower", daemon=True
                )
                self._thread.start()

    def _loop(self) -> None:
        while True:
            instance_id, at = self._work.get()
            try:
                self.follow(instance_id, at)
            except Exception as exc:  # noqa: BLE001 - logged; the deadline stays at the cap
                log.warning("%s: the runtime did not take the new expiry: %s", instance_id, exc)

    def follow(self, instance_id: str, at: datetime | None) -> None:
        if at is None:
            with self.ctx.db.read() as session:
                row = repo.get_instance(session, instance_id)
                if row is None or row.status != Status.READY.value:
                    return
                at = as_utc(row.expires_at)
        self.ctx.runtime.follow_expiry(instance_id=instance_id, expires_at=at)
