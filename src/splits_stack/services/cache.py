"""Small read-through cache for derived data (match rankings): Redis when configured, else memory.

Every Redis key lives under `<REDIS_PREFIX>:` because the orchestrator gives each demo an ACL user
limited to its prefix.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol


class Cache(Protocol):
    def get_or_set(self, key: str, ttl_s: int, make: Callable[[], Any]) -> Any: ...
    def clear(self) -> None: ...


class MemoryCache:
    def __init__(self) -> None:
        self._data: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get_or_set(self, key: str, ttl_s: int, make: Callable[[], Any]) -> Any:
        now = time.monotonic()
        with self._lock:
            hit = self._data.get(key)
            if hit and hit[0] > now:
                return hit[1]
        value = make()
        with self._lock:
            self._data[key] = (now + ttl_s, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


class RedisCache:
    """Keys carry a generation number; `clear` bumps it and old entries expire with their TTL.

    No SCAN or KEYS: the demo's ACL user is denied both (they would walk other demos' keys).
    """

    def __init__(self, client: Any, prefix: str) -> None:
        self.client, self.prefix = client, prefix
        self._generation_key = f"{prefix}:cache:generation"

    def _full(self, key: str) -> str:
        generation = int(self.client.get(self._generation_key) or 0)
        return f"{self.prefix}:cache:{generation}:{key}"

    def get_or_set(self, key: str, ttl_s: int, make: Callable[[], Any]) -> Any:
        full = self._full(key)
        raw = self.client.get(full)
        if raw is not None:
            return json.loads(raw)
        value = make()
        self.client.set(full, json.dumps(value), ex=ttl_s)
        return value

    def clear(self) -> None:
        self.client.incr(self._generation_key)
