"""Users and API tokens. Tokens are stored as SHA-256 hashes (they are long random strings, so a
fast hash is enough); web passwords use argon2 (see `engine/accounts.py`)."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from demo_orchestrator.store.models import TokenRow, UserRow


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


def add_token(session: Session, *, user: str, name: str, token: str, now: datetime) -> TokenRow:
    row = TokenRow(name=name, user=user, token_hash=hash_token(token), created_at=now)
    session.add(row)
    return row


def find_token(session: Session, token: str) -> tuple[TokenRow, UserRow] | None:
    row = session.scalars(
        select(TokenRow).where(
            TokenRow.token_hash == hash_token(token), TokenRow.revoked_at.is_(None)
        )
    ).first()
    if row is None:
        return None
    user = session.get(UserRow, row.user)
    return (row, user) if user is not None else None


def token_exists(session: Session, token: str) -> bool:
    return (
        session.scalars(select(TokenRow.id).where(TokenRow.token_hash == hash_token(token))).first()
        is not None
    )
