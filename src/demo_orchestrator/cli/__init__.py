"""`democtl`: runs the server (`serve`, `db upgrade`) and talks to it over the REST API.

Each client command parses its options, makes one API call through `client.Client` and prints the
result (a table, or JSON with `--json`). Errors are one line on stderr with a non-zero exit code.
"""

from __future__ import annotations

from demo_orchestrator.cli import (  # noqa: F401 - they register
    accounts,
    doctor,
    instances,
    render,
    server,
    shares,
    templates,
)
from demo_orchestrator.cli.app import app


def main() -> None:
    app()


__all__ = ["app", "main"]
