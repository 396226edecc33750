"""Sleep and wake: a sleeping demo keeps its data and gives back its processes.

Sleeping undoes the runtime steps of the instance's stored plan (its services stop; database,
cache and broker stay) and rewinds them to pending; waking sends the instance back to
provisioning, where exactly those steps run again. Both are changes of the one kind
(`apply_change`), and the time asleep is kept on the instance (and as a row per sleep, for usage
over a period), so sleeping hours bill at the blueprint's sleeping rate.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from demo_orchestrator.domain.errors import DemoError, TemporaryError
from demo_orchestrator.domain.instance import NOTHING_TO_UNDO, Desired, Status, StepStatus
from demo_orchestrator.engine.changes import SYSTEM, Audit, apply_change, apply_step
from demo_orchestrator.engine.runner import DONE, Outcome, Runner, StepUpdate
from demo_orchestrator.store import repository as repo
from demo_orchestrator.store import sleeps

log = logging.getLogger(__name__)

RUNTIME = "runtime"


class Sleeper:
    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self.ctx = runner.ctx

    def sleep(self, instance_id: str) -> Outcome:
        """Stop what the runtime steps made and rewind them; the instance becomes `sleeping`."""
        row, steps = self.runner.load(instance_id)
        if row.status != Status.READY.value or row.desired != Desired.SLEEPING.value:
            return DONE
        names = [s.name for s in steps]
        first = self.runner.plans.first_of_slot(names, RUNTIME)
        rewound: list[StepUpdate] = []
        for step in reversed(steps[names.index(first) :] if first is not None else []):
            step_def = self.runner.plans.get(step.name)
            if step_def is None or StepStatus(step.status) in NOTHING_TO_UNDO:
                continue
            stop = step_def.suspend or step_def.undo
            if stop is not None:
                try:
                    provider = self.ctx.provider_for(step_def.slot or RUNTIME, step.provider)
                    stop(provider, instance_id)
                except TemporaryError as exc:
                    return self.runner.retry_undo(instance_id, step.name, step.retries, [], exc)
                except DemoError as exc:
                    log.warning("%s: cannot stop %s for sleep: %s", instance_id, step.name, exc)
                    return DONE  # stays ready; the next attempt tries again
            rewound.append((step.name, {"status": StepStatus.PENDING.value, "message": "asleep"}))
        now = self.ctx.clock()
        with self.ctx.db.write() as session:
            fresh = repo.get_instance(session, instance_id, lock=True)
            if fresh is None or fresh.desired != Desired.SLEEPING.value:
                return DONE  # woken (or deleted) while stopping: the next attempt restarts it
            self._rewind(session, instance_id, rewound, now)
            sleeps.start_sleep(session, instance_id, now)
            apply_change(
                session,
                fresh,
                now=now,
                status=Status.SLEEPING,
                sleeping_since=now,
                next_attempt_at=None,
            )
        return DONE

    def wake(self, instance_id: str) -> None:
        """Back to provisioning: the rewound runtime steps run again; the sleep is closed."""
        now = self.ctx.clock()
        with self.ctx.db.write() as session:
            row = repo.get_instance(session, instance_id, lock=True)
            if row is None or row.status != Status.SLEEPING.value:
                return
            slept = row.slept_seconds or 0.0
            if row.sleeping_since is not None:
                slept += max(0.0, (now - row.sleeping_since).total_seconds())
            sleeps.end_sleep(session, instance_id, now)
            apply_change(
                session,
                row,
                now=now,
                status=Status.PROVISIONING,
                slept_seconds=slept,
                sleeping_since=None,
            )

    def idle(self, busy: set[str]) -> list[str]:
        """Put to sleep the ready demos nobody has used for `DEMO_IDLE_MINUTES`."""
        minutes = self.ctx.settings.idle_minutes
        runtime = self.ctx.runtime
        if minutes <= 0 or "sleep" in runtime.refuses or not runtime.sees_traffic:
            return []
        now = self.ctx.clock()
        with self.ctx.db.read() as session:
            idle = sleeps.idle_ids(session, quiet_since=now - timedelta(minutes=minutes))
        asleep = []
        for instance_id in sorted(set(idle) - busy):
            with self.ctx.db.write() as session:
                row = repo.get_instance(session, instance_id, lock=True)
                if (
                    row is None
                    or row.status != Status.READY.value
                    or row.desired != Desired.READY.value
                ):
                    continue
                apply_change(
                    session,
                    row,
                    now=now,
                    desired=Desired.SLEEPING.value,
                    audit=Audit(SYSTEM, "sleep", detail={"reason": f"idle for {minutes:g} min"}),
                )
            asleep.append(instance_id)
        return asleep

    @staticmethod
    def _rewind(
        session: Session, instance_id: str, updates: list[StepUpdate], now: datetime
    ) -> None:
        rows = {s.name: s for s in repo.step_rows(session, instance_id)}
        for name, update in updates:
            if name in rows:
                apply_step(session, rows[name], now=now, **update)
