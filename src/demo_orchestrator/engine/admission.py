"""Admission control: how much one user (and everyone together) may ask of this process.

Two kinds of limit keep one client from starving the others:

- **rates** (`CreateRate`): creates per user in a moving window, with the maintained `limits`
  library (a moving window, so a burst at the edge of a fixed minute cannot double the rate);
- **caps** (`StreamCaps`): open server-sent event streams per user and in total; a stream holds a
  slot from its start until its client goes away.

Both are counted in this process's memory: with several API replicas each replica enforces them
on its own share (behind a load balancer the effective limit is the sum). Refusals raise
`TooManyRequests`, rendered as 429 problem+json with a `Retry-After` header.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from demo_orchestrator.domain.errors import QuotaExceeded


class TooManyRequests(QuotaExceeded):
    """A limit was reached; `retry_after` (whole seconds) says when to try again."""

    title = "Too many requests"
    type_slug = "too-many-requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = max(1, retry_after)


class CreateRate:
    """Creates per user: `hit(user)` counts one, or raises `TooManyRequests` past the rate."""

    def __init__(self, rate: str) -> None:
        self.rate = rate
        self._item = parse(rate)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def hit(self, user: str) -> None:
        if self._limiter.hit(self._item, "create", user):
            return
        reset_at = self._limiter.get_window_stats(self._item, "create", user).reset_time
        wait = math.ceil(max(0.0, reset_at - time.time()))
        raise TooManyRequests(
            f"you created demos at the limit of {self.rate} (DEMO_CREATE_RATE_PER_USER); "
            f"try again in {max(1, wait)} s",
            retry_after=wait,
        )


class StreamCaps:
    """Open event streams per user and in total; `acquire` returns the release (idempotent)."""

    RETRY_AFTER = 5  # seconds: streams end when clients leave, a slot frees up soon

    def __init__(self, *, per_user: int, total: int) -> None:
        self.per_user = per_user
        self.total = total
        self._open: dict[str, int] = {}
        self._lock = threading.Lock()

    def open_count(self, user: str | None = None) -> int:
        with self._lock:
            return self._open.get(user, 0) if user is not None else sum(self._open.values())

    def acquire(self, user: str) -> Callable[[], None]:
        with self._lock:
            mine = self._open.get(user, 0)
            if mine >= self.per_user:
                raise TooManyRequests(
                    f"you have {mine} event streams open, the most one user may "
                    f"(DEMO_MAX_STREAMS_PER_USER={self.per_user}); close one first",
                    retry_after=self.RETRY_AFTER,
                )
            if sum(self._open.values()) >= self.total:
                raise TooManyRequests(
                    f"the orchestrator serves its maximum of {self.total} open event streams "
                    "(DEMO_MAX_STREAMS); try again shortly",
                    retry_after=self.RETRY_AFTER,
                )
            self._open[user] = mine + 1
        released = False

        def release() -> None:
            nonlocal released
            with self._lock:
                if released:
                    return
                released = True
                left = self._open.get(user, 0) - 1
                if left > 0:
                    self._open[user] = left
                else:
                    self._open.pop(user, None)

        return release
