"""Client commands on demo instances, each one API call: create (with a live progress bar),
list, get, extend, reset, rotate-links, sleep, wake, delete, logs, usage."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from demo_orchestrator.cli.app import (
    JsonOpt,
    app,
    call,
    emit,
    err,
    fail,
    format_span,
    format_when,
    out,
    show_instance,
)
from demo_orchestrator.client import Client, ClientError


@app.command()
def create(
    scenario: Annotated[str | None, typer.Option(help="agency, enterprise or startup.")] = None,
    hours: Annotated[float, typer.Option(help="Duration in hours (fractions allowed).")] = 2.0,
    name: Annotated[str | None, typer.Option(help="A name for the demo.")] = None,
    company: Annotated[
        str | None, typer.Option(help="Prospect company woven into the data.")
    ] = None,
    industry: Annotated[str | None, typer.Option(help="Prospect industry.")] = None,
    notes: Annotated[str | None, typer.Option(help="Free notes.")] = None,
    idempotency_key: Annotated[
        str | None, typer.Option(help="Replays return the same demo.")
    ] = None,
    wait: Annotated[bool, typer.Option(help="Show live progress until the demo is ready.")] = False,
    timeout: Annotated[float, typer.Option(help="Give up waiting after this many seconds.")] = 600,
    as_json: JsonOpt = False,
) -> None:
    """Create a demo environment."""
    body: dict[str, Any] = {"duration_hours": hours}
    if scenario:
        body["scenario"] = scenario
    if name:
        body["name"] = name
    if company:
        body["prospect"] = {"company": company, **({"industry": industry} if industry else {})}
    if notes:
        body["notes"] = notes
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    started = time.monotonic()
    instance = call("POST", "/api/v1/demo-instances", json=body, headers=headers)
    if wait:
        instance = wait_for(instance, started=started, timeout=timeout, quiet=as_json)
    if emit(instance, as_json):
        if instance["status"] == "failed":
            raise typer.Exit(1)
        return
    if not wait:
        out.print(
            f"{instance['id']} {instance['status']}; follow it with `democtl get {instance['id']}`"
        )
        return
    report_ready(instance, time.monotonic() - started)


# Where waiting ends: a demo being made or reset is ready or failed; one being deleted is gone.
UNTIL_READY = frozenset({"ready", "failed", "deleted"})
UNTIL_GONE = frozenset({"deleted", "rejected"})


def wait_for(
    instance: dict[str, Any],
    *,
    started: float,
    timeout: float,
    quiet: bool,
    until: frozenset[str] = UNTIL_READY,
) -> dict[str, Any]:
    """Follow the instance's events with a live progress bar until its status is one of `until`
    (or the stream ends: the demo is gone). Returns the instance as it is then."""
    if until is UNTIL_GONE and instance["status"] in until:
        return instance  # a request or booking deleted before it started is gone at once
    client = Client()
    steps = [s["name"] for s in instance["steps"]]
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=quiet,
    )
    final = instance
    try:
        with progress:
            task = progress.add_task(f"{instance['id']} {instance['status']}", total=len(steps))
            finished: set[str] = set()
            for event, data in client.events(instance["id"], timeout=timeout):
                if event == "snapshot":
                    final = data
                    finished = {
                        s["name"] for s in data["steps"] if s["status"] in ("done", "skipped")
                    }
                    if data["status"] in until:
                        break
                elif event == "step":
                    if data["status"] in ("done", "skipped"):
                        finished.add(data["step"])
                    label = (
                        data["step"]
                        if data["status"] == "running"
                        else f"{data['step']} {data['status']}"
                    )
                    retry = f" (retry {data['retries']})" if data.get("retries") else ""
                    progress.update(task, description=f"{instance['id']} {label}{retry}")
                elif event == "status" and data["status"] in until:
                    break
                progress.update(task, completed=len(finished & set(steps)))
                if time.monotonic() - started > timeout:
                    goal = "gone" if until is UNTIL_GONE else "ready"
                    fail(
                        f"{instance['id']} is not {goal} after {timeout:g} s; see `democtl get {instance['id']}`"
                    )
            final = dict(client.json("GET", f"/api/v1/demo-instances/{instance['id']}"))
    except ClientError as exc:
        fail(exc.message)
    finally:
        client.close()
    return final


def report_ready(instance: dict[str, Any], elapsed: float) -> None:
    if instance["status"] != "ready":
        step = next((s for s in instance["steps"] if s["status"] == "failed"), None)
        fail(
            f"{instance['id']} {instance['status']}: {instance.get('error') or (step or {}).get('error')}"
        )
    out.print(f"[green]{instance['id']} ready in {elapsed:.1f} s[/green]")
    show_instance(instance)


@app.command("list")
def list_(
    status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
    scenario: Annotated[str | None, typer.Option(help="Only this scenario.")] = None,
    owner: Annotated[str | None, typer.Option(help="Only this owner.")] = None,
    limit: Annotated[int, typer.Option(help="Page size (1-500).")] = 50,
    cursor: Annotated[str | None, typer.Option(help="next_cursor of a previous page.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List demo environments, newest first."""
    params = {
        k: v
        for k, v in {
            "status": status,
            "scenario": scenario,
            "owner": owner,
            "limit": limit,
            "cursor": cursor,
        }.items()
        if v is not None
    }
    page = call("GET", "/api/v1/demo-instances", params=params)
    if emit(page, as_json):
        return
    table = Table("id", "status", "scenario", "owner", "prospect", "time left", "cost $")
    for column in (0, 1, 5):
        table.columns[column].no_wrap = True
    for item in page["items"]:
        left = "-"
        if item["status"] == "pending_approval":
            left = "on approval"
        elif item["status"] == "scheduled":
            left = "at its start"
        elif item["status"] not in ("deleted", "rejected", "failed"):
            seconds = (
                datetime.fromisoformat(item["expires_at"]) - datetime.now(UTC)
            ).total_seconds()
            left = format_span(seconds) if seconds > 0 else "expired"
        table.add_row(
            item["id"],
            item["status"],
            item["scenario"],
            item["owner"],
            (item.get("prospect") or {}).get("company", "-"),
            left,
            f"{item['cost']['accrued_usd']:.4f}",
        )
    out.print(table)
    if page["next_cursor"]:
        out.print(f"more: democtl list --cursor {page['next_cursor']}")


