"""Walks one instance's stored plan: provisioning, reset and teardown, one attempt at a time.

An attempt runs steps until the plan is done, until a step must wait (`NotReady`: nothing is
persisted, the worker is freed and the reconciler calls again after a short delay), until a step
fails for a while (`TemporaryError`: the retry date is stored with the instance and the worker is
freed), or until a step fails for good (the plan is undone in reverse and the instance is
`failed`). Progress is persisted step by step, so an attempt after a crash resumes at the first
unfinished step; steps are idempotent, so repeating the one that was running is safe. The plan
walked is the one stored with the instance, whatever steps this version would plan today.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from demo_orchestrator.domain.errors import DemoError, NotReady, TemporaryError
from demo_orchestrator.domain.instance import (
    FINISHED,
    NOTHING_TO_UNDO,
    Desired,
    Status,
    StepStatus,
    backoff,
)
from demo_orchestrator.engine.changes import SYSTEM, Audit, apply_change, apply_step
from demo_orchestrator.engine.context import Context
from demo_orchestrator.engine.faults import FaultInjector
from demo_orchestrator.engine.plan import Plans, SkipStep, StepDef
from demo_orchestrator.engine.work import Work
from demo_orchestrator.providers.base import Outputs
from demo_orchestrator.store import repository as repo
from demo_orchestrator.store.models import InstanceRow

log = logging.getLogger(__name__)

StepUpdate = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class Outcome:
    """How an attempt ended: done, retry (at a stored date), poll (soon), failed or gone."""

    kind: str
    at: datetime | None = None


DONE = Outcome("done")
FAILED = Outcome("failed")
GONE = Outcome("gone")


class Aborted(Exception):
    """The instance changed under the attempt (deleted while provisioning, or vanished)."""


class Runner:
    def __init__(self, ctx: Context, plans: Plans, faults: FaultInjector) -> None:
        self.ctx = ctx
        self.plans = plans
        self.faults = faults
        # (instance, step) -> (first NotReady, polls so far); in memory: a restart waits afresh.
        self._polls: dict[tuple[str, str], tuple[datetime, int]] = {}

    def forget(self, instance_id: str) -> None:
        for key in [k for k in self._polls if k[0] == instance_id]:
            self._polls.pop(key, None)

    # -- provisioning --------------------------------------------------------------------------

    def provision(self, instance_id: str) -> Outcome:
        row, steps = self.load(instance_id)
        if row.desired == Desired.DELETED.value:
            raise Aborted(instance_id)
        if (
            row.generation != row.applied_generation
            and (row.outputs or {}).get("reset") != row.generation
        ):
            outcome = self._reset(row, steps)
            if outcome is not None:
                return outcome
            row, steps = self.load(instance_id)
        work = Work(self.ctx, row)
        updates: list[StepUpdate] = []
        index = self._next(steps, 0, work, row.id, updates)
        start: dict[str, Any] = {}
        if row.status != Status.PROVISIONING.value:
            now = self.ctx.clock()
            start = {"status": Status.PROVISIONING, "started_at": row.started_at or now}
            start["error"] = None
        if updates or start or row.next_attempt_at is not None:
            row = self.record(instance_id, updates, next_attempt_at=None, **start)
        while index < len(steps):
            step = steps[index]
            result = self._attempt(row, step.name, step.provider, step.retries, steps, work)
            if isinstance(result, Outcome):
                return result
            status, outputs = result
            work.absorb(step.name, outputs)
            updates = [(step.name, self._finished(status, outputs))]
            index = self._next(steps, index + 1, work, row.id, updates)
            fields = work.stored()
            if index == len(steps):
                fields.update(
                    status=Status.READY,
                    ready_at=self.ctx.clock(),
                    applied_generation=row.generation,
                    error=None,
                )
            step_def = self.plans.get(step.name)
            event = None
            if step_def is not None and step_def.publishes and outputs.state:
                event = (step_def.publishes, dict(outputs.state))
            row = self.record(instance_id, updates, event=event, **fields)
            if index < len(steps) and row.desired == Desired.DELETED.value:
                raise Aborted(instance_id)
        self.forget(instance_id)
        return DONE

    def _next(
        self,
        steps: list[repo.StepRecord],
        start: int,
        work: Work,
        iid: str,
        updates: list[StepUpdate],
    ) -> int:
        """Index of the next step to run from `start`, recording skips and marking it running."""
        for index in range(start, len(steps)):
            step = steps[index]
            if StepStatus(step.status) in FINISHED:
                continue
            step_def = self.plans.get(step.name)
            reason = None
            if step_def is not None and step_def.skip is not None:
                try:
                    reason = step_def.skip(work.run_for(step_def, step.provider, iid))
                except DemoError:
                    reason = None  # the attempt itself reports it
            if reason:
                now = self.ctx.clock()
                updates.append(
                    (
                        step.name,
                        {
                            "status": StepStatus.SKIPPED.value,
                            "started_at": now,
                            "finished_at": now,
                            "message": reason,
                            "error": None,
                        },
                    )
                )
                continue
            if step.status != StepStatus.RUNNING.value:
                updates.append(
                    (
                        step.name,
                        {
                            "status": StepStatus.RUNNING.value,
                            "started_at": self.ctx.clock(),
                            "finished_at": None,
                            "error": None,
                            "message": None,
                        },
                    )
                )
            return index
        return len(steps)

    def _finished(self, status: StepStatus, outputs: Outputs) -> dict[str, Any]:
        return {
            "status": status.value,
            "finished_at": self.ctx.clock(),
            "message": outputs.message or None,
            "error": None,
        }

    def _attempt(
        self,
        row: InstanceRow,
        name: str,
        provider: str | None,
        retries: int,
        steps: list[repo.StepRecord],
        work: Work,
    ) -> tuple[StepStatus, Outputs] | Outcome:
        step_def = self.plans.get(name)
        if step_def is None:
            return self._fail(
                row.id, name, f"step {name!r} is not known to this version of the orchestrator"
            )
        key = (row.id, name)
        try:
            run = work.run_for(step_def, provider, row.id)
            self.faults.check(name)
            result = step_def.ensure(run)
        except SkipStep as skip:
            self._polls.pop(key, None)
            return StepStatus.SKIPPED, Outputs(message=str(skip))
        except NotReady as exc:
            outcome = self._poll(row.id, name, exc)
            if outcome is not None:
                return outcome
            return self._retry(row, step_def, retries, steps, self._gave_up_waiting(exc))
        except TemporaryError as exc:
            self._polls.pop(key, None)
            return self._retry(row, step_def, retries, steps, exc)
        except DemoError as exc:
            return self._fail(row.id, name, exc.detail, retries)
        except Exception as exc:  # a provider bug must not kill the engine
            log.exception("%s: step %s crashed", row.id, name)
            return self._fail(row.id, name, f"unexpected {type(exc).__name__}: {exc}", retries)
        self._polls.pop(key, None)
        return StepStatus.DONE, result

    def _poll(self, instance_id: str, name: str, exc: NotReady) -> Outcome | None:
        """Ask again soon, or None when the step has waited longer than it may."""
        now = self.ctx.clock()
        since, count = self._polls.get((instance_id, name), (now, 0))
        limit = exc.timeout if exc.timeout is not None else self.ctx.settings.health_timeout_seconds
        if (now - since).total_seconds() > limit:
            self._polls.pop((instance_id, name), None)
            return None
        self._polls[(instance_id, name)] = (since, count + 1)
        if count == 0:
            self.record(instance_id, [(name, {"message": exc.detail})])
        delay = min(exc.delay * 1.5**count, max(exc.delay * 10, 0.1))
        return Outcome("poll", at=now + timedelta(seconds=delay))

    def _gave_up_waiting(self, exc: NotReady) -> TemporaryError:
        limit = exc.timeout if exc.timeout is not None else self.ctx.settings.health_timeout_seconds
        return TemporaryError(f"{exc.detail}; still not ready after {limit:g} s")

    def _retry(
        self,
        row: InstanceRow,
        step_def: StepDef,
        retries: int,
        steps: list[repo.StepRecord],
        exc: TemporaryError,
    ) -> Outcome:
        attempt = retries + 1
        if attempt > self.ctx.settings.step_retries:
            detail = f"{exc.detail} (gave up after {retries} retries)"
            return self._fail(row.id, step_def.name, detail, retries)
        delay = backoff(
            attempt,
            base=self.ctx.settings.retry_base_seconds,
            floor=exc.delay,
            jitter=self.ctx.random.random(),
        )
        at = self.ctx.clock() + timedelta(seconds=delay)
        updates: list[StepUpdate] = [(step_def.name, {"retries": attempt, "error": exc.detail})]
        if step_def.rewind_to is not None:
            names = [s.name for s in steps]
            if step_def.rewind_to in names:
                first, last = names.index(step_def.rewind_to), names.index(step_def.name)
                for step in steps[first : last + 1]:
                    updates.append((step.name, {"status": StepStatus.PENDING.value}))
        self.record(row.id, updates, next_attempt_at=at)
        log.info(
            "%s: step %s failed (%s); retry %d in %.2fs",
            row.id,
            step_def.name,
            exc.detail,
            attempt,
            delay,
        )
        return Outcome("retry", at=at)

    def _fail(self, instance_id: str, name: str, detail: str, retries: int = 0) -> Outcome:
        self.forget(instance_id)
        failed = {
            "status": StepStatus.FAILED.value,
            "finished_at": self.ctx.clock(),
            "error": detail,
            "retries": retries,
        }
        self.record(instance_id, [(name, failed)])
        return self.teardown(instance_id, final=Status.FAILED, error=f"{name}: {detail}")

    # -- healing -------------------------------------------------------------------------------

    def rewind_for_heal(self, instance_id: str, reason: str) -> bool:
        """A ready demo whose services died goes back to provisioning from its first runtime
        step (the runtime starts what is not running). False when it is no longer ready."""
        now = self.ctx.clock()
        with self.ctx.db.write() as session:
            row = repo.get_instance(session, instance_id, lock=True)
            if (
                row is None
                or row.status != Status.READY.value
                or row.desired != Desired.READY.value
            ):
                return False
            steps = repo.step_rows(session, instance_id)
            first = self.plans.first_of_slot([s.name for s in steps], "runtime")
            if first is None:
                return False
            names = [s.name for s in steps]
            for step in steps[names.index(first) :]:
                if step.status == StepStatus.DONE.value:
                    apply_step(session, step, now=now, status=StepStatus.PENDING.value)
            apply_change(
                session,
                row,
                now=now,
                status=Status.PROVISIONING,
                event=("heal", {"reason": reason}),
                audit=Audit(SYSTEM, "heal", detail={"reason": reason}),
            )
        return True

    # -- reset ---------------------------------------------------------------------------------

    def _reset(self, row: InstanceRow, steps: list[repo.StepRecord]) -> Outcome | None:
        """Bring every resource back to pristine, then send the whole plan round again."""
        for step in reversed(steps):
            step_def = self.plans.get(step.name)
            if step_def is None or step_def.reset is None:
                continue
            if StepStatus(step.status) in NOTHING_TO_UNDO:
                continue
            try:
                provider = (
                    self.ctx.provider_for(step_def.slot, step.provider) if step_def.slot else None
                )
                step_def.reset(provider, row.id)
            except TemporaryError as exc:
                return self._retry(row, step_def, step.retries, steps, exc)
            except DemoError as exc:
                return self._fail(row.id, step.name, f"reset failed: {exc.detail}", step.retries)
        pristine = {
            "status": StepStatus.PENDING.value,
            "retries": 0,
            "error": None,
            "message": None,
            "started_at": None,
            "finished_at": None,
        }
        self.record(
            row.id,
            [(s.name, pristine) for s in steps],
            outputs={"reset": row.generation},
            event=("reset", {"generation": row.generation}),
        )
        return None

    # -- teardown ------------------------------------------------------------------------------

    def teardown(self, instance_id: str, *, final: Status, error: str | None = None) -> Outcome:
        """Undo the stored plan in reverse; `final` is deleted (asked for) or failed."""
        row, steps = self.load(instance_id)
        self.forget(instance_id)
        if final == Status.DELETED and row.status != Status.DELETING.value:
            self.record(instance_id, [], status=Status.DELETING)
        undone: list[StepUpdate] = []
        for step in reversed(steps):
            if StepStatus(step.status) in NOTHING_TO_UNDO:
                continue
            step_def = self.plans.get(step.name)
            if step_def is None:
                log.warning(
                    "%s: step %s is unknown to this version; nothing undone", row.id, step.name
                )
                undone.append((step.name, _torn_down("unknown to this version: nothing undone")))
                continue
            try:
                if step_def.undo is not None:
                    provider = (
                        self.ctx.provider_for(step_def.slot, step.provider)
                        if step_def.slot
                        else None
                    )
                    step_def.undo(provider, instance_id)
            except TemporaryError as exc:
                if final == Status.DELETED:
                    # Resources must go: retry for as long as it takes, never give up.
                    return self.retry_undo(instance_id, step.name, step.retries, undone, exc)
                # A failed demo is not live: the orphan sweep removes this once the server
                # answers again; the demo must not stay `provisioning` and be retried forever.
                log.warning("%s: %s left for the orphan sweep: %s", row.id, step.name, exc.detail)
                continue
            except DemoError as exc:
                log.warning("%s: cannot undo %s: %s", row.id, step.name, exc.detail)
                undone.append((step.name, _torn_down(f"left for the orphan sweep: {exc.detail}")))
                continue
            except Exception as exc:
                log.exception("%s: undo of %s crashed", row.id, step.name)
                detail = f"left for the orphan sweep: unexpected {type(exc).__name__}"
                undone.append((step.name, _torn_down(detail)))
                continue
            if step.status in (StepStatus.DONE.value, StepStatus.RUNNING.value):
                undone.append((step.name, _torn_down(None)))  # failed and pending ones keep theirs
        fields: dict[str, Any] = {
            "ended_at": self.ctx.clock(),
            "outputs": {},
            "next_attempt_at": None,
        }
        if error is not None:
            fields["error"] = error
        if final == Status.DELETED:
            fields["secrets"] = None
        self.record(instance_id, undone, status=final, **fields)
        return GONE if final == Status.DELETED else FAILED

    def retry_undo(
        self,
        instance_id: str,
        name: str,
        retries: int,
        undone: list[StepUpdate],
        exc: TemporaryError,
    ) -> Outcome:
        attempt = retries + 1
        delay = backoff(
            attempt,
            base=self.ctx.settings.retry_base_seconds,
            floor=exc.delay,
            jitter=self.ctx.random.random(),
        )
        at = self.ctx.clock() + timedelta(seconds=delay)
        failing = (name, {"retries": attempt, "error": f"teardown: {exc.detail}"})
        self.record(instance_id, [*undone, failing], next_attempt_at=at)
        log.info(
            "%s: teardown of %s failed (%s); retry in %.2fs", instance_id, name, exc.detail, delay
        )
        return Outcome("retry", at=at)

    # -- persistence ---------------------------------------------------------------------------

    def load(self, instance_id: str) -> tuple[InstanceRow, list[repo.StepRecord]]:
        with self.ctx.db.read() as session:
            row = repo.get_instance(session, instance_id)
            if row is None:
                raise Aborted(instance_id)
            return row, repo.steps_of(session, [instance_id])[instance_id]

    def record(
        self,
        instance_id: str,
        steps: list[StepUpdate],
        *,
        status: Status | None = None,
        event: tuple[str, dict[str, Any]] | None = None,
        audit: Audit | None = None,
        **fields: Any,
    ) -> InstanceRow:
        """One transaction: step progress, then the instance change (status checked)."""
        now = self.ctx.clock()
        with self.ctx.db.write() as session:
            row = repo.get_instance(session, instance_id, lock=True)
            if row is None:
                raise Aborted(instance_id)
            if steps:
                rows = {s.name: s for s in repo.step_rows(session, instance_id)}
                for name, update in steps:
                    if name in rows:
                        apply_step(session, rows[name], now=now, **update)
            apply_change(session, row, now=now, status=status, event=event, audit=audit, **fields)
            return row


def _torn_down(message: str | None) -> dict[str, Any]:
    return {"status": StepStatus.TORN_DOWN.value, "message": message}
