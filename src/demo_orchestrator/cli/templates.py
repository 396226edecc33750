"""`democtl template save|list|delete`: templates saved from a demo, over the REST API."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

import typer
from rich.table import Table

from demo_orchestrator.cli.app import JsonOpt, app, call, emit, fail, out
from demo_orchestrator.client import Client, ClientError

template_app = typer.Typer(help="Templates saved from a customised demo.", no_args_is_help=True)
app.add_typer(template_app, name="template")


@template_app.command("save")
def save(
    instance_id: Annotated[str, typer.Argument(help="The ready demo to save, e.g. demo-ab12cd.")],
    name: Annotated[str, typer.Argument(help="The new scenario's name, e.g. acme-pipeline.")],
    title: Annotated[str | None, typer.Option(help="Shown in the create form.")] = None,
    shared: Annotated[bool, typer.Option("--shared", help="Usable by the whole team.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Save a ready demo's current data as a new scenario (`--scenario NAME` on create)."""
    body: dict[str, object] = {"name": name, "shared": shared}
    if title is not None:
        body["title"] = title
    saved = call("POST", f"/api/v1/demo-instances/{quote(instance_id)}/save-as-template", json=body)
    if not emit(saved, as_json):
        counts = ", ".join(f"{v} {k}" for k, v in saved["counts"].items())
        out.print(f"saved {saved['name']} (based on {saved['based_on']}): {counts}")


@template_app.command("list")
def list_templates(as_json: JsonOpt = False) -> None:
    """The scenarios you can create demos from: built-in ones and saved templates."""
    items = call("GET", "/api/v1/scenarios")["items"]
    if emit(items, as_json):
        return
    table = Table("name", "based on", "owner", "shared", "title")
    for s in items:
        table.add_row(
            s["name"],
            s.get("based_on") or "(built-in)",
            s.get("owner") or "-",
            "yes" if s.get("shared") else "-",
            s["title"],
        )
    out.print(table)


@template_app.command("delete")
def delete(name: Annotated[str, typer.Argument(help="A saved template's name.")]) -> None:
    """Delete a saved template; demos made from it keep their data."""
    client = Client()
    try:
        client.request("DELETE", f"/api/v1/scenarios/{quote(name)}")
    except ClientError as exc:
        fail(exc.message, 2 if exc.status is None else 1)
    finally:
        client.close()
    out.print(f"deleted template {name}")