@app.command()
def get(instance_id: str, as_json: JsonOpt = False) -> None:
    """Show one demo environment with its URLs, personas and steps."""
    instance = call("GET", f"/api/v1/demo-instances/{instance_id}")
    if emit(instance, as_json):
        return
    show_instance(instance)
    table = Table("step", "status", "seconds", "retries", "message / error")
    for step in instance["steps"]:
        seconds = step["duration_seconds"]
        table.add_row(
            step["name"],
            step["status"],
            "-" if seconds is None else f"{seconds:.3f}",
            str(step["retries"]),
            step["error"] or step["message"] or "",
        )
    out.print(table)


@app.command()
def extend(
    instance_id: str,
    hours: Annotated[float, typer.Option(help="Hours to add.")] = 1.0,
    as_json: JsonOpt = False,
) -> None:
    """Give a demo more time (its total life stays within the cap)."""
    instance = call("POST", f"/api/v1/demo-instances/{instance_id}/extend", json={"hours": hours})
    if not emit(instance, as_json):
        out.print(f"{instance['id']} now expires {format_when(instance['expires_at'])}")


def _action(instance_id: str, action: str, as_json: bool, wait: bool = False) -> None:
    method = "DELETE" if action == "delete" else "POST"
    path = f"/api/v1/demo-instances/{instance_id}" + ("" if action == "delete" else f"/{action}")
    started = time.monotonic()
    instance = call(method, path)
    if wait:
        instance = wait_for(
            instance,
            started=started,
            timeout=600,
            quiet=as_json,
            until=UNTIL_GONE if action == "delete" else UNTIL_READY,
        )
    if not emit(instance, as_json):
        out.print(f"{instance['id']} {instance['status']}")


@app.command()
def reset(
    instance_id: str,
    wait: Annotated[bool, typer.Option(help="Wait until ready again.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Put a demo back to its pristine seeded data."""
    _action(instance_id, "reset", as_json, wait)


@app.command("rotate-links")
def rotate_links(
    instance_id: str,
    wait: Annotated[
        bool, typer.Option(help="Wait until the demo runs with the new links.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Replace every sign-in link of a demo: the old links and every session in it end."""
    _action(instance_id, "rotate-links", as_json, wait)


@app.command()
def sleep(instance_id: str, as_json: JsonOpt = False) -> None:
    """Stop a demo's processes, keeping its data; a request to it or `wake` starts it again."""
    _action(instance_id, "sleep", as_json)


@app.command()
def wake(instance_id: str, as_json: JsonOpt = False) -> None:
    """Start a sleeping demo again (its data kept)."""
    _action(instance_id, "wake", as_json)


@app.command()
def delete(
    instance_id: str,
    wait: Annotated[bool, typer.Option(help="Wait until it is gone.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Delete a demo and every resource it holds."""
    _action(instance_id, "delete", as_json, wait)


@app.command()
def logs(
    instance_id: str,
    service: Annotated[str | None, typer.Option(help="Service name (the first if unset).")] = None,
    tail: Annotated[int, typer.Option(help="Number of lines.")] = 200,
) -> None:
    """Print the last lines of a demo service's log."""
    client = Client()
    try:
        params: dict[str, Any] = {"tail": tail}
        if service:
            params["service"] = service
        text = client.request(
            "GET", f"/api/v1/demo-instances/{instance_id}/logs", params=params
        ).text
    except ClientError as exc:
        fail(exc.message)
    finally:
        client.close()
    sys.stdout.write(text)


@app.command()
def usage(
    since: Annotated[str | None, typer.Option("--from", help="Start (ISO date or time).")] = None,
    until: Annotated[str | None, typer.Option("--to", help="End (ISO date or time).")] = None,
    group_by: Annotated[str, typer.Option(help="owner, scenario or day.")] = "owner",
    as_json: JsonOpt = False,
) -> None:
    """Demo-hours and cost over a period."""
    params = {k: v for k, v in {"from": since, "to": until, "group_by": group_by}.items() if v}
    data = call("GET", "/api/v1/usage", params=params)
    if emit(data, as_json):
        return
    table = Table(group_by, "demos", "demo-hours", "cost $")
    for item in data["items"]:
        table.add_row(
            item["key"], str(item["demos"]), f"{item['demo_hours']:.2f}", f"{item['cost_usd']:.4f}"
        )
    totals = data["totals"]
    table.add_row(
        "total", str(totals["demos"]), f"{totals['demo_hours']:.2f}", f"{totals['cost_usd']:.4f}"
    )
    out.print(table)
