"""The `rabbitmq` provider against the real broker: vhost, user, limits, teardown, markers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pika
import pytest

from demo_orchestrator.domain.blueprint import load_blueprint
from demo_orchestrator.domain.errors import PermanentError, ProviderError
from demo_orchestrator.providers.base import InstanceSpec
from demo_orchestrator.providers.ownership import Passwords
from demo_orchestrator.providers.rabbitmq import RabbitBroker
from tests.fakes.data_services import MANAGEMENT, rabbit

TINY_CACHE = Path(__file__).resolve().parents[1] / "blueprints" / "tiny_cache.yaml"
# Tests using the `owner` fixture are marked postgres, redis and rabbitmq: its clean-up visits
# all three servers.


def _spec(instance_id: str) -> InstanceSpec:
    blueprint = load_blueprint(TINY_CACHE)
    return InstanceSpec(
        instance_id=instance_id, blueprint=blueprint, scenario=blueprint.scenarios[0]
    )


@pytest.fixture
def mgmt() -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{MANAGEMENT}/api", auth=("guest", "guest"), trust_env=False) as c:
        yield c


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.rabbitmq
def test_vhost_user_and_limits_then_teardown(owner: str, mgmt: httpx.Client) -> None:
    broker = rabbit(owner)
    try:
        out = broker.ensure(spec=_spec("demo-rb0001"))
        assert out.env["AMQP_URL"].endswith("@127.0.0.1:5672/demo-rb0001")
        limits = mgmt.get("/vhost-limits/demo-rb0001").json()[0]["value"]
        assert limits == {"max-connections": 20, "max-queues": 50}
        perms = mgmt.get("/users/demo-rb0001/permissions").json()
        assert [p["vhost"] for p in perms] == ["demo-rb0001"]
        connection = pika.BlockingConnection(pika.URLParameters(out.env["AMQP_URL"]))
        try:
            channel = connection.channel()
            channel.queue_declare("events")
            channel.basic_publish("", "events", b"hello")
        finally:
            connection.close()
        again = broker.ensure(spec=_spec("demo-rb0001"))
        assert again.env == out.env and again.message == "exists"
        assert broker.owned() == {"demo-rb0001"}
        broker.destroy(instance_id="demo-rb0001")
        broker.destroy(instance_id="demo-rb0001")
        assert broker.owned() == set()
        assert mgmt.get("/vhosts/demo-rb0001").status_code == 404
        assert mgmt.get("/users/demo-rb0001").status_code == 404
    finally:
        broker.close()


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.rabbitmq
def test_vhost_limits_hold(owner: str) -> None:
    broker = RabbitBroker(
        amqp_url="amqp://guest:guest@127.0.0.1:5672/",
        management_url=None,  # derived from the AMQP URL's host and credentials
        owner=owner,
        passwords=Passwords(b"k" * 32),
        max_queues=1,
    )
    try:
        out = broker.ensure(spec=_spec("demo-rb0002"))
        connection = pika.BlockingConnection(pika.URLParameters(out.env["AMQP_URL"]))
        try:
            channel = connection.channel()
            channel.queue_declare("first")
            with pytest.raises(pika.exceptions.ChannelClosedByBroker, match="queue limit"):
                channel.queue_declare("second")
        finally:
            connection.close()
        broker.destroy(instance_id="demo-rb0002")
    finally:
        broker.close()


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.rabbitmq
def test_vhosts_of_others_are_never_touched(owner: str, mgmt: httpx.Client) -> None:
    assert mgmt.put("/vhosts/demo-zz9997", json={"description": "someone else"}).is_success
    broker = rabbit(owner)
    try:
        assert "demo-zz9997" not in broker.owned()
        broker.destroy(instance_id="demo-zz9997")
        assert mgmt.get("/vhosts/demo-zz9997").status_code == 200
        with pytest.raises(PermanentError, match="not managed"):
            broker.ensure(spec=_spec("demo-zz9997"))
    finally:
        mgmt.delete("/vhosts/demo-zz9997")
        broker.close()


def test_unreachable_management_api_is_temporary_and_hides_the_password() -> None:
    broker = RabbitBroker(
        amqp_url="amqp://guest:guest@127.0.0.1:5672/",
        management_url="http://admin:s3cret-pw@127.0.0.1:1",
        owner="tdown",
        passwords=Passwords(b"k" * 32),
    )
    try:
        with pytest.raises(ProviderError) as caught:
            broker.owned()
        assert "s3cret-pw" not in caught.value.detail and "127.0.0.1:1" in caught.value.detail
    finally:
        broker.close()
