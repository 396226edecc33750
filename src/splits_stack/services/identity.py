"""Identity service: the scenario's personas, one-click sign-in tokens and sessions.

A sign-in token is HMAC-SHA256(DEMO_LOGIN_SECRET, lower(email)): the orchestrator computes the same
value to build each persona's link, and the secret is per demo, so a link only opens its own demo.
The rep's token (`rep_token`) is an HMAC under a key derived from the same secret for a message no
e-mail can be (it starts with a NUL byte and names the demo), so neither kind of token can be turned
into the other. `session_generation` names the secret without revealing it: a session made under
one secret is refused once the orchestrator rotates it (see `web/access.py`).
Sessions live in Redis under `<prefix>:session:` when REDIS_URL is set, else in the `sessions` table.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Engine, delete, func, select

from splits_stack import tables as t
from splits_stack.services.freshen import email_aliases

SESSION_COOKIE = "splits_session"
SESSION_TTL_S = 12 * 3600

PERSONA_EMAILS: dict[str, list[str]] = {
    "agency": [
        "jordan.reyes@northbridge.example",
        "priya.nair@client.example",
        "sam.carter@mail.example",
    ],
    "enterprise": [
        "dana.whitfield@northwind.example",
        "marcus.lee@northwind.example",
        "grace.okafor@northwind.example",
        "elena.novak@northwind.example",
        "chris.patel@mail.example",
    ],
    "startup": [
        "alex.morgan@lumenlabs.example",
        "taylor.kim@foundry-talent.example",
        "jamie.rivera@mail.example",
    ],
}

HOME = {"candidate": "/"}  # a candidate lands on the job board (the tour starts there)


def login_token(secret: str, email: str) -> str:
    return hmac.new(secret.encode(), email.lower().encode(), hashlib.sha256).hexdigest()


def verify_token(secret: str, email: str, token: str) -> bool:
    return bool(email) and hmac.compare_digest(login_token(secret, email), token or "")


def _derived(secret: str, purpose: str) -> bytes:
    """A key of its own per purpose, so that a value made for one purpose is useless for another."""
    return hmac.new(secret.encode(), f"\x00splits:{purpose}".encode(), hashlib.sha256).digest()


def rep_token(secret: str, instance_id: str) -> str:
    """The token of the rep's one-click link (the orchestrator computes the same)."""
    message = f"\x00rep-login\x00{instance_id}".encode()
    return hmac.new(_derived(secret, "rep-login"), message, hashlib.sha256).hexdigest()


def verify_rep_token(secret: str, instance_id: str, token: str) -> bool:
    return hmac.compare_digest(rep_token(secret, instance_id), token or "")


def session_generation(secret: str) -> str:
    """A short public name of the login secret: sessions carry it and die with the secret."""
    return hmac.new(_derived(secret, "session"), b"generation", hashlib.sha256).hexdigest()[:16]


def rep_session_mac(secret: str, instance_id: str, expires: int) -> str:
    message = f"\x00rep-session\x00{instance_id}\x00{expires}".encode()
    return hmac.new(_derived(secret, "rep-session"), message, hashlib.sha256).hexdigest()


def share_token(secret: str, instance_id: str, mode: str, nonce: str) -> str:
    """The token of the prospect's share link (the orchestrator's engine/shares.py computes the
    same): its own derived key, and a message naming the demo, the mode and the share's nonce."""
    message = f"\x00share\x00{instance_id}\x00{mode}\x00{nonce}".encode()
    return hmac.new(_derived(secret, "share"), message, hashlib.sha256).hexdigest()


def share_session_mac(secret: str, instance_id: str, share: str, expires: int) -> str:
    message = f"\x00share-session\x00{instance_id}\x00{share}\x00{expires}".encode()
    return hmac.new(_derived(secret, "share-session"), message, hashlib.sha256).hexdigest()


def user_by_email(engine: Engine, email: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        email = email_aliases(conn).get(email.lower(), email)  # a seeded e-mail the prospect moved
        row = (
            conn.execute(select(t.users).where(func.lower(t.users.c.email) == email.lower()))
            .mappings()
            .first()
        )
    return dict(row) if row else None


def user_by_id(engine: Engine, user_id: int) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(select(t.users).where(t.users.c.id == user_id)).mappings().first()
    return dict(row) if row else None


def personas(engine: Engine, scenario: str) -> list[dict[str, Any]]:
    """The scenario's personas in picker order (falls back to a few staff users), each with its
    `blueprint_email`: the seeded e-mail the blueprint names it by, whatever its current one."""
    with engine.connect() as conn:
        aliases = email_aliases(conn)  # personas the prospect transform moved to its domain
        emails = [aliases.get(e, e) for e in PERSONA_EMAILS.get(scenario, [])]
        rows = [
            dict(r)
            for r in conn.execute(select(t.users).where(t.users.c.email.in_(emails))).mappings()
        ]
        if not rows:
            rows = [
                dict(r)
                for r in conn.execute(
                    select(t.users)
                    .where(t.users.c.role != "candidate")
                    .order_by(t.users.c.id)
                    .limit(5)
                ).mappings()
            ]
    order = {e: i for i, e in enumerate(emails)}
    seeded = {current.lower(): blueprint for blueprint, current in aliases.items()}
    for row in rows:  # the persona's stable name: the blueprint's (and orchestrator's) e-mail
        row["blueprint_email"] = seeded.get(row["email"].lower(), row["email"])
    return sorted(rows, key=lambda r: order.get(r["email"], 99))


class SessionStore(Protocol):
    def create(self, user_id: int) -> str: ...
    def get(self, token: str) -> int | None: ...
    def drop(self, token: str) -> None: ...


class DbSessions:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(self, user_id: int) -> str:
        token = secrets.token_hex(24)
        with self.engine.begin() as conn:
            conn.execute(
                t.sessions.insert().values(
                    token=token, user_id=user_id, created_at=datetime.now(UTC)
                )
            )
        return token

    def get(self, token: str) -> int | None:
        with self.engine.connect() as conn:
            value = conn.execute(
                select(t.sessions.c.user_id).where(t.sessions.c.token == token)
            ).scalar()
        return int(value) if value is not None else None

    def drop(self, token: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(t.sessions).where(t.sessions.c.token == token))


class RedisSessions:
    def __init__(self, client: Any, prefix: str) -> None:
        self.client, self.prefix = client, prefix

    def _key(self, token: str) -> str:
        return f"{self.prefix}:session:{token}"

    def create(self, user_id: int) -> str:
        token = secrets.token_hex(24)
        self.client.set(self._key(token), str(user_id), ex=SESSION_TTL_S)
        return token

    def get(self, token: str) -> int | None:
        value = self.client.get(self._key(token))
        return int(value) if value is not None else None

    def drop(self, token: str) -> None:
        self.client.delete(self._key(token))
