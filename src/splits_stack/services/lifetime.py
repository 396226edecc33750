"""What the orchestrator says about this demo's life: when it ends, whether it already has, and
for whom it is made (the prospect, and the contact a prospect turns to afterwards).

The one channel between a running demo and its orchestrator (contract 4 of issue 15):
`GET {DEMO_ORCHESTRATOR_URL}/api/v1/demo-instances/{id}/self` with the demo's own activity token.
The stack reads it in the background at start (start-up never waits on it, nor fails when the
orchestrator is away), again at every reload (a reload builds a new watch), and at most every
`min_interval` seconds (30) while pages are viewed. The last good answer is kept: an orchestrator
that goes away leaves the countdown running; one that never answered leaves nothing known, and
then no banner is shown. The token travels in a header only and never enters a log line.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger("splits_stack.lifetime")

MIN_INTERVAL_S = 30.0  # contract 4: at most one read per 30 s while pages are viewed
DEFAULT_WARNING_MINUTES = (15,)  # DEMO_EXPIRY_WARNING_MINUTES' first lead time by default
ENDED_STATUSES = frozenset({"deleted", "expired", "deleting"})  # the router then says "ended"

Fetch = Callable[[], dict[str, Any] | None]


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


@dataclass(frozen=True)
class Lifetime:
    """One answer of `/self`, with the orchestrator's clock offset, so that a stack whose clock
    drifts still counts down to the orchestrator's expiry."""

    status: str
    expires_at: datetime | None
    warning_minutes: tuple[int, ...]
    prospect: dict[str, Any] | None
    contact: dict[str, Any] | None
    offset_s: float  # orchestrator's now minus ours, when it was read

    @classmethod
    def from_answer(cls, body: dict[str, Any], local_now: float) -> Lifetime:
        server_now = _parse_time(body.get("now"))
        minutes = tuple(
            sorted((int(m) for m in body.get("warning_minutes") or () if int(m) > 0), reverse=True)
        )
        prospect = body.get("prospect")
        contact = body.get("contact")
        return cls(
            status=str(body.get("status") or ""),
            expires_at=_parse_time(body.get("expires_at")),
            warning_minutes=minutes or DEFAULT_WARNING_MINUTES,
            prospect=prospect if isinstance(prospect, dict) else None,
            contact=contact if isinstance(contact, dict) else None,
            offset_s=(server_now.timestamp() - local_now) if server_now else 0.0,
        )

    @property
    def warn_seconds(self) -> int:
        return max(self.warning_minutes) * 60

    def seconds_left(self, local_now: float) -> int | None:
        if self.expires_at is None:
            return None
        return max(0, int(self.expires_at.timestamp() - (local_now + self.offset_s)))

    def view(self, local_now: float) -> dict[str, Any]:
        left = self.seconds_left(local_now)
        ended = self.status in ENDED_STATUSES or left == 0
        return {
            "status": self.status,
            "expires_at": _iso(self.expires_at),
            "seconds_left": left,
            "warn_seconds": self.warn_seconds,
            "warn": ended or (left is not None and left <= self.warn_seconds),
            "ended": ended,
            "prospect": self.prospect,
            "contact": self.contact,
        }


UNKNOWN: dict[str, Any] = {
    "status": None,
    "expires_at": None,
    "seconds_left": None,
    "warn_seconds": None,
    "warn": False,
    "ended": False,
    "prospect": None,
    "contact": None,
}


class LifetimeWatch:
    """Keeps the last answer of `/self` and reads it again when asked and due. `touch` never
    blocks (a page render calls it); `fresh` waits a moment for a due read (the page's script
    asks through `/__demo/lifetime`, off the page's critical path)."""

    def __init__(
        self,
        fetch: Fetch | None,
        *,
        min_interval: float = MIN_INTERVAL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._fetch = fetch
        self._min_interval = min_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._last_try = float("-inf")
        self._done = threading.Event()
        self._done.set()
        self._last_error = ""
        self.current: Lifetime | None = None

    @property
    def enabled(self) -> bool:
        return self._fetch is not None

    def start(self) -> None:
        """Read once in the background (at start and at every reload)."""
        self.touch(force=True)

    def touch(self, *, force: bool = False) -> None:
        """Start a background read when one is due (at most one per `min_interval`)."""
        if self._fetch is None:
            return
        with self._lock:
            now = self._clock()
            if not self._done.is_set():
                return  # one read at a time
            if not force and now - self._last_try < self._min_interval:
                return
            self._last_try = now
            self._done.clear()
        threading.Thread(target=self._read, name="lifetime-read", daemon=True).start()

    def fresh(self, wait: float = 2.0) -> dict[str, Any]:
        """The view after a due read (waiting at most `wait` seconds for it)."""
        self.touch()
        self._done.wait(wait)
        return self.view()

    def view(self) -> dict[str, Any]:
        current = self.current
        return dict(UNKNOWN) if current is None else current.view(self._clock())

    def banner(self) -> dict[str, Any] | None:
        """What a page shows now: None when nothing is known or no expiry is set."""
        self.touch()
        shown = self.view()
        return shown if shown["expires_at"] is not None or shown["ended"] else None

    def _read(self) -> None:
        try:
            assert self._fetch is not None
            body = self._fetch()
            if body is not None:
                self.current = Lifetime.from_answer(body, self._clock())
            self._last_error = ""
        except Exception as exc:  # noqa: BLE001 - the demo keeps working without it
            said = str(exc)
            if said != self._last_error:  # once per kind of failure, not every 30 s
                log.warning("reading this demo's lifetime from the orchestrator failed: %s", said)
            self._last_error = said
        finally:
            self._done.set()


def http_fetch(url: str, token: str, timeout: float = 3.0) -> Fetch:
    """GET the `/self` document with the demo's token. None when the orchestrator does not know
    this demo (404): then nothing is known, as with no orchestrator at all."""

    def fetch() -> dict[str, Any] | None:
        request = urllib.request.Request(
            url, headers={"Accept": "application/json", "Authorization": f"Bearer {token}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                body = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise RuntimeError(f"orchestrator answered {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise RuntimeError(f"orchestrator unreachable: {exc}") from None
        except ValueError:
            raise RuntimeError("orchestrator answered something that is not JSON") from None
        if not isinstance(body, dict):
            raise TypeError("orchestrator answered something that is not a JSON object")
        return body

    return fetch


def watch_for(orchestrator_url: str, instance_id: str, token: str) -> LifetimeWatch:
    """A watch of this demo's `/self`, or one that knows nothing when the stack runs standalone."""
    if not orchestrator_url or not token:
        return LifetimeWatch(None)
    url = f"{orchestrator_url.rstrip('/')}/api/v1/demo-instances/{instance_id}/self"
    return LifetimeWatch(http_fetch(url, token))
