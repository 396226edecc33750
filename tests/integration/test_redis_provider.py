"""The `redis` provider against the real server: ACL user, prefix confinement, teardown, markers."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from demo_orchestrator.domain.blueprint import load_blueprint
from demo_orchestrator.domain.errors import PermanentError, ProviderError
from demo_orchestrator.providers.base import InstanceSpec
from tests.fakes.data_services import REDIS_URL, leftovers, redis_cache

TINY_CACHE = Path(__file__).resolve().parents[1] / "blueprints" / "tiny_cache.yaml"
# Tests using the `owner` fixture are marked postgres, redis and rabbitmq: its clean-up visits
# all three servers.


def _spec(instance_id: str) -> InstanceSpec:
    blueprint = load_blueprint(TINY_CACHE)
    return InstanceSpec(
        instance_id=instance_id, blueprint=blueprint, scenario=blueprint.scenarios[0]
    )


@pytest.fixture
def admin() -> redis.Redis:
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    yield client
    client.close()


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.rabbitmq
def test_user_is_confined_to_its_prefix_and_teardown_removes_user_and_keys(
    owner: str, admin: redis.Redis
) -> None:
    cache = redis_cache(owner)
    try:
        out = cache.ensure(spec=_spec("demo-rd0001"))
        assert out.env["REDIS_PREFIX"] == "demo-rd0001"
        assert out.env["REDIS_URL"].startswith("redis://demo-rd0001:")
        demo = redis.Redis.from_url(out.env["REDIS_URL"], decode_responses=True)
        try:
            for i in range(1200):  # more than one SCAN/UNLINK batch
                demo.set(f"demo-rd0001:k{i}", i)
            assert demo.get("demo-rd0001:k7") == "7"
            with pytest.raises(redis.exceptions.NoPermissionError):
                demo.set("elsewhere", 1)
        finally:
            demo.close()
        admin.set("demo-rd0001x:not-ours", 1)  # a neighbour whose name starts alike
        assert cache.owned() == {"demo-rd0001"}
        cache.destroy(instance_id="demo-rd0001")
        cache.destroy(instance_id="demo-rd0001")
        assert cache.owned() == set()
        assert list(admin.scan_iter(match="demo-rd0001:*")) == []
        assert admin.get("demo-rd0001x:not-ours") == "1"
        assert admin.execute_command("ACL", "GETUSER", "demo-rd0001") is None
    finally:
        admin.delete("demo-rd0001x:not-ours")
        cache.close()


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.rabbitmq
def test_ensure_twice_keeps_the_credentials_and_connected_clients(owner: str) -> None:
    cache = redis_cache(owner)
    try:
        first = cache.ensure(spec=_spec("demo-rd0002"))
        demo = redis.Redis.from_url(first.env["REDIS_URL"])
        try:
            demo.set("demo-rd0002:a", 1)
            again = cache.ensure(spec=_spec("demo-rd0002"))
            assert again.env == first.env and again.message == "exists"
            assert demo.get("demo-rd0002:a") == b"1"  # same connection still authorised
        finally:
            demo.close()
        cache.destroy(instance_id="demo-rd0002")
        assert leftovers(owner, ("demo-rd0002",)) == {}
    finally:
        cache.close()


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.rabbitmq
def test_users_of_others_are_never_touched(owner: str, admin: redis.Redis) -> None:
    admin.execute_command("ACL", "SETUSER", "demo-zz9998", "on", "nopass", "~demo-zz9998:*")
    admin.set("demo-zz9998:keep", 1)
    cache = redis_cache(owner)
    try:
        assert "demo-zz9998" not in cache.owned()
        cache.destroy(instance_id="demo-zz9998")
        assert admin.execute_command("ACL", "GETUSER", "demo-zz9998") is not None
        assert admin.get("demo-zz9998:keep") == "1"
        with pytest.raises(PermanentError, match="not managed"):
            cache.ensure(spec=_spec("demo-zz9998"))
    finally:
        admin.execute_command("ACL", "DELUSER", "demo-zz9998")
        admin.delete("demo-zz9998:keep")
        cache.close()


def test_closed_port_is_a_temporary_error_without_the_password() -> None:
    cache = redis_cache("tdown", url="redis://admin:s3cret-pw@127.0.0.1:1/0")
    try:
        with pytest.raises(ProviderError) as caught:
            cache.ensure(spec=_spec("demo-rd0003"))
        assert "s3cret-pw" not in caught.value.detail and "127.0.0.1:1" in caught.value.detail
    finally:
        cache.close()
