"""The change feed: every change of every instance, in order, to every consumer, read once.

Changes are rows of the store's `events` table with a monotonically increasing id, written in the
same transaction as the change itself. One reader thread per process reads "every event after the
last one seen" and hands each batch to the subscribers (the router's route cache, event streams,
later webhooks), so no consumer polls the store per client. The reader wakes at once after a
commit in this process, on PostgreSQL's NOTIFY from any replica, and otherwise every
`poll_seconds` as a safety net (other processes on one SQLite file, a lost notification).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from demo_orchestrator.store import repository as repo
from demo_orchestrator.store.database import Database

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Change:
    """One event of the feed."""

    id: int
    instance_id: str
    kind: str
    at: datetime
    data: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "at": self.at.isoformat().replace("+00:00", "Z"),
            **self.data,
        }


Subscriber = Callable[[list[Change]], None]


class ChangeFeed:
    def __init__(self, db: Database, *, poll_seconds: float = 1.0) -> None:
        self.db = db
        self.poll_seconds = poll_seconds
        self.last_id = 0
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._read_lock = threading.Lock()
        # Commits with events notified (here, or by NOTIFY) and how many of them were read:
        # while they differ, what consumers hold in memory may be stale (see `behind`).
        self._notified = 0
        self._read_upto = 0
        self._count_lock = threading.Lock()

    def start(self) -> None:
        """Begin at the newest event (consumers load current state themselves), then follow."""
        with self.db.read() as session:
            self.last_id = repo.last_event_id(session)
        self.db.on_events = self.notify
        reader = threading.Thread(target=self._read_loop, name="change-feed", daemon=True)
        self._threads = [reader]
        if not self.db.is_sqlite:
            listener = threading.Thread(target=self._listen_loop, name="feed-listen", daemon=True)
            self._threads.append(listener)
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout=5)
        if self.db.on_events == self.notify:
            self.db.on_events = None

    def notify(self) -> None:
        """Something was committed: read the feed now."""
        with self._count_lock:
            self._notified += 1
        self._wake.set()

    def behind(self) -> bool:
        """True from a notified commit until the read that follows it has been dispatched.

        The router answers from memory only while this is False: a deleted demo's routes are
        then never used after its deletion was committed, even before the reader thread ran.
        """
        return self._notified != self._read_upto

    def catch_up(self) -> None:
        """Read and dispatch now if `behind` (one read serves every caller that waited)."""
        if self.behind():
            with self._read_lock:
                if self.behind():
                    self._read()

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call `subscriber` with every later batch of changes; returns the unsubscribe."""
        with self._lock:
            self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            with self._lock:
                if subscriber in self._subscribers:
                    self._subscribers.remove(subscriber)

        return unsubscribe

    def read_now(self) -> int:
        """Read and dispatch whatever is new; returns how many changes were dispatched."""
        with self._read_lock:
            return self._read()

    def _read(self) -> int:
        notified = self._notified  # every commit counted so far is visible to the read below
        total = 0
        while True:
            with self.db.read() as session:
                rows = repo.events_since(session, self.last_id)
                batch = [Change(r.id, r.instance_id, r.kind, r.at, dict(r.data)) for r in rows]
            if not batch:
                self._read_upto = notified
                return total
            self.last_id = batch[-1].id
            total += len(batch)
            with self._lock:
                subscribers = list(self._subscribers)
            for subscriber in subscribers:
                try:
                    subscriber(batch)
                except Exception:  # one broken consumer must not stop the others
                    log.exception("change feed subscriber failed")

    def _read_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.poll_seconds)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.read_now()
            except Exception:
                log.exception("reading the change feed failed")

    def _listen_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.db.listen(repo.NOTIFY_CHANNEL, self.notify, self._stop.is_set)
            except Exception:  # any driver error: fall back to polling, try again later
                log.warning("change feed: LISTEN failed; polling until it works", exc_info=True)
                self._stop.wait(self.poll_seconds)
