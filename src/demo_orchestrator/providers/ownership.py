"""What every data-service provider shares: who owns a resource, its password, and safe messages.

Servers are shared (one PostgreSQL, Redis or RabbitMQ for many demos, maybe for other teams too),
so every resource carries a marker naming this orchestrator (`managed-by demo-orchestrator
<owner>`); the orphan sweep only ever deletes what bears our marker. Replicas on one store share
the owner (a hash of the store URL, or `DEMO_RESOURCE_OWNER`).

Passwords are derived (HMAC of a key and the resource name), not random: `ensure` after a crash,
or a second time, gives the same credentials, so processes started earlier keep working and the
engine can call it as often as it likes. The key is `DEMO_SECRET_KEY` (shared by replicas), or a
file in `DEMO_HOME` in the embedded mode. Secrets never go into messages: URLs are rendered with
the password hidden and third-party error text is scrubbed of known secrets.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from pathlib import Path
from urllib.parse import SplitResult, urlsplit, urlunsplit

from demo_orchestrator.domain.errors import PermanentError, ProviderError
from demo_orchestrator.settings import Settings

MANAGED_BY = "managed-by demo-orchestrator"
INSTANCE_ID = re.compile(r"^demo-[a-z0-9]{6}$")


class Unreachable(ProviderError):
    """The server did not answer at all. `ensure` retries it; `destroy` treats it as "nothing to
    do now": the engine must be able to finish a teardown while a server is down, and whatever
    is left there is ours by its marker, so the orphan sweep removes it once the server is back."""


def owner_of(settings: Settings) -> str:
    """A short, stable id of this orchestrator (all replicas of one store share it)."""
    if settings.resource_owner:
        if not re.fullmatch(r"[a-z0-9]{1,12}", settings.resource_owner):
            raise PermanentError("DEMO_RESOURCE_OWNER must be 1-12 lowercase letters or digits")
        return settings.resource_owner
    return hashlib.sha256(redact(settings.resolved_store_url()).encode()).hexdigest()[:8]


def marker(owner: str) -> str:
    return f"{MANAGED_BY} {owner}"


class Passwords:
    """Derives each resource's password from one key, so `ensure` is repeatable."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def from_settings(cls, settings: Settings) -> Passwords:
        if settings.secret_key:
            return cls(settings.secret_key.encode())
        path = settings.home / "data-services.key"
        settings.home.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return cls(Path(path).read_bytes().strip())
        key = os.urandom(32).hex().encode()
        with os.fdopen(fd, "wb") as handle:
            handle.write(key)
        return cls(key)

    def of(self, *parts: str) -> str:
        message = "\x00".join(("demo-orchestrator-data-service", *parts)).encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:32]


def redact(url: str) -> str:
    """The URL with its password replaced by ***, safe to log or show."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname or ''}"
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def scrub(text: str, *secrets: str | None) -> str:
    """Third-party error text with every known secret hidden."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def split_url(url: str, *, schemes: tuple[str, ...], setting: str) -> SplitResult:
    """Parse a configured URL, refusing a wrong scheme or a missing host with a clear error."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        raise PermanentError(f"{setting} is not a valid URL: {redact(url)}") from exc
    if parts.scheme not in schemes or not parts.hostname:
        raise PermanentError(
            f"{setting} must look like {schemes[0]}://user:password@host:port/..., "
            f"not {redact(url)}"
        )
    return parts


def first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
