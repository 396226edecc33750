"""Commands that run or administer the server: `serve`, `db upgrade`, `token create`,
`user create`."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from demo_orchestrator.cli.app import (
    JsonOpt,
    app,
    call,
    db_app,
    emit,
    err,
    fail,
    out,
    token_app,
    user_app,
)


@app.command()
def serve(
    port: Annotated[int | None, typer.Option(help="Port (DEMO_PORT, 8000).")] = None,
    host: Annotated[str | None, typer.Option(help="Interface (DEMO_HOST, 127.0.0.1).")] = None,
) -> None:
    """Run the orchestrator: API, engine and every demo's hosts on one port."""
    import logging

    import uvicorn
    from pydantic import ValidationError
    from rich.markup import escape

    from demo_orchestrator.app import create_app
    from demo_orchestrator.bootstrap import bootstrap
    from demo_orchestrator.domain.errors import DemoError
    from demo_orchestrator.engine.doctor import admit, diagnose
    from demo_orchestrator.router.framing import TargetKeepingProtocol
    from demo_orchestrator.serving.logs import configure as configure_logging
    from demo_orchestrator.settings import Settings

    overrides: dict[str, Any] = {}
    if port is not None:
        overrides["port"] = port
    if host is not None:
        overrides["host"] = host
    try:
        settings = Settings(**overrides)
        orchestrator = bootstrap(settings)
    except ValidationError as exc:
        first = exc.errors()[0]
        fail(f"setting DEMO_{str(first['loc'][0]).upper()} {first['msg']}")
    except DemoError as exc:
        fail(exc.detail)
    configure_logging(logging.INFO)  # one format, secrets redacted from every line
    refusals = admit(settings, diagnose(settings, orchestrator.ctx.providers()))
    if refusals:  # data servers that would isolate nothing: say why, one line each
        orchestrator.ctx.close_providers()
        orchestrator.ctx.db.dispose()
        for line in refusals:
            err.print(escape(line), soft_wrap=True)
        fail(
            f"refusing to start: {len(refusals)} data-service check(s) failed (above; "
            "`democtl doctor` explains); DEMO_ALLOW_INSECURE=true starts anyway, for "
            "development servers only",
            code=2,
        )
    err.print(
        f"demo-orchestrator on http://{settings.host}:{settings.port}  (home {settings.home})"
    )
    if settings.admin_token is None:
        err.print(f"  API token for democtl: {settings.home / 'admin-token'}")
    if settings.admin_password is None:
        err.print(
            f"  web UI: http://{settings.host}:{settings.port}/login as admin, password in "
            f"{settings.home / 'admin-password'} (DEMO_ADMIN_PASSWORD sets your own)"
        )
    uvicorn.run(
        create_app(orchestrator, manage_lifecycle=True),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        log_config=None,  # uvicorn's loggers propagate to the redacting root handler
        timeout_graceful_shutdown=5,
        proxy_headers=False,  # the router adds X-Forwarded-* itself; trust no client-sent ones
        # The embedded router relays every demo request through this one process: libuv's loop
        # and the C HTTP parser roughly halve its cost per request (bench/router.py).
        loop="uvloop",
        # httptools, keeping the raw request-target so the router can refuse ambiguous ones
        http=TargetKeepingProtocol,
    )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the store's migrations (also done by `serve` at start)."""
    from demo_orchestrator.settings import Settings
    from demo_orchestrator.store.database import Database
    from demo_orchestrator.store.migrate import current_revision

    settings = Settings()
    database = Database(settings.resolved_store_url())
    try:
        database.upgrade()
        out.print(f"store at revision {current_revision(database.engine)}")
    finally:
        database.dispose()


# -- client commands --------------------------------------------------------------------------


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option(help="admin, sales or viewer.")],
    name: Annotated[str, typer.Option(help="The user the token belongs to.")],
    expires: Annotated[
        str | None,
        typer.Option(help="When it stops working, ISO 8601 with offset (2027-01-31T18:00Z)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an API token (admins only); it is printed once, and stored only hashed."""
    body = {"user": name, "role": role}
    if expires:
        body["expires_at"] = expires
    data = call("POST", "/api/v1/tokens", json=body)
    if not emit(data, as_json):
        out.print(data["token"])


@user_app.command("create")
def user_create(
    role: Annotated[str, typer.Option(help="admin, sales or viewer.")],
    name: Annotated[str, typer.Option(help="The user name to sign in with.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    email: Annotated[
        str | None, typer.Option(help="Where their notification e-mails go (optional).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a web user with a password (admins only); stored as an argon2 hash."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    body = {"name": name, "role": role, "password": password}
    if email is not None:
        body["email"] = email
    data = call("POST", "/api/v1/users", json=body)
    if not emit(data, as_json):
        out.print(f"user {data['name']} ({data['role']}) created; they sign in at /login")
