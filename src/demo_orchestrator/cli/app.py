"""The `democtl` Typer app and what every command shares: output, errors, one API call."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

from demo_orchestrator.client import Client, ClientError

app = typer.Typer(
    help="Demo environments on demand: create, watch, extend, reset, delete.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="The orchestrator's store.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
user_app = typer.Typer(help="People who sign in to the web UI.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(token_app, name="token")
app.add_typer(user_app, name="user")

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the raw JSON answer.")]


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[red]error:[/red] {message}", markup=True, soft_wrap=True)
    raise typer.Exit(code)


def call(method: str, path: str, **kwargs: Any) -> Any:
    client = Client()
    try:
        return client.json(method, path, **kwargs)
    except ClientError as exc:
        fail(exc.message, 2 if exc.status is None else 1)
    finally:
        client.close()


def emit(data: Any, as_json: bool) -> bool:
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    return as_json


def format_when(stamp: str | None) -> str:
    if not stamp:
        return "-"
    moment = datetime.fromisoformat(stamp)
    left = (moment - datetime.now(UTC)).total_seconds()
    local = moment.astimezone().strftime("%Y-%m-%d %H:%M")
    if left > 0:
        return f"{local} (in {format_span(left)})"
    return f"{local} ({format_span(-left)} ago)"


def format_span(seconds: float) -> str:
    if seconds >= 3600:
        hours, rest = divmod(int(seconds), 3600)
        return f"{hours} h {rest // 60} min" if rest >= 60 else f"{hours} h"
    if seconds >= 60:
        return f"{int(seconds // 60)} min"
    return f"{int(seconds)} s"


def show_instance(instance: dict[str, Any]) -> None:
    out.print(
        f"[bold]{instance['id']}[/bold]  {instance['status']}  {instance['scenario']}  "
        f"owner {instance['owner']}"
    )
    if instance.get("name"):
        out.print(f"  {'name':<10} {instance['name']}", soft_wrap=True)
    for route, url in instance["urls"].items():
        out.print(f"  {route:<10} {url}")
    out.print(f"  {'expires':<10} {time_left(instance)}")
    out.print(
        f"  {'cost':<10} ${instance['cost']['accrued_usd']:.4f} so far, "
        f"${instance['cost']['hourly_usd']:.2f}/h"
    )
    if instance.get("rep_login_url"):
        out.print(f"  {'rep':<10} {instance['rep_login_url']}", soft_wrap=True)
    for persona in instance.get("personas", []):
        out.print(
            f"  persona    {persona['name']} ({persona['role']}) {persona['login_url'] or ''}",
            soft_wrap=True,
        )
    if instance.get("notes"):
        lines = instance["notes"].splitlines() or [""]
        out.print(f"  {'notes':<10} {lines[0]}", soft_wrap=True, markup=False)
        for line in lines[1:]:
            out.print(f"  {'':<10} {line}", soft_wrap=True, markup=False)
    tour = instance.get("tour") or []
    if tour:
        out.print("  tour")
        for step in tour:
            out.print(
                f"    {step['step']}. {step['persona']} {step['page']} - {step['action']}",
                soft_wrap=True,
                markup=False,
            )
            if step.get("url"):
                out.print(f"       open as {step['persona']}: {step['url']}", soft_wrap=True)
    if instance.get("error"):
        out.print(f"  [red]error[/red]      {instance['error']}")


def time_left(instance: dict[str, Any]) -> str:
    """When a demo ends: none for a request waiting for approval or a booking (their clock starts
    on approval or at the booked start), else the expiry and how far off it is."""
    hours = instance.get("duration_hours")
    length = f", runs {format_span(hours * 3600)}" if hours else ""
    if instance["status"] == "pending_approval":
        return f"starts on approval{length}"
    if instance["status"] == "scheduled":
        return f"starts {format_when(instance.get('starts_at'))}{length}"
    if instance["status"] in ("deleted", "rejected"):
        return "-"
    return format_when(instance["expires_at"])


# -- server commands --------------------------------------------------------------------------
