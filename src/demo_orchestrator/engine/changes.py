"""The one way to change an instance or one of its steps.

Every change of an instance goes through `apply_change`: the state machine is checked (every
status change, whoever asks: the API, the engine, healing, expiry), the version goes up, the
change becomes an event of the change feed and, when someone asked for it, an audit entry. Step
progress goes through `apply_step`, which also feeds the change feed. Callers pass the session of
their transaction, so a change and its event commit together or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from demo_orchestrator.domain.instance import Status, check_transition
from demo_orchestrator.store import repository as repo
from demo_orchestrator.store.models import InstanceRow, StepRow


@dataclass(frozen=True)
class Audit:
    """Who asked for a change, recorded in the audit log beside it."""

    actor: str
    action: str
    source: str | None = None
    detail: dict[str, Any] | None = None


SYSTEM = "system"


def apply_change(
    session: Session,
    row: InstanceRow,
    *,
    now: datetime,
    status: Status | None = None,
    event: tuple[str, dict[str, Any]] | None = None,
    audit: Audit | None = None,
    **fields: Any,
) -> None:
    """Change `row`: status (checked), other fields, version, feed event(s), audit entry."""
    moves = status is not None and status.value != row.status
    if moves:
        assert status is not None
        check_transition(Status(row.status), status)
    for key, value in fields.items():
        setattr(row, key, value)
    if moves:
        assert status is not None
        row.status = status.value
        repo.add_event(session, row.id, "status", {"status": row.status, "error": row.error}, now)
    row.version += 1
    if event is not None:
        repo.add_event(session, row.id, event[0], event[1], now)
    if audit is not None:
        repo.add_audit(
            session,
            at=now,
            actor=audit.actor,
            action=audit.action,
            instance_id=row.id,
            source=audit.source,
            detail=audit.detail,
        )


def apply_step(session: Session, step: StepRow, *, now: datetime, **fields: Any) -> None:
    """Record a step's progress and publish it on the change feed."""
    for key, value in fields.items():
        setattr(step, key, value)
    repo.add_event(
        session,
        step.instance_id,
        "step",
        {
            "step": step.name,
            "status": step.status,
            "retries": step.retries,
            "message": step.message,
            "error": step.error,
        },
        now,
    )
