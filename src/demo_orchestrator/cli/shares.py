"""`democtl share` and `democtl unshare`: the prospect's link of a demo (engine/shares.py)."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from demo_orchestrator.cli.app import JsonOpt, app, call, emit, fail, format_when, out
from demo_orchestrator.client import Client, ClientError


class Mode(str, Enum):
    read_only = "read_only"
    guided = "guided"


@app.command()
def share(
    instance_id: str,
    mode: Annotated[
        Mode, typer.Option(help="read_only: the demo, no writes; guided: with its tour too.")
    ] = Mode.read_only,
    as_json: JsonOpt = False,
) -> None:
    """Print a link for the prospect (replaces any earlier one, which stops working)."""
    made = call("POST", f"/api/v1/demo-instances/{instance_id}/share", json={"mode": mode.value})
    if not emit(made, as_json):
        out.print(made["url"], soft_wrap=True)
        out.print(f"{made['mode']}, expires {format_when(made['expires_at'])}")


@app.command()
def unshare(instance_id: str) -> None:
    """Revoke the prospect's link: it stops working at once."""
    client = Client()
    try:
        client.request("DELETE", f"/api/v1/demo-instances/{instance_id}/share")
    except ClientError as exc:
        fail(exc.message, 2 if exc.status is None else 1)
    finally:
        client.close()
    out.print(f"{instance_id} is no longer shared")
