"""`democtl render`: every object of one demo as YAML, with no cluster, server or store.

The operator's dry run of the kubernetes runtime, like `helm template`: parse the options, call
`providers.kubernetes.dry_run`, print. Errors are one line on stderr, exit code 2 for bad input
and 1 when rendering fails.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from demo_orchestrator.cli.app import app, fail


@app.command()
def render(
    instance_id: Annotated[
        str, typer.Option("--id", help="Instance id: demo- and 6 lowercase letters or digits.")
    ] = "",
    scenario: Annotated[
        str | None, typer.Option(help="Scenario (the blueprint's default when omitted).")
    ] = None,
    values: Annotated[
        list[Path] | None,
        typer.Option("--values", "-f", help="Extra values for the demo chart (repeatable)."),
    ] = None,
    hours: Annotated[
        float, typer.Option(help="Hours until the demo expires (its janitor/expires).")
    ] = 2.0,
    show_secrets: Annotated[
        bool, typer.Option("--show-secrets", help="Print Secret values instead of <redacted>.")
    ] = False,
) -> None:
    """Print every object of one demo as multi-document YAML (DEMO_RUNTIME=kubernetes)."""
    from demo_orchestrator.domain.errors import BadRequest, DemoError
    from demo_orchestrator.providers.kubernetes.dry_run import dry_run

    if not instance_id:
        fail("give the demo's id: --id demo-xxxxxx", 2)
    try:
        text = dry_run(
            scenario=scenario,
            instance_id=instance_id,
            values=values or [],
            hours=hours,
            show_secrets=show_secrets,
        )
    except BadRequest as exc:
        fail(exc.detail, 2)
    except DemoError as exc:
        fail(exc.detail)
    sys.stdout.write(text)
