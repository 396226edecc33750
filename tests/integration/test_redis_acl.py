"""The demo's Redis ACL, command by command, over the server's whole command table.

On the private Redis (default user off), a demo user made by the provider is tried against every
(sub)command the server knows: a denied one must answer NOPERM when the demo runs it (with its own
key as every argument, so only the command itself is refused), and an allowed one must either
take keys (then `ACL DRYRUN` with another demo's key must be refused: the keys are confined) or
belong to the connection, transaction or pub/sub verbs whose channels are confined. Then the
commands an application uses work, and the leaks the issue found do not.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis

from demo_orchestrator.providers.ownership import Passwords
from demo_orchestrator.providers.redis_acl import commands, judge, sample_argv
from demo_orchestrator.providers.redis_cache import RedisCache
from tests.fakes.data_services import KEY, REDIS_URL, new_owner
from tests.fakes.safe_servers import SafeServers
from tests.integration.test_redis_provider import _spec

ME, OTHER = "demo-acl001", "demo-acl002"


def _table(url: str) -> list[Any]:
    client = redis.Redis.from_url(url, socket_connect_timeout=2, decode_responses=True)
    try:
        connection = client.connection_pool.get_connection()
        try:
            connection.send_command("COMMAND")  # type: ignore[no-untyped-call]
            return list(connection.read_response())
        finally:
            client.connection_pool.release(connection)
    finally:
        client.close()


def _names() -> list[str]:
    """Every (sub)command of this machine's redis-server (the private one runs the same binary);
    read at collection, so each is a test of its own."""
    try:
        return sorted(name for name, _ in commands(_table(REDIS_URL)))
    except redis.RedisError:
        return ["unavailable"]


@pytest.fixture(scope="module")
def acl(safe_servers: SafeServers) -> Iterator[tuple[redis.Redis, redis.Redis, dict[str, Any]]]:
    """(the demo's client, the admin client, name -> COMMAND entry of the private server)."""
    cache = RedisCache(
        url=safe_servers.redis.admin_url, owner=new_owner(), passwords=Passwords(KEY), timeout=5
    )
    admin = redis.Redis.from_url(safe_servers.redis.admin_url, decode_responses=True)
    try:
        out = cache.ensure(spec=_spec(ME))
        cache.ensure(spec=_spec(OTHER))
        demo = redis.Redis.from_url(out.env["REDIS_URL"], decode_responses=True)
        table = dict(commands(_table(safe_servers.redis.admin_url)))
        table["__rules__"] = cache.command_rules()  # what ensure gave the user
        yield demo, admin, table
        demo.close()
    finally:
        for instance_id in (ME, OTHER):
            cache.destroy(instance_id=instance_id)
        cache.close()
        admin.close()


@pytest.mark.redis
@pytest.mark.parametrize("name", _names())
def test_each_command_is_denied_or_confined(
    name: str, acl: tuple[redis.Redis, redis.Redis, dict[str, Any]]
) -> None:
    demo, admin, table = acl
    if name == "unavailable":
        pytest.skip("no Redis to read the command table from at collection")
    entry = table.get(name)
    assert entry is not None, f"{name} is in the machine's table but not the private server's"
    verdict = judge(name, entry)
    rules = set(table["__rules__"])
    if not verdict.allowed or f"+{name}" not in rules:
        argv = sample_argv(name, entry, f"{ME}:k")
        try:
            demo.execute_command(*argv)
        except redis.exceptions.NoPermissionError:
            return
        except redis.exceptions.ResponseError as exc:  # refused before the ACL (DEBUG, MODULE)
            assert "command not allowed" in str(exc), exc
            answer = admin.execute_command("ACL", "DRYRUN", ME, *argv)
            assert "no permissions to run" in str(answer), answer
            return
        pytest.fail(f"{argv} ran for a demo user")
    if verdict.keyed:
        argv = sample_argv(name, entry, f"{OTHER}:k")
        answer = admin.execute_command("ACL", "DRYRUN", ME, *argv)
        assert answer != "OK" and "permission" in str(answer), (argv, answer)
        own = admin.execute_command("ACL", "DRYRUN", ME, *sample_argv(name, entry, f"{ME}:k"))
        assert own == "OK", (name, own)
    else:
        assert verdict.reason in ("acts on its own connection", "channels confined by the prefix")
        # A pattern is compared literally with the user's channel pattern.
        channel = f"{ME}:*" if name == "psubscribe" else f"{ME}:c"
        argv = name.split("|") + [channel] * max(0, abs(verdict.arity) - len(name.split("|")))
        assert admin.execute_command("ACL", "DRYRUN", ME, *argv) == "OK"


@pytest.mark.redis
def test_what_an_application_uses_works_and_the_known_leaks_do_not(
    acl: tuple[redis.Redis, redis.Redis, dict[str, Any]],
) -> None:
    demo, admin, _ = acl
    p = ME
    demo.execute_command("SELECT", "0")
    assert demo.ping()
    demo.set(f"{p}:s", "v", ex=60)
    assert demo.get(f"{p}:s") == "v"
    demo.hset(f"{p}:h", "f", "1")
    demo.lpush(f"{p}:l", "a")
    demo.incr(f"{p}:n")
    demo.expire(f"{p}:h", 60)
    demo.xadd(f"{p}:x", {"f": "v"})
    assert demo.eval("return redis.call('GET', KEYS[1])", 1, f"{p}:s") == "v"
    with demo.pipeline(transaction=True) as pipe:
        pipe.set(f"{p}:t", "1").get(f"{p}:t")
        assert pipe.execute() == [True, "1"]
    assert demo.publish(f"{p}:events", "hello") == 0
    listener = demo.pubsub()
    listener.subscribe(f"{p}:events")
    listener.close()
    admin.set(f"{OTHER}:secret", "theirs")
    denied = [
        ("GET", f"{OTHER}:secret"),
        ("SET", f"{OTHER}:x", "1"),
        ("PUBLISH", f"{OTHER}:events", "x"),
        ("SELECT", "1"),
        ("FLUSHALL",),
        ("FLUSHDB",),
        ("SCRIPT", "FLUSH"),
        ("SCRIPT", "LOAD", "return 1"),
        ("FUNCTION", "FLUSH"),
        ("FUNCTION", "LOAD", "#!lua name=x\nredis.register_function('f', function() end)"),
        ("DBSIZE",),
        ("KEYS", "*"),
        ("SCAN", "0"),
        ("RANDOMKEY",),
        ("PUBSUB", "CHANNELS"),
        ("PUBSUB", "NUMSUB", f"{OTHER}:events"),
        ("PUBSUB", "NUMPAT"),
        ("INFO", "keyspace"),
        ("CONFIG", "GET", "*"),
        ("CLIENT", "LIST"),
        ("CLIENT", "KILL", "USER", OTHER),
        ("MOVE", f"{p}:s", "1"),
        ("SWAPDB", "0", "1"),
        ("ACL", "LIST"),
        ("TIME",),
        ("LASTSAVE",),
        ("PFMERGE", f"{OTHER}:hll"),  # Redis 7.0 checks no key here: denied by the dry run
    ]
    for argv in denied:
        with pytest.raises(redis.exceptions.NoPermissionError):
            demo.execute_command(*argv)
    with pytest.raises(redis.exceptions.NoPermissionError):
        other_channel = demo.pubsub()
        try:
            other_channel.subscribe(f"{OTHER}:events")
            other_channel.get_message(timeout=1)
        finally:
            other_channel.close()
    assert admin.get(f"{OTHER}:secret") == "theirs"
    admin.delete(f"{OTHER}:secret")
