"""Harnesses of the cache and the broker: `redis` and `rabbitmq`, on their real servers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pika
import pytest
import redis

from demo_orchestrator.providers.base import Outputs, Provider
from demo_orchestrator.providers.rabbitmq import RabbitBroker, RabbitSettings
from demo_orchestrator.providers.redis_cache import RedisCache, RedisSettings
from tests.fakes import data_services as servers
from tests.integration.harnesses.base import (
    OTHER,
    SECRET,
    Foreign,
    Harness,
    World,
    closed_port,
    spec_of,
)

# -- redis ----------------------------------------------------------------------------------------


def _redis_admin() -> redis.Redis:
    return redis.Redis.from_url(servers.REDIS_URL, decode_responses=True)


def _redis_works(world: World, instance_id: str, out: Outputs) -> None:
    client = redis.Redis.from_url(out.env["REDIS_URL"], decode_responses=True)
    try:
        client.set(f"{out.env['REDIS_PREFIX']}:probe", "1")
        assert client.get(f"{out.env['REDIS_PREFIX']}:probe") == "1"
        client.delete(f"{out.env['REDIS_PREFIX']}:probe")
    finally:
        client.close()


def _redis_writes(world: World, instance_id: str, out: Outputs) -> None:
    client = redis.Redis.from_url(out.env["REDIS_URL"])
    try:
        for i in range(20):
            client.set(f"{out.env['REDIS_PREFIX']}:written-{i}", i)
    finally:
        client.close()


def _redis_pristine(world: World, instance_id: str, before: Outputs, after: Outputs) -> None:
    admin = _redis_admin()
    try:
        assert list(admin.scan_iter(match=f"{after.env['REDIS_PREFIX']}:*")) == []
    finally:
        admin.close()
    _redis_works(world, instance_id, after)


@contextmanager
def _foreign_redis(world: World) -> Iterator[Foreign]:
    """An unmarked ACL user, another orchestrator's user, and keys of a prefix with no user."""
    admin = _redis_admin()
    unmarked, theirs, keys_only = (
        world.id("foreign 1"),
        world.id("foreign 2"),
        world.id("foreign 3"),
    )
    users = {
        unmarked: ["on", "nopass", f"~{unmarked}:*"],
        theirs: ["on", "nopass", f"~{theirs}:*", f"%R~demo-orchestrator:managed-by:{OTHER}"],
    }
    ids = {*users, keys_only}
    for user, rules in users.items():
        admin.execute_command("ACL", "SETUSER", user, *rules)
    for instance_id in ids:
        admin.set(f"{instance_id}:kept", 1)

    def intact() -> None:
        for user in users:
            assert admin.execute_command("ACL", "GETUSER", user) is not None, f"{user} deleted"
        for instance_id in ids:
            assert admin.get(f"{instance_id}:kept") == "1", f"keys of {instance_id} deleted"

    try:
        yield Foreign(ids, intact)
    finally:
        for user in users:
            admin.execute_command("ACL", "DELUSER", user)
        admin.delete(*(f"{i}:kept" for i in ids))
        admin.close()


def _ours(world: World) -> tuple[str, ...]:
    """The key prefixes of the instances this test made (not the foreign ones)."""
    return tuple(i for label, i in world.ids.items() if not label.startswith("foreign"))


REDIS = Harness(
    name="redis",
    marks=(pytest.mark.redis,),
    build=lambda w: w.keep(
        RedisCache.from_settings(w.core(), RedisSettings(url=servers.REDIS_URL))
    ),
    spec=spec_of("tiny_cache.yaml"),
    works=_redis_works,
    write=_redis_writes,
    pristine=_redis_pristine,
    foreign=_foreign_redis,
    unreachable=lambda w: w.keep(
        RedisCache.from_settings(
            w.core(), RedisSettings(url=f"redis://admin:{SECRET}@127.0.0.1:{closed_port()}/0")
        )
    ),
    cleanup=lambda w: servers.purge_redis(w.owner, _ours(w)),
    leftovers=lambda w: servers.redis_leftovers(w.owner, _ours(w)),
)


# -- rabbitmq -------------------------------------------------------------------------------------


def _amqp(out: Outputs) -> pika.BlockingConnection:
    return pika.BlockingConnection(pika.URLParameters(out.env["AMQP_URL"]))


def _rabbit_works(world: World, instance_id: str, out: Outputs) -> None:
    connection = _amqp(out)
    try:
        channel = connection.channel()
        channel.queue_declare("contract-probe", auto_delete=True)
        channel.basic_publish("", "contract-probe", b"hello")
    finally:
        connection.close()


def _rabbit_writes(world: World, instance_id: str, out: Outputs) -> None:
    connection = _amqp(out)
    try:
        channel = connection.channel()
        for queue in ("orders", "mail jobs"):
            channel.queue_declare(queue)
            for _ in range(3):
                channel.basic_publish("", queue, b"written by the demo")
    finally:
        connection.close()


def _rabbit_pristine(world: World, instance_id: str, before: Outputs, after: Outputs) -> None:
    connection = _amqp(after)
    try:
        for queue in ("orders", "mail jobs"):
            channel = connection.channel()
            try:  # AMQP's own count: the management API's statistics lag
                count = channel.queue_declare(queue, passive=True).method.message_count
            except pika.exceptions.ChannelClosedByBroker as exc:
                assert exc.reply_code == 404  # no queue at all is pristine too
                continue
            assert count == 0, f"{queue} still holds {count} message(s)"
    finally:
        connection.close()


@contextmanager
def _foreign_rabbit(world: World) -> Iterator[Foreign]:
    """An unmarked vhost and user, and a vhost and user tagged by another orchestrator."""
    tags = {world.id("foreign 1"): "", world.id("foreign 2"): f"demo-orchestrator-{OTHER}"}
    with servers._mgmt() as http:
        for name, tag in tags.items():
            assert http.put(f"/vhosts/{name}", json={"description": "x", "tags": tag}).is_success
            assert http.put(f"/users/{name}", json={"password": "pw-x-123", "tags": tag}).is_success

    def intact() -> None:
        with servers._mgmt() as http:
            for name in tags:
                assert http.get(f"/vhosts/{name}").status_code == 200, f"vhost {name} deleted"
                assert http.get(f"/users/{name}").status_code == 200, f"user {name} deleted"

    try:
        yield Foreign(set(tags), intact)
    finally:
        with servers._mgmt() as http:
            for name in tags:
                http.delete(f"/vhosts/{name}")
                http.delete(f"/users/{name}")


def _rabbit_unreachable(world: World) -> Provider:
    port = closed_port()
    own = RabbitSettings(
        url=f"amqp://admin:{SECRET}@127.0.0.1:{port}/",
        management_url=f"http://admin:{SECRET}@127.0.0.1:{port}",
    )
    return world.keep(RabbitBroker.from_settings(world.core(), own))


RABBITMQ = Harness(
    name="rabbitmq",
    marks=(pytest.mark.rabbitmq,),
    build=lambda w: w.keep(
        RabbitBroker.from_settings(
            w.core(),
            RabbitSettings(url=servers.AMQP_URL, management_url=servers.MANAGEMENT_URL),
        )
    ),
    spec=spec_of("tiny_cache.yaml"),
    works=_rabbit_works,
    write=_rabbit_writes,
    pristine=_rabbit_pristine,
    foreign=_foreign_rabbit,
    unreachable=_rabbit_unreachable,
    cleanup=lambda w: servers.purge_rabbit(w.owner),
    leftovers=lambda w: servers.rabbit_leftovers(w.owner),
)
