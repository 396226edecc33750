"""Users, roles and API tokens: bootstrap the admin, add users under the password policy, mint,
list, expire and revoke tokens, disable users, authenticate bearers and browser sessions.

A disabled user, a revoked token and an expired token are refused on the very next request:
every bearer and every session is checked against the store, nothing is cached. Names the engine
writes into the audit log as its own actor (`system`) or uses as an owner (`warm-pool`) are
reserved, so no person or token can act or own demos under them.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher

from demo_orchestrator.domain.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized
from demo_orchestrator.engine.changes import SYSTEM, audit_by
from demo_orchestrator.engine.context import Context
from demo_orchestrator.engine.invitation import checked_zone
from demo_orchestrator.engine.passwords import password_problem
from demo_orchestrator.engine.pool import OWNER as POOL_OWNER
from demo_orchestrator.engine.service import Principal
from demo_orchestrator.engine.signin import SignIn
from demo_orchestrator.store import accounts as store
from demo_orchestrator.store import repository as repo
from demo_orchestrator.store.models import TokenRow, UserRow, WebSessionRow

ROLES = ("admin", "sales", "viewer")
TOKEN_FILE = "admin-token"
PASSWORD_FILE = "admin-password"
RESERVED_NAMES = frozenset({SYSTEM, POOL_OWNER})


def _write_private(path: Path, value: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(value + "\n")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _check_name(name: str) -> None:
    if name.lower() in RESERVED_NAMES:
        raise BadRequest(
            f"the user name {name!r} is reserved for the orchestrator's own actions; pick another"
        )


def token_view(token: TokenRow, user: UserRow) -> dict[str, Any]:
    """A token as the API shows it: never the secret, nor its hash."""
    return {
        "id": token.id,
        "name": token.name,
        "user": user.name,
        "role": user.role,
        "created_at": _iso(token.created_at),
        "expires_at": _iso(token.expires_at),
        "revoked_at": _iso(token.revoked_at),
    }


def user_view(user: UserRow) -> dict[str, Any]:
    return {
        "name": user.name,
        "role": user.role,
        "created_at": _iso(user.created_at),
        "disabled_at": _iso(user.disabled_at),
        "web_sign_in": bool(user.password_hash),
        "email": user.email,
    }


EMAIL = re.compile(r"[^@\s<>\x00-\x1f\x7f]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")


def checked_email(email: str | None) -> str | None:
    """A plain `local@domain` address (no display name, no control character), or None."""
    if email is None or not email.strip():
        return None
    email = email.strip()
    if len(email) > 254 or not EMAIL.fullmatch(email) or "." not in email.rpartition("@")[2]:
        raise BadRequest(f"{email[:60]!r} is not an e-mail address like name@example.com")
    return email


class Accounts:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._hasher = PasswordHasher()
        self.signin = SignIn(ctx, self._hasher)

    def bootstrap(self) -> str | None:
        """Create the admin user and its token; returns the embedded-mode token file's token."""
        now = self.ctx.clock()
        settings = self.ctx.settings
        if settings.admin_password is not None:
            problem = password_problem(settings.admin_password, user="admin")
            if problem:
                raise BadRequest(f"DEMO_ADMIN_PASSWORD is refused: {problem}")
        token = settings.admin_token
        generated_path: Path | None = None
        if token is None:
            generated_path = settings.home / TOKEN_FILE
            if generated_path.is_file():
                token = generated_path.read_text().strip()
            else:
                token = "demo_" + secrets.token_urlsafe(32)
        password_file = settings.home / PASSWORD_FILE
        with self.ctx.db.write() as session:
            user = store.upsert_user(session, name="admin", role="admin", now=now)
            if not user.password_hash:
                password = settings.admin_password
                if password is None:
                    # Embedded default: a first-start password a person can read, like the
                    # token, so the web UI works without any configuration.
                    password = secrets.token_urlsafe(12)
                    _write_private(password_file, password)
                user.password_hash = self._hasher.hash(password)
            if not store.token_exists(session, token):
                store.add_token(session, user="admin", name="bootstrap", token=token, now=now)
        if generated_path is not None and not generated_path.is_file():
            _write_private(generated_path, token)
        return token if generated_path is not None else None

    # -- tokens --------------------------------------------------------------------------------

    def create_token(
        self,
        *,
        user: str,
        role: str,
        name: str | None = None,
        actor: Principal | None = None,
        expires_at: datetime | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """Mint a token; returns the secret (shown once) and its public view."""
        if role not in ROLES:
            raise BadRequest(f"role {role!r} is not a role; use one of: {', '.join(ROLES)}")
        _check_name(user)
        now = self.ctx.clock()
        if expires_at is not None:
            latest = now + timedelta(days=self.ctx.settings.token_max_days)
            if expires_at <= now:
                raise BadRequest("expires_at is in the past; give a future ISO 8601 time")
            if expires_at > latest:
                raise BadRequest(
                    f"expires_at is more than {self.ctx.settings.token_max_days} days ahead "
                    f"(DEMO_TOKEN_MAX_DAYS); give an earlier time"
                )
        token = "demo_" + secrets.token_urlsafe(32)
        with self.ctx.db.write() as session:
            existing = store.get_user(session, user)
            if existing is not None and existing.role != role:
                raise BadRequest(
                    f"user {user!r} exists with role {existing.role}; tokens carry the user's role"
                )
            if existing is not None and existing.disabled_at is not None:
                raise Conflict(f"user {user!r} is disabled; it gets no new token")
            row_user = store.upsert_user(session, name=user, role=role, now=now)
            row = store.add_token(
                session, user=user, name=name or user, token=token, now=now, expires_at=expires_at
            )
            if actor is not None:
                audit_by(
                    session,
                    actor,
                    "token.create",
                    now=now,
                    detail={"user": user, "role": role, "token_id": row.id},
                )
            return token, token_view(row, row_user)

    def list_tokens(self, who: Principal) -> list[dict[str, Any]]:
        """Admins see every token, others their own."""
        with self.ctx.db.read() as session:
            rows = store.list_tokens(session, user=None if who.role == "admin" else who.name)
            return [token_view(t, u) for t, u in rows]

    def revoke_token(self, token_id: int, who: Principal) -> None:
        """Revoke at once (idempotent); someone else's token is "not found" to a non-admin."""
        now = self.ctx.clock()
        with self.ctx.db.write() as session:
            row = store.get_token(session, token_id)
            if row is None or (who.role != "admin" and row.user != who.name):
                raise NotFound(f"no token {token_id} of yours; see GET /api/v1/tokens")
            if row.revoked_at is None:
                row.revoked_at = now
                audit_by(
                    session,
                    who,
                    "token.revoke",
                    now=now,
                    detail={"user": row.user, "token_id": row.id},
                )

    def authenticate(self, token: str | None, *, source: str | None = None) -> Principal:
        if not token:
            raise Unauthorized(
                "missing bearer token; send `Authorization: Bearer <token>` (set DEMO_TOKEN for democtl)"
            )
        with self.ctx.db.read() as session:
            found = store.find_token(session, token)
        if found is None:
            raise Unauthorized("the bearer token is not valid; ask an admin for a new one")
        row, user = found
        if row.revoked_at is not None:
            raise Unauthorized("the bearer token was revoked; ask an admin for a new one")
        if row.expires_at is not None and row.expires_at <= self.ctx.clock():
            raise Unauthorized(
                f"the bearer token expired at {row.expires_at.isoformat()}; ask an admin for a new one"
            )
        if user.disabled_at is not None:
            raise Unauthorized("the token's user is disabled; ask an admin")
        return Principal(name=user.name, role=user.role, source=source)

    # -- users ---------------------------------------------------------------------------------

    def create_user(
        self, *, name: str, role: str, password: str, actor: Principal, email: str | None = None
    ) -> None:
        if role not in ROLES:
            raise BadRequest(f"role {role!r} is not a role; use one of: {', '.join(ROLES)}")
        _check_name(name)
        problem = password_problem(password, user=name)
        if problem:
            raise BadRequest(problem)
        now = self.ctx.clock()
        with self.ctx.db.write() as session:
            if store.get_user(session, name) is not None:
                raise Conflict(f"user {name!r} exists already; pick another name")
            user = store.upsert_user(session, name=name, role=role, now=now)
            user.password_hash = self._hasher.hash(password)
            user.email = checked_email(email)
            audit_by(session, actor, "user.create", now=now, detail={"user": name, "role": role})

    def set_timezone(self, name: str, timezone: str, who: Principal) -> dict[str, Any]:
        """The IANA zone `name`'s invitations and schedule are shown in: your own, or any
        user's as an admin."""
        if who.role != "admin" and who.name != name:
            raise Forbidden("you can set your own time zone only")
        tz = checked_zone(timezone)
        with self.ctx.db.write() as session:
            user = store.get_user(session, name)
            if user is None:
                raise NotFound(f"no user {name!r}; GET /api/v1/users lists them")
            user.timezone = tz
            audit_by(
                session,
                who,
                "user.timezone",
                now=self.ctx.clock(),
                detail={"user": name, "timezone": tz},
            )
            return {"name": name, "timezone": tz}

    def timezone_of(self, name: str) -> str:
        """A user's zone; UTC for one without a user record (a token-only admin)."""
        with self.ctx.db.read() as session:
            user = store.get_user(session, name)
            return (user.timezone if user is not None else None) or "UTC"

    def set_email(self, name: str, email: str | None, who: Principal) -> dict[str, Any]:
        """Where `name`'s notification e-mails go: a user sets their own, admins anyone's."""
        if who.role != "admin" and who.name != name:
            raise Forbidden("you can set your own e-mail address only")
        address = checked_email(email)
        now = self.ctx.clock()
        with self.ctx.db.write() as session:
            user = store.get_user(session, name)
            if user is None:
                raise NotFound(f"no user {name!r}; GET /api/v1/users lists them")
            user.email = address
            audit_by(
                session,
                who,
                "user.email",
                now=now,
                detail={"user": name, "email": "set" if address else "removed"},
            )
            return user_view(user)

    def email_of(self, name: str) -> str | None:
        with self.ctx.db.read() as session:
            user = store.get_user(session, name)
            return None if user is None else user.email

    def list_users(self, who: Principal) -> list[dict[str, Any]]:
        if who.role != "admin":
            raise Forbidden("only admins can list users")
        with self.ctx.db.read() as session:
            return [user_view(u) for u in store.list_users(session)]

    def disable_user(self, name: str, who: Principal) -> dict[str, Any]:
        """From now on the user's sessions, tokens and sign-ins are refused (idempotent)."""
        if who.role != "admin":
            raise Forbidden("only admins can disable users")
        if name == who.name:
            raise BadRequest("you cannot disable yourself; ask another admin")
        now = self.ctx.clock()
        with self.ctx.db.write() as session:
            user = store.get_user(session, name)
            if user is None:
                raise NotFound(f"no user {name!r}; see GET /api/v1/users")
            if user.disabled_at is None:
                user.disabled_at = now
                ended = store.end_sessions_of(session, name)
                audit_by(
                    session,
                    who,
                    "user.disable",
                    now=now,
                    detail={"user": name, "sessions_ended": ended},
                )
            return user_view(user)

    # -- web sessions --------------------------------------------------------------------------

    def sign_in(self, name: str, password: str, *, source: str | None) -> str:
        """Check the password (throttled, audited) and open a session; returns its cookie."""
        return self.start_session(self.signin.sign_in(name, password, source=source))

    def start_session(self, who: Principal) -> str:
        """Open a browser session; returns the cookie value (stored only hashed)."""
        session_id = secrets.token_urlsafe(32)
        now = self.ctx.clock()
        with self.ctx.db.write() as session:
            session.add(
                WebSessionRow(
                    id_hash=store.hash_token(session_id),
                    user=who.name,
                    csrf=secrets.token_urlsafe(24),
                    created_at=now,
                    expires_at=now + timedelta(hours=self.ctx.settings.session_hours),
                )
            )
            repo.add_audit(
                session,
                at=now,
                actor=who.name,
                action="sign-in",
                instance_id=None,
                source=who.source,
            )
        return session_id

    def session_of(
        self, session_id: str | None, *, source: str | None
    ) -> tuple[Principal, str] | None:
        """(who, CSRF token) of a live session of an enabled user, or None."""
        if not session_id:
            return None
        with self.ctx.db.read() as session:
            row = session.get(WebSessionRow, store.hash_token(session_id))
            if row is None or row.expires_at <= self.ctx.clock():
                return None
            user = store.get_user(session, row.user)
            if user is None or user.disabled_at is not None:
                return None
            return Principal(name=user.name, role=user.role, source=source), row.csrf

    def end_session(self, session_id: str | None) -> None:
        if not session_id:
            return
        with self.ctx.db.write() as session:
            row = session.get(WebSessionRow, store.hash_token(session_id))
            if row is not None:
                session.delete(row)
                repo.add_audit(
                    session,
                    at=self.ctx.clock(),
                    actor=row.user,
                    action="sign-out",
                    instance_id=None,
                    source=None,
                )
