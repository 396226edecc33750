"""Fault injection: makes a named step fail on purpose, to prove retries and rollback work.

`DEMO_FAULT_INJECTION="deploy:2,health:always"` fails `deploy` with a temporary error twice (then
lets it pass) and `health` every time. Empty (the default) injects nothing.
"""

from __future__ import annotations

import threading

from demo_orchestrator.domain.errors import BadRequest, TemporaryError


class FaultInjector:
    def __init__(self, spec: str) -> None:
        self._left: dict[str, int | None] = {}
        self._lock = threading.Lock()
        for part in filter(None, (p.strip() for p in spec.split(","))):
            step, _, count = part.partition(":")
            if count == "always":
                self._left[step] = None
            elif count.isascii() and count.isdigit():
                self._left[step] = int(count)
            else:
                raise BadRequest(
                    f"DEMO_FAULT_INJECTION entry {part!r} must be step:count or step:always"
                )

    def check(self, step: str) -> None:
        with self._lock:
            if step not in self._left:
                return
            left = self._left[step]
            if left is not None:
                if left <= 0:
                    return
                self._left[step] = left - 1
        raise TemporaryError(f"injected fault in step {step}", delay=0.05)
