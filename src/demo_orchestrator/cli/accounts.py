"""`democtl token list|revoke` and `democtl user list|disable`: who can get in, and shutting them
out at once. (`token create` and `user create` live in cli/server.py.)"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

import typer
from rich.table import Table

from demo_orchestrator.cli.app import JsonOpt, call, emit, fail, out, token_app, user_app
from demo_orchestrator.client import Client, ClientError


def _send(method: str, path: str) -> None:
    """One call whose answer has no body (204)."""
    client = Client()
    try:
        client.request(method, path)
    except ClientError as exc:
        fail(exc.message, 2 if exc.status is None else 1)
    finally:
        client.close()


@token_app.command("list")
def token_list(as_json: JsonOpt = False) -> None:
    """List API tokens (admins see all, others their own); secrets are never shown."""
    data = call("GET", "/api/v1/tokens")
    if emit(data, as_json):
        return
    table = Table("id", "name", "user", "role", "created", "expires", "revoked")
    for t in data["items"]:
        table.add_row(
            str(t["id"]),
            t["name"],
            t["user"],
            t["role"],
            t["created_at"][:16],
            (t["expires_at"] or "never")[:16],
            (t["revoked_at"] or "-")[:16],
        )
    out.print(table)


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[str, typer.Argument(help="The token's id, from `democtl token list`.")],
    as_json: JsonOpt = False,
) -> None:
    """Revoke a token at once: the next request with it is refused."""
    if not token_id.isdigit() or not 0 < int(token_id) < 2**31:
        fail(f"token id {token_id!r} is not a token id; see `democtl token list`")
    _send("DELETE", f"/api/v1/tokens/{int(token_id)}")
    if not emit({"id": int(token_id), "revoked": True}, as_json):
        out.print(f"token {int(token_id)} revoked")


@user_app.command("list")
def user_list(as_json: JsonOpt = False) -> None:
    """List users (admins only)."""
    data = call("GET", "/api/v1/users")
    if emit(data, as_json):
        return
    table = Table("name", "role", "created", "web sign-in", "disabled")
    for u in data["items"]:
        table.add_row(
            u["name"],
            u["role"],
            u["created_at"][:16],
            "yes" if u["web_sign_in"] else "no",
            (u["disabled_at"] or "-")[:16],
        )
    out.print(table)


@user_app.command("disable")
def user_disable(
    name: Annotated[str, typer.Argument(help="The user to shut out.")],
    as_json: JsonOpt = False,
) -> None:
    """Disable a user (admins only): their sessions, tokens and sign-ins stop working at once."""
    data = call("POST", f"/api/v1/users/{name}/disable")
    if not emit(data, as_json):
        out.print(f"user {data['name']} disabled; their sessions and tokens no longer work")


@user_app.command("email")
def user_email(
    name: Annotated[str, typer.Argument(help="The user (yourself, or anyone as an admin).")],
    address: Annotated[str, typer.Argument(help="The address; `none` removes it.")],
    as_json: JsonOpt = False,
) -> None:
    """Set where a user's notification e-mails go (with DEMO_SMTP_URL on the server)."""
    email = None if address.lower() == "none" else address
    data = call("PUT", f"/api/v1/users/{quote(name, safe='')}/email", json={"email": email})
    if not emit(data, as_json):
        out.print(f"{data['name']}: notification e-mails go to {data['email'] or 'nobody'}")
