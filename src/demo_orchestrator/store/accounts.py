"""Users and API tokens. Tokens are stored as SHA-256 hashes (they are long random strings, so a
fast hash is enough); web passwords use argon2 (see `engine/accounts.py`)."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from demo_orchestrator.store.models import TokenRow, UserRow, WebSessionRow


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def get_user(session: Session, name: str) -> UserRow | None:
    return session.get(UserRow, name)


def upsert_user(session: Session, *, name: str, role: str, now: datetime) -> UserRow:
    user = session.get(UserRow, name)
    if user is None:
        user = UserRow(name=name, role=role, created_at=now)
        session.add(user)
        session.flush()
    return user


def add_token(
    session: Session,
    *,
    user: str,
    name: str,
    token: str,
    now: datetime,
    expires_at: datetime | None = None,
) -> TokenRow:
    row = TokenRow(
        name=name, user=user, token_hash=hash_token(token), created_at=now, expires_at=expires_at
    )
    session.add(row)
    session.flush()  # gives the row its id, which the API hands back
    return row


def find_token(session: Session, token: str) -> tuple[TokenRow, UserRow] | None:
    """The token and its user, revoked or expired ones included: the caller says which it was."""
    row = session.scalars(select(TokenRow).where(TokenRow.token_hash == hash_token(token))).first()
    if row is None:
        return None
    user = session.get(UserRow, row.user)
    return (row, user) if user is not None else None


def token_exists(session: Session, token: str) -> bool:
    return (
        session.scalars(select(TokenRow.id).where(TokenRow.token_hash == hash_token(token))).first()
        is not None
    )


def list_tokens(session: Session, *, user: str | None) -> list[tuple[TokenRow, UserRow]]:
    """Every token (of one user when `user` is given), oldest first, with its user."""
    query = select(TokenRow, UserRow).join(UserRow, UserRow.name == TokenRow.user)
    if user is not None:
        query = query.where(TokenRow.user == user)
    return [(t, u) for t, u in session.execute(query.order_by(TokenRow.id)).tuples()]


def get_token(session: Session, token_id: int) -> TokenRow | None:
    return session.get(TokenRow, token_id)


def list_users(session: Session) -> list[UserRow]:
    return list(session.scalars(select(UserRow).order_by(UserRow.name)))


def end_sessions_of(session: Session, user: str) -> int:
    """Delete every browser session of a user; returns how many there were."""
    result = session.execute(delete(WebSessionRow).where(WebSessionRow.user == user))
    return int(getattr(result, "rowcount", 0) or 0)
