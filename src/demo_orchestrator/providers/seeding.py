"""Runs a blueprint's migrate and seed commands against one database URL.

Every database provider builds its seeded data the same way (the SQLite template file, the
PostgreSQL template database, a Supabase project), so the command running lives here once. The
commands get a minimal environment (never the orchestrator's own, which holds its tokens) plus
`DATABASE_URL`; a failure becomes a `PermanentError` with the last lines of stderr, scrubbed of
the database password.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from demo_orchestrator.domain.blueprint import Blueprint, Scenario
from demo_orchestrator.domain.errors import PermanentError
from demo_orchestrator.providers.base import InstanceSpec
from demo_orchestrator.providers.ownership import scrub
from demo_orchestrator.providers.processes import PASSED_THROUGH

SEED_TIMEOUT_SECONDS = 600


def run_data_commands(
    blueprint: Blueprint,
    scenario: Scenario,
    *,
    database_url: str,
    cwd: Path,
    secret: str | None = None,
    extra_env: dict[str, str] | None = None,
    instance_id: str = "template",
) -> None:
    """Run migrate then seed with DATABASE_URL set; raise PermanentError on any failure."""
    spec = InstanceSpec(instance_id=instance_id, blueprint=blueprint, scenario=scenario)
    env = {k: os.environ[k] for k in PASSED_THROUGH if k in os.environ}
    env.update({"DATABASE_URL": database_url, "HOME": str(cwd)})
    env.update(extra_env or {})
    for label, template in (("migrate", blueprint.data.migrate), ("seed", blueprint.data.seed)):
        if not template:
            continue
        command = spec.fill(template)
        try:
            result = subprocess.run(
                command,
                env=env,
                cwd=cwd,
                capture_output=True,
                timeout=SEED_TIMEOUT_SECONDS,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PermanentError(
                f"{label} of scenario {scenario.name} failed: {scrub(str(exc), secret)}"
            ) from exc
        if result.returncode != 0:
            tail = result.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
            raise PermanentError(
                f"{label} of scenario {scenario.name} exited {result.returncode}: "
                + scrub(" | ".join(tail) or "no output", secret, database_url)
            )
