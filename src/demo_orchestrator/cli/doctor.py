"""`democtl doctor`: checks this deployment's isolation assumptions, locally.

It reads the server's own settings (the same `DEMO_*` environment as `serve`) and talks to the
data servers directly, not through the API, so it also works before the first start and on a
server that refuses to start. One line per finding, with its fix; exit code 1 when one fails.
"""

from __future__ import annotations

from dataclasses import asdict

import typer
from rich.markup import escape

from demo_orchestrator.cli.app import JsonOpt, app, emit, fail, out

COLOURS = {"ok": "green", "warn": "yellow", "fail": "red"}


@app.command()
def doctor(as_json: JsonOpt = False) -> None:
    """Check that PostgreSQL, Redis, RabbitMQ and DEMO_HOME enforce what demo isolation needs."""
    from pydantic import ValidationError

    from demo_orchestrator.domain.errors import DemoError
    from demo_orchestrator.engine.doctor import format_finding, run_doctor
    from demo_orchestrator.settings import Settings

    try:
        report = run_doctor(Settings())
    except ValidationError as exc:
        first = exc.errors()[0]
        fail(f"setting DEMO_{str(first['loc'][0]).upper()} {first['msg']}")
    except DemoError as exc:
        fail(exc.detail)
    if not emit({"findings": [asdict(f) for f in report.findings]}, as_json):
        for finding in report.findings:
            line = format_finding(finding)
            colour = COLOURS[finding.level]
            out.print(
                f"[{colour}]{line[:4]}[/{colour}]{escape(line[4:])}", markup=True, soft_wrap=True
            )
    if report.failed:
        raise typer.Exit(1)
