"""Users, roles and API tokens: bootstrap the admin, mint tokens, authenticate bearers."""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError

from demo_orchestrator.domain.errors import BadRequest, Conflict, Unauthorized
from demo_orchestrator.engine.context import Context
from demo_orchestrator.engine.service import Principal
from demo_orchestrator.store import accounts as store
from demo_orchestrator.store import repository as repo
from demo_orchestrator.store.models import WebSessionRow

ROLES = ("admin", "sales", "viewer")
TOKEN_FILE = "admin-token"
PASSWORD_FILE = "admin-password"


def _write_private(path: Path, value: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(value + "\n")


class Accounts:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._hasher = PasswordHasher()

    def bootstrap(self) -> str | None:
        """Create the admin user and its token; returns the embedded-mode token file's token."""
        now = self.ctx.clock()
        settings = self.ctx.settings
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

    def create_token(
        self, *, user: str, role: str, name: str | None = None, actor: Principal | None = None
    ) -> str:
        if role not in ROLES:
            raise BadRequest(f"role {role!r} is not a role; use one of: {', '.join(ROLES)}")
        token = "demo_" + secrets.token_urlsafe(32)
        now = self.ctx.clock()
        with self.ctx.db.write() as session:
            existing = store.get_user(session, user)
            if existing is not None and existing.role != role:
                raise BadRequest(
                    f"user {user!r} exists with role {existing.role}; tokens carry the user's role"
                )
            store.upsert_user(session, name=user, role=role, now=now)
            store.add_token(session, user=user, name=name or user, token=token, now=now)
            if actor is not None:
                repo.add_audit(
                    session,
                    at=now,
                    actor=actor.name,
                    action="token.create",
                    instance_id=None,
                    source=actor.source,
                    detail={"user": user, "role": role},
                )
        return token

    def authenticate(self, token: str | None, *, source: str | None = None) -> Principal:
        if not token:
            raise Unauthorized(
                "missing bearer token; send `Authorization: Bearer <token>` (set DEMO_TOKEN for democtl)"
            )
        with self.ctx.db.read() as session:
            found = store.find_token(session, token)
        if found is None:
            raise Unauthorized("the bearer token is not valid; ask an admin for a new one")
        _, user = found
        return Principal(name=user.name, role=user.role, source=source)

    def create_user(self, *, name: str, role: str, password: str, actor: Principal) -> None:
        if role not in ROLES:
            raise BadRequest(f"role {role!r} is not a role; use one of: {', '.join(ROLES)}")
        if len(password) < 8:
            raise BadRequest("the password must have at least 8 characters")
        now = self.ctx.clock()
        with self.ctx.db.write() as session:
            if store.get_user(session, name) is not None:
                raise Conflict(f"user {name!r} exists already; pick another name")
            user = store.upsert_user(session, name=name, role=role, now=now)
            user.password_hash = self._hasher.hash(password)
            repo.add_audit(
                session,
                at=now,
                actor=actor.name,
                action="user.create",
                instance_id=None,
                source=actor.source,
                detail={"user": name, "role": role},
            )

    # -- web sessions --------------------------------------------------------------------------

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
        """(who, CSRF token) of a live session, or None."""
        if not session_id:
            return None
        with self.ctx.db.read() as session:
            row = session.get(WebSessionRow, store.hash_token(session_id))
            if row is None or row.expires_at <= self.ctx.clock():
                return None
            user = store.get_user(session, row.user)
            if user is None:
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

    def check_password(self, name: str, password: str) -> Principal | None:
        with self.ctx.db.read() as session:
            user = store.get_user(session, name)
        if user is None or not user.password_hash:
            return None
        try:
            self._hasher.verify(user.password_hash, password)
        except VerificationError:
            return None
        return Principal(name=user.name, role=user.role)
