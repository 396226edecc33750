"""When each demo last got a request through this process's router.

The router notes every proxied request in memory (no I/O on the request path); a flush writes the
latest time per demo to the store at most every few seconds, where the engine's idle check (any
replica's) reads it to put unused demos to sleep.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from demo_orchestrator.engine.context import Context
from demo_orchestrator.store import sleeps

log = logging.getLogger(__name__)


class RequestLog:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._seen: dict[str, datetime] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def flush_seconds(self) -> float:
        """Often enough for the idle check to be right within a quarter of its period."""
        idle = self.ctx.settings.idle_minutes * 60
        return max(0.5, min(30.0, idle / 4)) if idle > 0 else 30.0

    def note(self, instance_id: str) -> None:
        with self._lock:
            self._seen[instance_id] = self.ctx.clock()

    def flush(self) -> int:
        with self._lock:
            seen, self._seen = self._seen, {}
        if not seen:
            return 0
        try:
            with self.ctx.db.write() as session:
                sleeps.record_requests(session, seen)
        except BaseException:
            with self._lock:  # keep them for the next flush; newer notes win
                self._seen = {**seen, **self._seen}
            raise
        return len(seen)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="request-log", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.flush()

    def _loop(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            try:
                self.flush()
            except Exception:  # a store hiccup must not end the log; the next flush retries
                log.warning("writing the demos' last requests failed", exc_info=True)
