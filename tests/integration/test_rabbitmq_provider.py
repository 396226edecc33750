"""The `rabbitmq` provider against the real broker: what is RabbitMQ's own. A vhost with limits
and a user with rights on it only; the limits hold; reset purges every queue and keeps the vhost,
the user and the limits. What every provider keeps is proven in test_provider_contract.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pika
import pytest

from demo_orchestrator.domain.blueprint import load_blueprint
from demo_orchestrator.providers.base import InstanceSpec
from demo_orchestrator.providers.ownership import Passwords
from demo_orchestrator.providers.rabbitmq import RabbitBroker
from tests.fakes.data_services import MANAGEMENT, fresh_owner, rabbit

TINY_CACHE = Path(__file__).resolve().parents[1] / "blueprints" / "tiny_cache.yaml"
pytestmark = pytest.mark.rabbitmq


@pytest.fixture
def owner(tmp_path: Path) -> Iterator[str]:
    """A fresh owner marker; only this server is cleaned up and checked afterwards."""
    yield from fresh_owner(tmp_path, only="rabbitmq")


def _spec(instance_id: str) -> InstanceSpec:
    blueprint = load_blueprint(TINY_CACHE)
    return InstanceSpec(
        instance_id=instance_id, blueprint=blueprint, scenario=blueprint.scenarios[0]
    )


@pytest.fixture
def mgmt() -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{MANAGEMENT}/api", auth=("guest", "guest"), trust_env=False) as c:
        yield c


def test_vhost_with_limits_and_a_user_with_rights_on_it_only(
    owner: str, mgmt: httpx.Client
) -> None:
    broker = rabbit(owner)
    try:
        out = broker.ensure(spec=_spec("demo-rb0001"))
        assert out.env["AMQP_URL"].endswith("@127.0.0.1:5672/demo-rb0001")
        limits = mgmt.get("/vhost-limits/demo-rb0001").json()[0]["value"]
        assert limits == {"max-connections": 20, "max-queues": 50}
        perms = mgmt.get("/users/demo-rb0001/permissions").json()
        assert [p["vhost"] for p in perms] == ["demo-rb0001"]
        with pytest.raises(pika.exceptions.ProbableAccessDeniedError):
            pika.BlockingConnection(pika.URLParameters(out.env["AMQP_URL"].rsplit("/", 1)[0]))
        broker.destroy(instance_id="demo-rb0001")
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


def test_reset_purges_every_queue_and_keeps_vhost_user_and_limits(
    owner: str, mgmt: httpx.Client
) -> None:
    broker = rabbit(owner)
    try:
        out = broker.ensure(spec=_spec("demo-rb0003"))
        queues = ("events", "mail jobs")  # a name the API path must quote
        connection = pika.BlockingConnection(pika.URLParameters(out.env["AMQP_URL"]))
        try:
            channel = connection.channel()
            for queue in queues:
                channel.queue_declare(queue)
                for _ in range(3):
                    channel.basic_publish("", queue, b"written before the reset")
            broker.reset(instance_id="demo-rb0003")
            for queue in queues:  # AMQP's own count: management statistics lag
                assert channel.queue_declare(queue, passive=True).method.message_count == 0
        finally:
            connection.close()
        limits = mgmt.get("/vhost-limits/demo-rb0003").json()[0]["value"]
        assert limits == {"max-connections": 20, "max-queues": 50}
        again = broker.ensure(spec=_spec("demo-rb0003"))
        assert again.env == out.env
        broker.destroy(instance_id="demo-rb0003")
    finally:
        broker.close()


def test_a_broker_whose_amqp_port_is_dead_never_gives_a_ready_vhost(
    owner: str, mgmt: httpx.Client
) -> None:
    """The management API answers, AMQP does not: ensure fails (a temporary error the engine
    retries, then fails the demo), naming the vhost and where AMQP was tried."""
    from demo_orchestrator.domain.errors import TemporaryError
    from demo_orchestrator.providers import processes
    from tests.fakes.data_services import KEY, MANAGEMENT_URL

    closed = processes.free_port()
    broker = RabbitBroker(
        amqp_url=f"amqp://guest:guest@127.0.0.1:{closed}/",
        management_url=MANAGEMENT_URL,
        owner=owner,
        passwords=Passwords(KEY),
        timeout=2,
    )
    try:
        with pytest.raises(TemporaryError) as failed:
            broker.ensure(spec=_spec("demo-rb0009"))
        detail = failed.value.detail
        assert f"RabbitMQ vhost demo-rb0009: AMQP login as demo-rb0009 at 127.0.0.1:{closed}" in (
            detail
        )
        assert Passwords(KEY).of("rabbitmq", owner, "demo-rb0009") not in detail
        # What it made over HTTP is still its own: teardown (or the sweep) removes it.
        assert mgmt.get("/vhosts/demo-rb0009").status_code == 200
        broker.destroy(instance_id="demo-rb0009")
        assert mgmt.get("/vhosts/demo-rb0009").status_code == 404
    finally:
        broker.close()


def test_doctor_finds_guest_loopback_only_on_this_broker(owner: str) -> None:
    broker = rabbit(owner)
    try:
        (finding,) = broker.doctor()
    finally:
        broker.close()
    assert finding.check == "rabbitmq guest"
    # guest/guest answers on loopback here (the tests' own admin): a warning, not a failure,
    # since RabbitMQ refuses it from any other address.
    assert finding.level == "warn" and "loopback-only" in finding.detail


def test_a_demo_on_a_broker_whose_amqp_port_is_dead_fails_instead_of_going_ready(
    owner: str, make_server: Any, tmp_path: Path
) -> None:
    from demo_orchestrator.providers import processes
    from tests.fakes.data_services import MANAGEMENT_URL

    closed = processes.free_port()
    server = make_server(
        tmp_path / "home",
        DEMO_BLUEPRINT="tiny-cache",
        DEMO_BLUEPRINT_PATHS=json.dumps([str(TINY_CACHE)]),
        DEMO_RABBITMQ_URL=f"amqp://guest:guest@127.0.0.1:{closed}/",
        DEMO_RABBITMQ_MANAGEMENT_URL=MANAGEMENT_URL,
        DEMO_RESOURCE_OWNER=owner,
        DEMO_STEP_RETRIES="2",
    ).start()
    instance_id = server.create()["id"]
    failed = server.wait_status(instance_id, "failed", "ready", timeout=90)
    assert failed["status"] == "failed"
    broker = next(s for s in failed["steps"] if s["name"] == "broker")
    assert f"AMQP login as {instance_id} at 127.0.0.1:{closed} failed" in broker["error"]
