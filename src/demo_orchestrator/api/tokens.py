"""API tokens and web users: create, list, revoke, disable (thin routes over `Accounts`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Response

from demo_orchestrator.api.schemas import (
    TokenCreate,
    TokenList,
    TokenPublic,
    UserCreate,
    UserEmail,
    UserInfo,
    UserList,
    UserPublic,
    UserTimezone,
    UserTimezoneInfo,
)
from demo_orchestrator.domain.errors import BadRequest, Forbidden
from demo_orchestrator.serving.deps import OrchestratorDep, PrincipalDep

router = APIRouter()
NAME = r"^[A-Za-z0-9_.@-]+$"


@router.post("/api/v1/tokens", status_code=201, response_model=TokenPublic, tags=["tokens"])
def create_token(
    body: TokenCreate, orchestrator: OrchestratorDep, who: PrincipalDep
) -> dict[str, Any]:
    """Mint a token for a user (admins only); the secret is in this answer only."""
    if who.role != "admin":
        raise Forbidden("only admins can create tokens")
    if body.user == "admin" and body.role != "admin":
        raise BadRequest("the user `admin` is the bootstrap admin; pick another user name")
    token, view = orchestrator.accounts.create_token(
        user=body.user, role=body.role, name=body.name, actor=who, expires_at=body.expires_at
    )
    return {**view, "token": token}


@router.get("/api/v1/tokens", response_model=TokenList, tags=["tokens"])
def list_tokens(orchestrator: OrchestratorDep, who: PrincipalDep) -> dict[str, Any]:
    """Admins see every token, others their own; never a secret."""
    return {"items": orchestrator.accounts.list_tokens(who)}


@router.delete("/api/v1/tokens/{token_id}", status_code=204, tags=["tokens"])
def revoke_token(
    orchestrator: OrchestratorDep,
    who: PrincipalDep,
    token_id: int = Path(ge=1, le=2**31 - 1),  # the column is a 32-bit integer on PostgreSQL
) -> Response:
    """Revoke at once: the next request with it is refused (401)."""
    orchestrator.accounts.revoke_token(token_id, who)
    return Response(status_code=204)


@router.post("/api/v1/users", status_code=201, response_model=UserPublic, tags=["users"])
def create_user(
    body: UserCreate, orchestrator: OrchestratorDep, who: PrincipalDep
) -> dict[str, str | None]:
    """Add a person who signs in to the web UI with a password (admins only)."""
    if who.role != "admin":
        raise Forbidden("only admins can add users")
    orchestrator.accounts.create_user(
        name=body.name, role=body.role, password=body.password, actor=who, email=body.email
    )
    return {"name": body.name, "role": body.role, "email": body.email}


@router.get("/api/v1/users", response_model=UserList, tags=["users"])
def list_users(orchestrator: OrchestratorDep, who: PrincipalDep) -> dict[str, Any]:
    """Every user, token-only ones included (admins only)."""
    return {"items": orchestrator.accounts.list_users(who)}


@router.post("/api/v1/users/{name}/disable", response_model=UserInfo, tags=["users"])
def disable_user(
    orchestrator: OrchestratorDep,
    who: PrincipalDep,
    name: str = Path(min_length=1, max_length=128, pattern=NAME),
) -> dict[str, Any]:
    """Refuse the user's sessions, tokens and sign-ins from now on (admins only)."""
    return orchestrator.accounts.disable_user(name, who)


@router.put("/api/v1/users/{name}/email", response_model=UserInfo, tags=["users"])
def set_user_email(
    body: UserEmail,
    orchestrator: OrchestratorDep,
    who: PrincipalDep,
    name: str = Path(min_length=1, max_length=128, pattern=NAME),
) -> dict[str, Any]:
    """Set (or, with null, remove) where a user's notification e-mails go: your own, or any
    user's as an admin."""
    return orchestrator.accounts.set_email(name, body.email, who)


@router.put("/api/v1/users/{name}/timezone", response_model=UserTimezoneInfo, tags=["users"])
def set_user_timezone(
    body: UserTimezone,
    orchestrator: OrchestratorDep,
    who: PrincipalDep,
    name: str = Path(min_length=1, max_length=128, pattern=NAME),
) -> dict[str, Any]:
    """Set the IANA time zone a user's calendar invitations and schedule page are shown in:
    your own, or any user's as an admin."""
    return orchestrator.accounts.set_timezone(name, body.timezone, who)
