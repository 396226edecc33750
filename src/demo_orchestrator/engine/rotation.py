"""Rotating a demo's sign-in links: a new login secret, applied to the running demo.

Every one-click link (each persona's `login_url`, the rep's `rep_login_url`) is an HMAC under the
demo's login secret, and the demo ties its sessions to that secret; so a new secret replaces
every link and ends every session at once. The new secret is sealed in the store with the
instance's other secrets, and the instance's runtime steps run again (as for a warm-pool claim
with a prospect): the local runtime sees a new environment and applies it in place to services
that reload (the reference stack rebuilds its sessions' generation without a restart) and
restarts the others. A runtime that cannot do this names `rotate-links` in its `refuses`.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from demo_orchestrator.domain.errors import Conflict
from demo_orchestrator.domain.instance import Desired, Status, StepStatus
from demo_orchestrator.engine.changes import apply_step
from demo_orchestrator.engine.context import Context
from demo_orchestrator.engine.plan import Plans
from demo_orchestrator.store import repository as repo
from demo_orchestrator.store.models import InstanceRow

ACTION = "rotate-links"


def rotated(
    ctx: Context, plans: Plans, session: Session, row: InstanceRow, now: datetime
) -> dict[str, Any]:
    """The fields of `row` after a rotation, its runtime steps set to run again; 409 unless the
    demo is ready (a demo being made or reset gets its links when it is ready; a sleeping one
    must be woken first, so that the rotation is confirmed by a running demo)."""
    if row.status != Status.READY.value or row.desired != Desired.READY.value:
        raise Conflict(
            f"{row.id} is {row.status}; sign-in links can be rotated on a ready demo "
            f"(wake a sleeping one first, or wait until it is ready)"
        )
    sealed = ctx.box.open(row.secrets)
    secret = secrets.token_hex(32)
    env = {**sealed.get("env", {}), "DEMO_LOGIN_SECRET": secret}
    steps = repo.step_rows(session, row.id)
    names = [s.name for s in steps]
    first = plans.first_of_slot(names, "runtime")
    for step in steps[names.index(first) :] if first is not None else []:
        if step.status == StepStatus.DONE.value:
            apply_step(session, step, now=now, status=StepStatus.PENDING.value)
    return {
        "status": Status.PROVISIONING,
        "secrets": ctx.box.seal({**sealed, "login_secret": secret, "env": env}),
        "event": (ACTION, {}),
    }
