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
from typing import Any, Protocol

from sqlalchemy.orm import Session

from demo_orchestrator.domain.instance import Status, StepStatus, check_transition
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


class Actor(Protocol):
    """Who did something: a principal's name and where the request came from."""

    @property
    def name(self) -> str: ...

    @property
    def source(self) -> str | None: ...


def audit_by(
    session: Session,
    who: Actor,
    action: str,
    *,
    now: datetime,
    detail: dict[str, Any] | None = None,
    instance_id: str | None = None,
) -> None:
    """An audit entry of what a person did beside any change of an instance (accounts,
    subscriptions, templates), in the caller's transaction."""
    repo.add_audit(
        session,
        at=now,
        actor=who.name,
        action=action,
        instance_id=instance_id,
        source=who.source,
        detail=detail,
    )


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
    wants = "desired" in fields and fields["desired"] != row.desired
    for key, value in fields.items():
        setattr(row, key, value)
    if wants:  # on the feed too: the router stops sending requests to a demo asked to sleep
        repo.add_event(session, row.id, "desired", {"desired": row.desired}, now)
    if moves:
        assert status is not None
        was = row.status
        row.status = status.value
        data = {"status": row.status, "error": row.error, "scenario": row.scenario, "from": was}
        repo.add_event(session, row.id, "status", data, now)
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
    """Record a step's progress and publish it on the change feed.

    When the change ends an attempt of the step, the event also says how (`outcome`: success,
    failure, retry or skipped) and, for a step that ran, how long it took since it started
    (`duration_seconds`), so the metrics read them from the feed like any other consumer.
    """
    was_status, was_retries = step.status, step.retries or 0
    for key, value in fields.items():
        setattr(step, key, value)
    data: dict[str, Any] = {
        "step": step.name,
        "status": step.status,
        "retries": step.retries,
        "message": step.message,
        "error": step.error,
    }
    outcome = _outcome(was_status, was_retries, step)
    if outcome is not None:
        data["outcome"] = outcome
        timed = step.status == StepStatus.RUNNING.value if outcome == "retry" else True
        if step.started_at is not None and timed:
            end = now if outcome == "retry" else (step.finished_at or now)
            data["duration_seconds"] = max(0.0, (end - step.started_at).total_seconds())
    repo.add_event(session, step.instance_id, "step", data, now)


_OUTCOMES = {
    StepStatus.DONE.value: "success",
    StepStatus.FAILED.value: "failure",
    StepStatus.SKIPPED.value: "skipped",
}


def _outcome(was_status: str, was_retries: int, step: StepRow) -> str | None:
    """How this change ends an attempt of the step, or None when it ends none. A retry of a
    running step is timed from the step's start; one met while undoing it is not timed."""
    if step.status != was_status and step.status in _OUTCOMES:
        return _OUTCOMES[step.status]
    if (step.retries or 0) > was_retries:
        return "retry"
    return None


def record_orphan(
    session: Session, instance_id: str, *, kind: str, provider: str, removed: bool, now: datetime
) -> None:
    """The orphan sweep found what a provider holds for an instance the store does not know as
    live (and removed it, or could not): an event of that instance id on the change feed."""
    data = {"kind": kind, "provider": provider, "removed": removed}
    repo.add_event(session, instance_id, "orphan", data, now)
