"""The `redis` cache provider: an ACL user per demo, confined to its own key prefix and channels.

Redis has one keyspace, so isolation is the ACL: user `demo-ab12cd` may only touch keys
`demo-ab12cd:*` and channels `demo-ab12cd:*`, and may run only the commands that stay inside
them, an allow list derived from the server's own command table (`redis_acl.py`): no FLUSHALL,
SCRIPT FLUSH, FUNCTION LOAD, DBSIZE, KEYS, SCAN, PUBSUB CHANNELS, ... The prefix reaches the demo
as `REDIS_PREFIX`. `ensure` proves the result: it logs in as the user with its password and
writes, reads and deletes a key under the prefix, so a user that cannot work never goes `ready`.
The isolation is only as good as the server's `default` user: `doctor()` fails when it is on
without a password (then any client, a demo too, is a user with every right).

The ownership marker lives in the ACL rule itself: a read-only pattern on a key that never exists
(`%R~demo-orchestrator:managed-by:<owner>`). It is set in the same `ACL SETUSER` that creates
the user, so there is no moment where a user exists unmarked, and `owned()` is just `ACL LIST`.
Keys carry no marker, so they are only ever deleted under a user that bears ours: teardown
switches the user off (marker kept) and disconnects its clients, SCAN+UNLINKs the prefix, and
only then deletes the user, so a crash half-way leaves a marked user the orphan sweep finishes.
Reset deletes the keys and keeps the user, so the demo's credentials stay valid.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from typing import Any, Self

import redis
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from demo_orchestrator.domain.errors import DemoError, PermanentError, ProviderError
from demo_orchestrator.providers import redis_acl
from demo_orchestrator.providers.base import (
    Finding,
    Health,
    InstanceSpec,
    Outputs,
    Provider,
    ProviderSettings,
    own_settings,
)
from demo_orchestrator.providers.ownership import (
    INSTANCE_ID,
    Passwords,
    Unreachable,
    first_line,
    owner_of,
    redact,
    scrub,
    split_url,
)
from demo_orchestrator.settings import Settings

log = logging.getLogger(__name__)

PROBE_KEY = "demo-orchestrator:probe"  # under the demo's prefix, deleted at once


class RedisSettings(ProviderSettings):
    model_config = SettingsConfigDict(env_prefix="DEMO_REDIS_")

    url: str | None = Field(
        default=None,
        repr=False,  # holds a password
        description="redis://admin:password@host:6379/0 of a user allowed the ACL commands; no "
        "default: when set, each demo gets an ACL user and a key prefix of its own.",
    )

    def missing_fields(self) -> list[str]:
        return [] if self.url else ["url"]


class RedisCache(Provider):
    kind = "cache"
    name = "redis"
    settings_model = RedisSettings

    def __init__(self, *, url: str, owner: str, passwords: Passwords, timeout: float = 5.0) -> None:
        self._parts = split_url(url, schemes=("redis", "rediss"), setting="DEMO_REDIS_URL")
        self._url = url
        self.owner = owner
        self.tag = f"demo-orchestrator:managed-by:{owner}"
        self.passwords = passwords
        self._timeout = timeout
        self._client: redis.Redis = redis.Redis.from_url(
            url, socket_connect_timeout=timeout, socket_timeout=timeout, decode_responses=True
        )
        self._command_rules: list[str] | None = None  # derived once per provider (server)

    @classmethod
    def from_settings(cls, settings: Settings, own: ProviderSettings | None = None) -> Self:
        config = own_settings(cls.name, RedisSettings, own)
        assert config.url is not None  # own_settings refuses incomplete settings
        return cls(
            url=config.url,
            owner=owner_of(settings),
            passwords=Passwords.from_settings(settings),
            timeout=settings.data_service_timeout_seconds,
        )

    # -- protocol ------------------------------------------------------------------------------

    def ensure(self, *, spec: InstanceSpec) -> Outputs:
        user = spec.instance_id
        password = self.passwords.of("redis", self.owner, user)
        existing = self._rules(user)
        if existing is not None and not self._marked(existing):
            raise PermanentError(
                f"Redis already has an ACL user {user} not managed by this orchestrator; "
                "refusing to touch it"
            )
        if existing is None and self._any_key(user):
            # Our keys never outlive our user (teardown deletes the user last), so these are
            # someone else's: a user of ours would let teardown delete them.
            raise PermanentError(
                f"Redis already has keys {user}:* not managed by this orchestrator; "
                "refusing to touch them"
            )
        env = {"REDIS_URL": self.url_for(user, password), "REDIS_PREFIX": user}
        state = {"user": user, "prefix": f"{user}:"}
        digest = f"#{hashlib.sha256(password.encode()).hexdigest()}"
        commands = self.command_rules()
        # Redis rewrites command rules in its own words, so the rules carry their own digest
        # (a pattern on a key that never exists): a new Redis or new rules make the user again.
        version = f"%R~demo-orchestrator:rules:{_digest(commands)}"
        if existing is not None and {"on", digest, version} <= set(existing.split()):
            self.prove(user, password)  # unchanged: keep its clients
            return Outputs(env=env, state=state, message="exists")
        rules = [
            "reset",
            "on",
            f">{password}",
            f"~{user}:*",
            f"&{user}:*",
            f"%R~{self.tag}",
            version,
            *commands,
        ]
        self._call(f"create ACL user {user}", "ACL", "SETUSER", user, *rules, secret=password)
        self.prove(user, password)
        return Outputs(env=env, state=state, message="ACL user ready")

    def command_rules(self) -> list[str]:
        """The ACL's command rules, from this server's `COMMAND` table (see redis_acl.py)."""
        if self._command_rules is None:
            database = int(self._parts.path.lstrip("/") or 0)
            table = self.command_table()
            self._command_rules = redis_acl.rules(
                table, database=database, unchecked=self._unchecked_keys(table)
            )
        return self._command_rules

    def _unchecked_keys(self, table: list[Any]) -> frozenset[str]:
        """Keyed commands this server lets through with another prefix's key in every argument
        (`ACL DRYRUN` as a throwaway user confined to a prefix: nothing runs). Empty on a Redis
        without DRYRUN (before 7.0)."""
        probe = f"demo-orchestrator-acl-probe-{secrets.token_hex(4)}"  # one per caller
        keyed = [(n, e) for n, e in redis_acl.commands(table) if redis_acl.judge(n, e).keyed]
        self._call(
            "make the ACL probe user",
            "ACL",
            "SETUSER",
            probe,
            "reset",
            "off",
            f"~{probe}:*",
            "+@all",
        )
        try:
            pipe = self._client.pipeline(transaction=False)
            for name, entry in keyed:
                pipe.execute_command(  # type: ignore[no-untyped-call]
                    "ACL", "DRYRUN", probe, *redis_acl.sample_argv(name, entry, "elsewhere:k")
                )
            answers = pipe.execute(raise_on_error=False)
        except redis.RedisError as exc:
            raise self._wrap("dry-run the ACL (ACL DRYRUN)", exc) from exc
        finally:
            self._call("delete the ACL probe user", "ACL", "DELUSER", probe)
        if any(isinstance(a, redis.ResponseError) and "unknown" in str(a).lower() for a in answers):
            return frozenset()  # no ACL DRYRUN on this server
        return frozenset(
            name for (name, _), answer in zip(keyed, answers, strict=True) if answer == "OK"
        )

    def command_table(self) -> list[Any]:
        """The raw `COMMAND` reply (redis-py's parser drops key specs and subcommands)."""
        try:
            connection = self._client.connection_pool.get_connection()
            try:
                connection.send_command("COMMAND")  # type: ignore[no-untyped-call]
                table = connection.read_response()
            finally:
                self._client.connection_pool.release(connection)
        except redis.RedisError as exc:
            raise self._wrap("read the command table (COMMAND)", exc) from exc
        if not isinstance(table, list) or not table:
            raise ProviderError(f"Redis at {redact(self._url)} answered COMMAND with no table")
        return table

    def prove(self, user: str, password: str) -> None:
        """Log in as the demo will, and write, read and delete a key under its prefix."""
        key, where = f"{user}:{PROBE_KEY}", f"Redis ACL user {user} at {redact(self._url)}"
        demo = redis.Redis.from_url(
            self.url_for(user, password),
            socket_connect_timeout=self._timeout,
            socket_timeout=self._timeout,
            decode_responses=True,
        )
        try:
            demo.set(key, "1", ex=60)
            answer = demo.get(key)
            demo.delete(key)
        except redis.RedisError as exc:
            detail = scrub(first_line(exc), password, self._parts.password)
            raise ProviderError(f"{where} does not work as the demo will use it: {detail}") from exc
        finally:
            demo.close()
        if answer != "1":
            raise ProviderError(f"{where}: a key written under its prefix read back {answer!r}")

    def destroy(self, *, instance_id: str) -> None:
        try:
            self._destroy(instance_id)
        except Unreachable as exc:
            log.warning("%s; the orphan sweep removes %s once it answers", exc.detail, instance_id)

    def _destroy(self, instance_id: str) -> None:
        if not self._ours(instance_id):
            return  # gone, or not ours: never touch it nor its keys
        user = instance_id
        self._call(f"switch off ACL user {user}", "ACL", "SETUSER", user, "off")
        self._call(f"disconnect the clients of {user}", "CLIENT", "KILL", "USER", user)
        self.delete_keys(user)  # nobody can write new ones meanwhile
        self._call(f"delete ACL user {user}", "ACL", "DELUSER", user)

    def reset(self, *, instance_id: str) -> None:
        """Pristine: the demo's keys go, its ACL user (and thus its credentials) stays."""
        if self._ours(instance_id):
            self.delete_keys(instance_id)

    def delete_keys(self, prefix: str) -> int:
        removed = 0
        try:
            batch: list[str] = []
            for key in self._client.scan_iter(match=f"{_escape(prefix)}:*", count=500):
                batch.append(key)
                if len(batch) >= 500:
                    removed += int(self._client.unlink(*batch))
                    batch.clear()
            if batch:
                removed += int(self._client.unlink(*batch))
        except redis.RedisError as exc:
            raise self._wrap(f"delete keys {prefix}:*", exc) from exc
        return removed

    def _any_key(self, prefix: str) -> bool:
        try:
            for _ in self._client.scan_iter(match=f"{_escape(prefix)}:*", count=1000):
                return True
        except redis.RedisError as exc:
            raise self._wrap(f"look for keys {prefix}:*", exc) from exc
        return False

    def probe(self, *, instance_id: str) -> Health:
        rules = self._rules(instance_id)
        if rules is None:
            return Health(False, f"no ACL user {instance_id}")
        return Health(True, f"ACL user {instance_id} exists")

    def owned(self) -> set[str]:
        found = set()
        for line in self._call("list ACL users", "ACL", "LIST"):
            words = str(line).split()
            ours = len(words) > 1 and words[0] == "user" and self._marked(str(line))
            if ours and INSTANCE_ID.match(words[1]):
                found.add(words[1])
        return found

    def doctor(self) -> list[Finding]:
        """The `default` user must be off or need a password; the ACL is derived here."""
        where = f"Redis at {redact(self._url)}"
        try:
            default = self._call("read the default user", "ACL", "GETUSER", "default")
            rules = self.command_rules()
        except DemoError as exc:
            return [Finding("warn", "redis default user", f"could not be checked: {exc.detail}")]
        flags = _flags(default)
        found: list[Finding] = []
        if "on" in flags and "nopass" in flags and self._anyone_gets_in():
            found.append(
                Finding(
                    "fail",
                    "redis default user",
                    f"{where}: the `default` user is on with no password: any client (a demo "
                    "too) is a user with every right, so per-demo ACL users isolate nothing",
                    "`ACL SETUSER default off` (or `requirepass`), and give the orchestrator an "
                    "admin ACL user in DEMO_REDIS_URL; persist it in redis.conf / aclfile",
                )
            )
        else:
            found.append(
                Finding(
                    "ok", "redis default user", f"{where}: `default` needs a password or is off"
                )
            )
        allowed = len(rules) - 2
        found.append(
            Finding(
                "ok",
                "redis acl",
                f"{where}: demo users may run {allowed} (sub)commands that stay in their prefix, "
                "derived from the server's command table; the rest is denied",
            )
        )
        return found

    def _anyone_gets_in(self) -> bool:
        """Try it: a client with no credentials at all runs a command."""
        anon = redis.Redis(
            host=self._parts.hostname or "localhost",
            port=self._parts.port or 6379,
            socket_connect_timeout=self._timeout,
            socket_timeout=self._timeout,
        )
        try:
            return bool(anon.ping())
        except redis.RedisError:
            return False
        finally:
            anon.close()

    def close(self) -> None:
        self._client.close()

    # -- helpers -------------------------------------------------------------------------------

    def url_for(self, user: str, password: str) -> str:
        host = self._parts.hostname
        port = self._parts.port or 6379
        database = self._parts.path.lstrip("/") or "0"
        query = f"?{self._parts.query}" if self._parts.query else ""
        return f"{self._parts.scheme}://{user}:{password}@{host}:{port}/{database}{query}"

    def _ours(self, user: str) -> bool:
        rules = self._rules(user)
        return rules is not None and self._marked(rules)

    def _marked(self, rules: str) -> bool:
        return f"%R~{self.tag}" in rules.split()

    def _rules(self, user: str) -> str | None:
        """The user's ACL line, or None when there is no such user."""
        for line in self._call("list ACL users", "ACL", "LIST"):
            words = str(line).split()
            if len(words) > 1 and words[0] == "user" and words[1] == user:
                return str(line)
        return None

    def _call(self, what: str, *args: str, secret: str | None = None) -> Any:
        try:
            return self._client.execute_command(*args)  # type: ignore[no-untyped-call]
        except redis.AuthenticationError as exc:
            raise PermanentError(
                f"Redis at {redact(self._url)} refused the credentials of DEMO_REDIS_URL"
            ) from exc
        except redis.ResponseError as exc:
            if "NOPERM" in str(exc):
                raise PermanentError(
                    f"the Redis user of DEMO_REDIS_URL may not {what} ({redact(self._url)}); "
                    "it needs the ACL commands"
                ) from exc
            raise self._wrap(what, exc, secret) from exc
        except redis.RedisError as exc:
            raise self._wrap(what, exc, secret) from exc

    def _wrap(self, what: str, exc: Exception, secret: str | None = None) -> ProviderError:
        detail = scrub(first_line(exc), secret, self._parts.password)
        error = (
            Unreachable
            if isinstance(exc, redis.ConnectionError | redis.TimeoutError)
            else ProviderError
        )
        return error(f"Redis at {redact(self._url)}: cannot {what}: {detail}")


def _escape(prefix: str) -> str:
    """Escape glob characters so SCAN MATCH only sees this exact prefix."""
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in prefix)


def _digest(rules: list[str]) -> str:
    return hashlib.sha256(" ".join(rules).encode()).hexdigest()[:12]


def _flags(getuser: Any) -> set[str]:
    """The flags of an `ACL GETUSER` reply (a flat list or a dict, by protocol)."""
    if isinstance(getuser, dict):
        return {str(f) for f in getuser.get("flags", [])}
    if isinstance(getuser, list):
        pairs = dict(zip(getuser[::2], getuser[1::2], strict=False))
        return {str(f) for f in pairs.get("flags", [])}
    return set()
