"""Password sign-in that holds against guessing: throttled, audited, and the same work for every
user name.

- Throttle: failed sign-ins are counted per user name and per client address with the `limits`
  library (moving windows, several per key: `5/minute;20/hour` locks a name for a minute after 5
  failures and for the rest of the hour after 20, a back-off in steps). While a count is full every
  attempt is refused with the seconds to wait, before any password is checked, so a locked name
  cannot be probed. The counts live in `DEMO_LOGIN_THROTTLE_STORAGE`: memory by default (each
  replica counts on its own), Redis to share them between replicas.
- Audit: every refused sign-in is an audit row naming the user name tried, the address and why
  (`unknown user`, `wrong password`, `disabled`, `throttled`); never the password.
- Same work: an unknown name (or one without a password) is checked against a dummy argon2 hash,
  so the answer takes as long as for a known name and response times reveal no user names.
"""

from __future__ import annotations

import ipaddress
import math
import secrets
import time
from functools import cached_property

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from limits import RateLimitItem, parse_many
from limits.errors import ConfigurationError, StorageError
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from demo_orchestrator.domain.errors import DemoError, PermanentError, TemporaryError
from demo_orchestrator.engine.context import Context
from demo_orchestrator.engine.service import Principal
from demo_orchestrator.store import accounts as store
from demo_orchestrator.store import repository as repo

KEY_CHARS = 128  # user names are at most this long; longer input is cut for counting and audit


class SignInRefused(DemoError):
    """Wrong name or password, or a disabled user; the detail never says which name exists."""

    status = 401
    title = "Sign-in refused"
    type_slug = "sign-in-refused"


class SignInThrottled(DemoError):
    """Too many failed sign-ins for a name or from an address; `retry_after` in seconds."""

    status = 429
    title = "Too many sign-in attempts"
    type_slug = "sign-in-throttled"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


def address_key(address: str | None) -> str:
    """What an address is counted as: an IPv6 client by its /64, since one subscriber usually
    holds a whole /64 and could otherwise take a fresh address for every attempt."""
    if not address:
        return "unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else ip)


class Throttle:
    """Counts failures per key in moving windows; says how long a full key must wait."""

    def __init__(self, *, per_user: str, per_address: str, storage_url: str) -> None:
        self._limits: dict[str, list[RateLimitItem]] = {
            "user": parse_many(per_user),
            "address": parse_many(per_address),
        }
        try:
            storage = storage_from_string(storage_url, wrap_exceptions=True)
        except ConfigurationError as exc:
            raise PermanentError(
                f"DEMO_LOGIN_THROTTLE_STORAGE is not a usable storage ({exc}); use memory:// or "
                "redis://host:6379/0"
            ) from exc
        self._limiter = MovingWindowRateLimiter(storage)

    def _keys(self, user: str, address: str | None) -> list[tuple[str, str]]:
        return [("user", user.lower()[:KEY_CHARS]), ("address", address_key(address))]

    def wait_seconds(self, *, user: str, address: str | None) -> int:
        """0 when an attempt may go ahead, else whole seconds until the fullest window frees."""
        wait = 0.0
        try:
            for kind, key in self._keys(user, address):
                for item in self._limits[kind]:
                    if not self._limiter.test(item, kind, key):
                        stats = self._limiter.get_window_stats(item, kind, key)
                        wait = max(wait, stats.reset_time - time.time(), 1)
        except StorageError as exc:
            raise TemporaryError(
                "the sign-in throttle's storage (DEMO_LOGIN_THROTTLE_STORAGE) cannot be reached; "
                "try again shortly"
            ) from exc
        return math.ceil(wait)

    def failed(self, *, user: str, address: str | None) -> None:
        try:
            for kind, key in self._keys(user, address):
                for item in self._limits[kind]:
                    self._limiter.hit(item, kind, key)
        except StorageError as exc:
            raise TemporaryError(
                "the sign-in throttle's storage (DEMO_LOGIN_THROTTLE_STORAGE) cannot be reached"
            ) from exc


class SignIn:
    def __init__(self, ctx: Context, hasher: PasswordHasher) -> None:
        self.ctx = ctx
        self._hasher = hasher
        settings = ctx.settings
        self.throttle = Throttle(
            per_user=settings.login_rate_per_user,
            per_address=settings.login_rate_per_address,
            storage_url=settings.login_throttle_storage,
        )

    @cached_property
    def _dummy_hash(self) -> str:
        """A hash of a random password, made once: unknown names are checked against it."""
        return self._hasher.hash(secrets.token_urlsafe(16))

    def verify(self, password_hash: str, password: str) -> bool:
        """The one place a password meets a hash (tests watch it to see the same work is done)."""
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def sign_in(self, name: str, password: str, *, source: str | None) -> Principal:
        """The principal for a right name and password; else SignInRefused or SignInThrottled."""
        name = name.strip()
        wait = self.throttle.wait_seconds(user=name, address=source)
        if wait:
            self._audit(name, source, "throttled")
            raise SignInThrottled(
                f"too many failed sign-ins for this user name or from this address; "
                f"try again in {wait} s",
                retry_after=wait,
            )
        with self.ctx.db.read() as session:
            user = store.get_user(session, name[:KEY_CHARS]) if name else None
            known = user is not None and bool(user.password_hash)
            password_hash = user.password_hash if user is not None else None
            principal = Principal(name=user.name, role=user.role, source=source) if user else None
            disabled = user is not None and user.disabled_at is not None
        # Known or not, exactly one argon2 verification: the time does not tell names apart.
        matches = self.verify(
            password_hash if known and password_hash else self._dummy_hash, password
        )
        reason = (
            "unknown user"
            if not known
            else "wrong password"
            if not matches
            else "disabled"
            if disabled
            else None
        )
        if reason is None and principal is not None:
            return principal
        self.throttle.failed(user=name, address=source)
        self._audit(name, source, reason or "unknown user")
        if reason == "disabled":
            raise SignInRefused("this user is disabled; ask an admin")
        raise SignInRefused("wrong user name or password")

    def _audit(self, name: str, source: str | None, reason: str) -> None:
        with self.ctx.db.write() as session:
            repo.add_audit(
                session,
                at=self.ctx.clock(),
                actor=name[:KEY_CHARS] or "-",
                action="sign-in.failed",
                instance_id=None,
                source=source,
                detail={"reason": reason},
            )
