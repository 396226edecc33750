"""Engagement reporting: which persona looked at which page pattern, per minute, sent to the
orchestrator that made this demo.

The stack reports rather than the orchestrator's router observing, because the stack alone knows
who is signed in and which route template a path matched (`/jobs/{job_id}`), and because a report
works the same in both runtimes and behind any proxy. Visits are counted in memory under a key of
(minute, persona, route, path pattern, page) and a background thread POSTs the counts every few
seconds (and at close) to `DEMO_ORCHESTRATOR_URL`/api/v1/demo-instances/<id>/activity with the
per-demo `DEMO_ACTIVITY_TOKEN`. `page` is the concrete path without query string or fragment; the
orchestrator only uses it to tell which tour step was reached and never stores it.

Nothing personal about the prospect is sent: persona names are the seeded fiction, and no address,
user agent or query string ever enters a key. A report that fails is kept (merged into the next
batch), up to `4 * MAX_KEYS` keys; beyond that the oldest counts are dropped, so a demo never
grows without bound when its orchestrator is away. A report the orchestrator refuses as invalid
is dropped.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime

log = logging.getLogger("splits_stack.activity")

MAX_KEYS = 500  # one POST carries at most this many counts (the orchestrator's own limit)
FLUSH_SECONDS = 5.0

# (minute as ISO text, persona or "", route, path pattern, page)
Key = tuple[str, str, str, str, str]
Send = Callable[[list[dict[str, object]]], None]


class Refused(RuntimeError):
    """The orchestrator refused the report itself (4xx other than 429): sending it again would
    be refused again, so its counts are dropped rather than kept."""


def minute_of(now: float) -> str:
    at = datetime.fromtimestamp(now, UTC).replace(second=0, microsecond=0)
    return at.isoformat().replace("+00:00", "Z")


class ActivityReporter:
    """Counts visits and sends them in batches; `record` is cheap and never blocks on the network."""

    def __init__(
        self,
        send: Send | None,
        *,
        flush_seconds: float = FLUSH_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._send = send
        self._flush_seconds = flush_seconds
        self._clock = clock
        self._counts: dict[Key, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        return self._send is not None

    def record(self, *, persona: str | None, route: str, path: str, page: str) -> None:
        if self._send is None:
            return
        key = (minute_of(self._clock()), persona or "", route, path, page)
        with self._lock:
            if key not in self._counts and len(self._counts) >= MAX_KEYS * 4:
                self._counts.pop(next(iter(self._counts)))  # the oldest: bounded memory
            self._counts[key] = self._counts.get(key, 0) + 1

    def pending(self) -> int:
        with self._lock:
            return sum(self._counts.values())

    def flush(self) -> int:
        """Send what was counted (at most `MAX_KEYS` keys per POST); the number of keys sent.
        A failed POST puts its counts back for the next flush."""
        sent = 0
        while self._send is not None:
            with self._lock:
                keys = list(self._counts)[:MAX_KEYS]
                batch = {key: self._counts.pop(key) for key in keys}
            if not batch:
                break
            try:
                self._send([_event(key, count) for key, count in batch.items()])
            except Refused as exc:
                log.warning("activity report refused (dropped): %s", exc)
                continue
            except Exception as exc:  # noqa: BLE001 - reporting must never break the demo
                log.warning("activity report failed (kept for the next one): %s", exc)
                with self._lock:
                    for key, count in batch.items():
                        self._counts[key] = self._counts.get(key, 0) + count
                break
            sent += len(batch)
        return sent

    def start(self) -> None:
        if self._send is None or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="activity-reporter", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.flush()

    def _run(self) -> None:
        while not self._stop.wait(self._flush_seconds):
            self.flush()


def _event(key: Key, count: int) -> dict[str, object]:
    at, persona, route, path, page = key
    return {
        "at": at,
        "persona": persona or None,
        "route": route,
        "path": path,
        "page": page,
        "requests": count,
    }


def http_sender(url: str, token: str, timeout: float = 5.0) -> Send:
    """POST a batch as `{"events": [...]}` with the demo's activity token."""

    def send(events: list[dict[str, object]]) -> None:
        body = json.dumps({"events": events}).encode()
        request = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            if 400 <= exc.code < 500 and exc.code != 429:
                raise Refused(f"orchestrator answered {exc.code}") from None
            raise RuntimeError(f"orchestrator answered {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise RuntimeError(f"orchestrator unreachable: {exc}") from None

    return send


def reporter_for(orchestrator_url: str, instance_id: str, token: str) -> ActivityReporter:
    """A reporter posting to the orchestrator, or one that records nothing when the stack runs
    standalone (no orchestrator URL or token in its environment)."""
    if not orchestrator_url or not token:
        return ActivityReporter(None)
    url = f"{orchestrator_url.rstrip('/')}/api/v1/demo-instances/{instance_id}/activity"
    return ActivityReporter(http_sender(url, token))
