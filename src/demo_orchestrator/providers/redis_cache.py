"""The `redis` cache provider: an ACL user per demo, confined to its own key prefix and channels.

Redis has one keyspace, so isolation is the ACL: user `demo-ab12cd` may only touch keys
`demo-ab12cd:*` and channels `demo-ab12cd:*`, and is denied the dangerous commands (FLUSHALL,
CONFIG, DEBUG, ...) and the ones that reveal other demos' keys (KEYS, SCAN, RANDOMKEY). The prefix
reaches the demo as `REDIS_PREFIX`.

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
from typing import Any, Self

import redis
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from demo_orchestrator.domain.errors import PermanentError, ProviderError
from demo_orchestrator.providers.base import (
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

DENIED = ("-@dangerous", "-scan", "-randomkey", "-keys")


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
        self._client: redis.Redis = redis.Redis.from_url(
            url, socket_connect_timeout=timeout, socket_timeout=timeout, decode_responses=True
        )

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
        if existing is not None and {"on", digest} <= set(existing.split()):
            return Outputs(env=env, state=state, message="exists")  # unchanged: keep its clients
        rules = [
            "reset",
            "on",
            f">{password}",
            f"~{user}:*",
            f"&{user}:*",
            f"%R~{self.tag}",
            "+@all",
            *DENIED,
        ]
        self._call(f"create ACL user {user}", "ACL", "SETUSER", user, *rules, secret=password)
        return Outputs(env=env, state=state, message="ACL user ready")

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
