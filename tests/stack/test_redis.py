"""With REDIS_URL and REDIS_PREFIX set, sessions and cached rankings live in Redis under the prefix."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from tests.services import REDIS_URL
from tests.stack.conftest import client, sign_in

pytestmark = pytest.mark.redis


@pytest.fixture(scope="module")
def redis_client() -> Any:
    import redis

    r = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
    yield r
    r.close()


def test_sessions_and_cache_keys_stay_under_the_prefix(stacks: Any, redis_client: Any) -> None:
    prefix = f"demo-{uuid.uuid4().hex[:6]}"
    stack = stacks("agency", REDIS_URL=REDIS_URL, REDIS_PREFIX=prefix)
    try:
        with sign_in(stack, "priya.nair@client.example") as http:
            assert http.get("/").status_code == 200
            job = http.get("/api/jobs", params={"limit": 1}).json()["items"][0]["id"]  # hers
            assert http.get("/api/matches", params={"job_id": job}).status_code == 200
            keys = {k.decode() for k in redis_client.scan_iter(match=f"{prefix}:*")}
            assert any(k.startswith(f"{prefix}:session:") for k in keys)
            # cached entries carry a generation, bumped to clear them (the ACL denies SCAN)
            assert any(re.fullmatch(rf"{prefix}:cache:\d+:matches:{job}", k) for k in keys), keys
            http.get("/auth/logout")
            assert not any(
                k.startswith(f"{prefix}:session:")
                for k in (k.decode() for k in redis_client.scan_iter(match=f"{prefix}:*"))
            )
        with client(stack) as anon:
            assert anon.get("/").status_code == 303
    finally:
        for key in redis_client.scan_iter(match=f"{prefix}:*"):
            redis_client.delete(key)
