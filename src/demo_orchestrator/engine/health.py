"""Healing of ready demos whose services run but do not answer: health is HTTP, not a pid.

The reconciler's heal round first sends demos whose processes died back through their runtime
steps (a pid check). A demo whose processes all run is then probed over HTTP (each service's
health path, with a time-out): one that does not answer is hung, so its unanswering services are
stopped and the demo goes through its runtime steps again, which start them afresh. Restarts are
bounded: at most `DEMO_HEAL_RESTARTS`, the first at once, each later one after a back-off that
doubles from `DEMO_HEAL_SECONDS`. When they are used up and it still does not answer, the demo is
shown `degraded` with the reason (its status stays `ready`: it may answer again, and a person
decides) and no further restart is made; it is `ok` again as soon as a probe passes. The count
starts over once the last restart is longer ago than the whole back-off ladder and QUIET_ROUNDS
heal rounds (so a service that hangs again soon after each restart, however slowly it starts,
still runs out of restarts).

Every change of the health is an instance change (version, `health` event on the change feed),
so event streams and metrics see it like any other.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from demo_orchestrator.domain.errors import DemoError
from demo_orchestrator.engine.changes import SYSTEM, Audit, apply_change
from demo_orchestrator.engine.context import Context
from demo_orchestrator.engine.runner import Runner
from demo_orchestrator.engine.views import health_view
from demo_orchestrator.store import repository as repo
from demo_orchestrator.store.models import InstanceRow

log = logging.getLogger(__name__)

OK, DEGRADED = "ok", "degraded"
QUIET_ROUNDS = 10


class Healer:
    def __init__(self, ctx: Context, runner: Runner) -> None:
        self.ctx = ctx
        self.runner = runner

    def backoff(self, restarts: int) -> timedelta:
        """Wait before the restart after `restarts` earlier ones (none before the first)."""
        if restarts <= 0:
            return timedelta(0)
        return timedelta(seconds=self.ctx.settings.heal_seconds * 2 ** (restarts - 1))

    def check(self, instance_id: str) -> bool:
        """Probe one ready demo whose processes run; True when it was sent to be restarted."""
        try:
            health = self.ctx.runtime.probe(instance_id=instance_id)
        except DemoError as exc:  # the runtime cannot look now (a cluster away): judge later
            log.debug("%s: health not judged: %s", instance_id, exc.detail)
            return False
        now = self.ctx.clock()
        if health.healthy:
            self._answered(instance_id, now)
            return False
        limit = self.ctx.settings.heal_restarts
        with self.ctx.db.read() as session:
            row = repo.get_instance(session, instance_id)
            if row is None:
                return False
            restarts, last = row.health_restarts or 0, row.health_restarted_at
            degraded = row.health_state == DEGRADED
        if restarts >= limit and degraded:
            return False  # shown degraded already; no more restarts until it answers again
        if restarts >= limit:
            reason = (
                f"{health.detail}; restarted {restarts} time(s) without effect"
                if restarts
                else health.detail
            )
            self._set(instance_id, now, DEGRADED, reason)
            return False
        if last is not None and now < last + self.backoff(restarts):
            return False  # the back-off has not passed yet
        stopped = self.ctx.runtime.stop_unanswering(instance_id=instance_id)
        reason = f"{health.detail}; restart {restarts + 1} of {limit}"
        with self.ctx.db.write() as session:
            row = repo.get_instance(session, instance_id, lock=True)
            if row is None:
                return False
            row.health_restarts = restarts + 1
            row.health_restarted_at = now
        if not self.runner.rewind_for_heal(instance_id, reason):
            return False
        log.warning("%s: %s (stopped %s); starting it again", instance_id, reason, stopped)
        return True

    def _answered(self, instance_id: str, now: datetime) -> None:
        """A passing probe: `ok` again, and the restart count starts over after a quiet while."""
        with self.ctx.db.read() as session:
            row = repo.get_instance(session, instance_id)
            if row is None:
                return
            degraded = row.health_state == DEGRADED
            last, restarts = row.health_restarted_at, row.health_restarts or 0
        settings = self.ctx.settings
        window = max(
            self.backoff(settings.heal_restarts + 1),
            timedelta(seconds=QUIET_ROUNDS * settings.heal_seconds),
        )
        quiet = restarts and last is not None and now - last > window
        if degraded:
            self._set(instance_id, now, OK, None, reset=True)
        elif quiet:
            with self.ctx.db.write() as session:
                row = repo.get_instance(session, instance_id, lock=True)
                if row is not None:
                    row.health_restarts = 0

    def _set(
        self, instance_id: str, now: datetime, state: str, reason: str | None, reset: bool = False
    ) -> None:
        with self.ctx.db.write() as session:
            row = repo.get_instance(session, instance_id, lock=True)
            if row is None or (row.health_state == state and row.health_reason == reason):
                return
            fields: dict[str, Any] = {"health_reason": reason}
            if row.health_state != state:
                fields.update(health_state=state, health_since=now)
            if reset:
                fields["health_restarts"] = 0
            apply_change(
                session,
                row,
                now=now,
                event=("health", {"health": _view(row, fields)}),
                audit=Audit(SYSTEM, f"health.{state}", detail={"reason": reason}),
                **fields,
            )
        if state == DEGRADED:
            log.warning("%s: degraded: %s", instance_id, reason)


def _view(row: InstanceRow, fields: dict[str, Any]) -> dict[str, Any]:
    state = str(fields.get("health_state", row.health_state))
    since = fields.get("health_since", row.health_since or row.created_at)
    assert isinstance(since, datetime)
    reason = fields.get("health_reason")
    return health_view(
        state,
        reason if isinstance(reason, str) else None,
        since.isoformat().replace("+00:00", "Z"),
    )
