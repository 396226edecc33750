"""The `redis` provider against the real server: what is Redis's own. The ACL confines a demo to
its prefix; teardown removes the user and every key (more than one SCAN batch) but not a
neighbour whose name starts alike; ensure again keeps connected clients; reset deletes the keys
and keeps the user; a teardown cut short is finished later. What every provider keeps is proven
in test_provider_contract.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from demo_orchestrator.domain.blueprint import load_blueprint
from demo_orchestrator.providers.base import InstanceSpec
from tests.fakes.data_services import REDIS_URL, fresh_owner, redis_cache

TINY_CACHE = Path(__file__).resolve().parents[1] / "blueprints" / "tiny_cache.yaml"
pytestmark = pytest.mark.redis


@pytest.fixture
def owner(tmp_path: Path) -> Iterator[str]:
    """A fresh owner marker; only this server is cleaned up and checked afterwards."""
    yield from fresh_owner(tmp_path, only="redis")


def _spec(instance_id: str) -> InstanceSpec:
    blueprint = load_blueprint(TINY_CACHE)
    return InstanceSpec(
        instance_id=instance_id, blueprint=blueprint, scenario=blueprint.scenarios[0]
    )


@pytest.fixture
def admin() -> Iterator[redis.Redis]:
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
            with pytest.raises(redis.exceptions.NoPermissionError):
                demo.keys("*")
            admin.set("demo-rd0001x:not-ours", 1)  # a neighbour whose name starts alike
            cache.destroy(instance_id="demo-rd0001")
            with pytest.raises(redis.exceptions.ConnectionError):
                demo.get("demo-rd0001:k7")  # its clients were disconnected
        finally:
            demo.close()
        assert list(admin.scan_iter(match="demo-rd0001:*")) == []
        assert admin.get("demo-rd0001x:not-ours") == "1"
        assert admin.execute_command("ACL", "GETUSER", "demo-rd0001") is None
    finally:
        admin.delete("demo-rd0001x:not-ours")
        cache.close()


def test_ensure_again_keeps_the_credentials_and_connected_clients(owner: str) -> None:
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
    finally:
        cache.close()


def test_reset_deletes_the_keys_and_keeps_the_user_and_its_clients(
    owner: str, admin: redis.Redis
) -> None:
    cache = redis_cache(owner)
    try:
        out = cache.ensure(spec=_spec("demo-rd0004"))
        demo = redis.Redis.from_url(out.env["REDIS_URL"], decode_responses=True)
        try:
            for i in range(700):
                demo.set(f"demo-rd0004:k{i}", i)
            admin.set("demo-rd0004x:neighbour", 1)
            cache.reset(instance_id="demo-rd0004")
            assert list(admin.scan_iter(match="demo-rd0004:*")) == []
            assert admin.get("demo-rd0004x:neighbour") == "1"
            assert demo.set("demo-rd0004:after", 1)  # same user, same connection
            again = cache.ensure(spec=_spec("demo-rd0004"))
            assert again.env == out.env and again.message == "exists"
        finally:
            demo.close()
        cache.destroy(instance_id="demo-rd0004")
    finally:
        admin.delete("demo-rd0004x:neighbour")
        cache.close()


def test_a_teardown_cut_short_leaves_a_marked_user_that_is_finished_or_made_again(
    owner: str, admin: redis.Redis
) -> None:
    cache = redis_cache(owner)
    try:
        out = cache.ensure(spec=_spec("demo-rd0005"))
        admin.execute_command("ACL", "SETUSER", "demo-rd0005", "off")  # killed right after this
        assert cache.owned() == {"demo-rd0005"}  # still marked: the sweep would finish it
        again = cache.ensure(spec=_spec("demo-rd0005"))  # or the demo is provisioned again
        assert again.message == "ACL user ready"
        demo = redis.Redis.from_url(out.env["REDIS_URL"])
        try:
            assert demo.ping()
        finally:
            demo.close()
        cache.destroy(instance_id="demo-rd0005")
        assert cache.owned() == set()
    finally:
        cache.close()
