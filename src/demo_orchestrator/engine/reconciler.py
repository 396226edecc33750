"""The level-triggered reconciler: drives every instance towards its desired state.

A loop thread scans the store every `DEMO_TICK_SECONDS`, whenever `wake()` is called (the API
calls it after recording intent) and when a stored retry date comes due. Each scan lists the
instances whose observed state differs from the desired one (or that expired), claims each with a
lease in the store (so several replicas never work on one instance at once) and hands it to a
worker for one attempt of its plan. An attempt never sleeps: a step that must wait for something
(a process starting) frees the worker and is called again after a short delay, keeping its lease;
a step that failed for a while stores its retry date and releases the lease. Leases are renewed
while held; a lease left by a dead process of this host is taken over at once, one of another host
when it lapses. Every `DEMO_SWEEP_SECONDS` the orphan sweep deletes what any provider holds for an
instance the store does not know as live; every `DEMO_HEAL_SECONDS` ready demos whose processes
died, or that do not answer their health path over HTTP, are sent back through their plan's
runtime steps (health.py bounds the restarts of hung ones, then shows them `degraded`).

The executor is injectable: tests pass one that runs work inline and drive `tick()` by hand with a
fake clock, so every timing decision here is made from `ctx.clock`, never from sleeping.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from concurrent.futures import Executor, ThreadPoolExecutor
from datetime import datetime, timedelta

from demo_orchestrator.domain.instance import LIVE, Desired, Status
from demo_orchestrator.engine import booking
from demo_orchestrator.engine.changes import SYSTEM, Audit, apply_change, record_orphan
from demo_orchestrator.engine.context import Context
from demo_orchestrator.engine.health import Healer
from demo_orchestrator.engine.pool import WarmPool
from demo_orchestrator.engine.runner import GONE, Aborted, Outcome, Runner
from demo_orchestrator.engine.sleeping import Sleeper
from demo_orchestrator.engine.templates import sweep_saved
from demo_orchestrator.providers.processes import is_alive
from demo_orchestrator.store import repository as repo

log = logging.getLogger(__name__)

WORKERS = 16


def replica_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Reconciler:
    def __init__(
        self,
        ctx: Context,
        runner: Runner,
        *,
        workers: int = WORKERS,
        executor: Executor | None = None,
        pool: WarmPool | None = None,
    ) -> None:
        self.ctx = ctx
        self.owner = replica_id()
        self.runner = runner
        self.sleeper = Sleeper(runner)
        self.healer = Healer(ctx, runner)
        self.pool = pool
        self._refilling = False
        self._last_refill = 0.0
        self._pool = executor or ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="reconcile"
        )
        self._wake = threading.Event()  # the loop looks again (when to wake, what is due)
        self._scan = False  # ...and scans the store too
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._running: set[str] = set()  # a worker is on it now
        self._leased: set[str] = set()  # this replica holds its lease (running or polling)
        self._polls: dict[str, datetime] = {}  # waiting, lease kept: work on it again then
        self._poked: set[str] = set()  # changed while an attempt ran: poll it again at once
        self._retry_at: datetime | None = None  # earliest retry this replica stored
        self._last_renew = 0.0
        self._thread: threading.Thread | None = None
        self._maintaining = False
        self._last_sweep = 0.0
        self._last_heal = 0.0

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        self._take_over_dead_leases()
        self._thread = threading.Thread(target=self._loop, name="reconciler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.wake()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._pool.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            held, self._leased = set(self._leased), set()
            self._polls.clear()
        if held:
            with self.ctx.db.write() as session:
                for instance_id in held:
                    repo.release(session, instance_id, owner=self.owner)

    def wake(self) -> None:
        """Something changed in the store: scan it now."""
        self._scan = True
        self._wake.set()

    def poke(self, instance_id: str) -> None:
        """A runtime saw the demo's rollout change (`RuntimeProvider.on_change`): a step of it
        waiting for its next poll is run now."""
        with self._lock:
            if instance_id in self._polls:
                self._polls[instance_id] = min(self._polls[instance_id], self.ctx.clock())
            elif instance_id in self._running:
                self._poked.add(instance_id)  # the attempt under way may have looked before it
                return
            else:
                return
        self._wake.set()

    def busy(self) -> set[str]:
        """Instances this replica is working on: running now or waiting to be polled again."""
        with self._lock:
            return self._running | self._leased

    # -- the loop ------------------------------------------------------------------------------

    def _loop(self) -> None:
        next_scan = 0.0
        while not self._stop.is_set():
            try:
                self._maintain_maybe()
                now = self.ctx.clock()
                due_retry = self._retry_at is not None and self._retry_at <= now
                self._wake.clear()
                if self._scan or time.monotonic() >= next_scan or due_retry:
                    self._scan = False
                    if due_retry:
                        self._retry_at = None
                    next_scan = time.monotonic() + self.ctx.settings.tick_seconds
                    self.tick()
                else:
                    self._submit_due_polls(now)
            except Exception:  # the loop must survive anything a tick throws
                log.exception("reconcile tick failed")
            self._wake.wait(self._seconds_to_next(next_scan))

    def _seconds_to_next(self, next_scan: float) -> float:
        wait = max(0.0, next_scan - time.monotonic())
        now = self.ctx.clock()
        with self._lock:
            dates = list(self._polls.values())
        if self._retry_at is not None:
            dates.append(self._retry_at)
        for at in dates:
            wait = min(wait, max(0.0, (at - now).total_seconds()))
        return wait

    def tick(self) -> list[str]:
        """Scan the store and start an attempt on every instance that is due; returns their ids."""
        now = self.ctx.clock()
        with self.ctx.db.read() as session:
            work = repo.needing_work(session, now=now)
        self._renew_leases()
        started = []
        for item in work:
            deleting = item.desired == Desired.DELETED.value
            waits = item.next_attempt_at is not None and item.next_attempt_at > now
            if waits and item.status == Status.SCHEDULED.value:
                self._due(
                    item.next_attempt_at
                )  # a booking's hand-off: wake at it, not a tick later
            if waits and not (deleting and item.status != Status.DELETING.value):
                continue
            with self._lock:
                if item.instance_id in self._running:
                    continue
                poll = self._polls.get(item.instance_id)
                if poll is not None and poll > now and not deleting:
                    continue
                self._polls.pop(item.instance_id, None)
                self._running.add(item.instance_id)
            started.append(item.instance_id)
            self._pool.submit(self._work, item.instance_id)
        return started

    def _due(self, at: datetime | None) -> None:
        """Wake the loop at `at` at the latest (a stored due date it saw while scanning)."""
        if at is not None and (self._retry_at is None or at < self._retry_at):
            self._retry_at = at

    def _submit_due_polls(self, now: datetime) -> None:
        with self._lock:
            due = [i for i, at in self._polls.items() if at <= now and i not in self._running]
            for instance_id in due:
                del self._polls[instance_id]
                self._running.add(instance_id)
        for instance_id in due:
            self._pool.submit(self._work, instance_id)

    def next_due(self) -> datetime | None:
        """When work comes due next: a poll of this replica or a stored retry date."""
        now = self.ctx.clock()
        with self.ctx.db.read() as session:
            dates = [w.next_attempt_at for w in repo.needing_work(session, now=now)]
        with self._lock:
            dates.extend(self._polls.values())
        return min((d for d in dates if d is not None), default=None)

    def run_until_idle(self, rounds: int = 100) -> None:
        """Scan until nothing is due at the clock's current time (tests, with inline work)."""
        for _ in range(rounds):
            if not self.tick():
                return
        raise RuntimeError(f"still busy after {rounds} rounds")

    def _work(self, instance_id: str) -> None:
        keep = False
        try:
            if not self._claim(instance_id):
                return
            try:
                outcome = self._converge(instance_id)
            except Aborted:
                outcome = Outcome("aborted")
                self.wake()  # the instance changed under us: look again now
            if outcome.kind == "poll" and outcome.at is not None:
                keep = True
                with self._lock:
                    poked = instance_id in self._poked
                    self._poked.discard(instance_id)
                    self._polls[instance_id] = self.ctx.clock() if poked else outcome.at
                self._wake.set()  # the loop recomputes when to wake
            elif (
                outcome.kind == "retry"
                and outcome.at is not None
                and (self._retry_at is None or outcome.at < self._retry_at)
            ):
                self._retry_at = outcome.at
                self._wake.set()  # the loop recomputes when to wake
        except Exception:
            log.exception("%s: reconcile failed", instance_id)
        finally:
            if not keep:
                self.runner.forget(instance_id)
                self._release(instance_id)
            with self._lock:
                self._running.discard(instance_id)
                self._poked.discard(instance_id)

    def _converge(self, instance_id: str) -> Outcome:
        now = self.ctx.clock()
        with self.ctx.db.read() as session:
            row = repo.get_instance(session, instance_id)
            if row is None:
                return GONE
            expired = (
                row.expires_at <= now
                and row.desired != Desired.DELETED.value
                and row.status in {s.value for s in LIVE}
            )
        if expired:
            self._expire(instance_id, now)
        with self.ctx.db.read() as session:
            row = repo.get_instance(session, instance_id)
            if row is None:
                return GONE
            status, desired = Status(row.status), Desired(row.desired)
            resetting = row.generation != row.applied_generation
        if status == Status.SCHEDULED:  # booked: made a lead time before its start
            if not booking.hand_off(self.ctx, instance_id, now):
                return Outcome("done")
            status = Status.PENDING
        if desired == Desired.DELETED:
            if status in {Status.DELETED, Status.REJECTED}:
                return GONE
            return self.runner.teardown(instance_id, final=Status.DELETED)
        if desired == Desired.SLEEPING and status == Status.READY and not resetting:
            return self.sleeper.sleep(instance_id)
        if desired == Desired.READY and status == Status.SLEEPING:
            self.sleeper.wake(instance_id)
            return self.runner.provision(instance_id)
        if status in {Status.PENDING, Status.PROVISIONING} or (
            status == Status.READY and resetting
        ):
            return self.runner.provision(instance_id)
        return Outcome("done")

    def _expire(self, instance_id: str, now: datetime) -> None:
        with self.ctx.db.write() as session:
            row = repo.get_instance(session, instance_id, lock=True)
            if row is None or row.desired == Desired.DELETED.value or row.expires_at > now:
                return
            apply_change(
                session,
                row,
                now=now,
                desired=Desired.DELETED.value,
                event=("expired", {"expires_at": row.expires_at.isoformat()}),
                audit=Audit(SYSTEM, "expire"),
            )

    # -- leases --------------------------------------------------------------------------------

    def _claim(self, instance_id: str) -> bool:
        with self._lock:
            if instance_id in self._leased:
                return True
        now = self.ctx.clock()
        until = now + timedelta(seconds=self.ctx.settings.lease_seconds)
        with self.ctx.db.write() as session:
            if not repo.claim(session, instance_id, owner=self.owner, now=now, until=until):
                return False
        with self._lock:
            self._leased.add(instance_id)
        return True

    def _release(self, instance_id: str) -> None:
        with self._lock:
            if instance_id not in self._leased:
                return
            self._leased.discard(instance_id)
        with self.ctx.db.write() as session:
            repo.release(session, instance_id, owner=self.owner)

    def _renew_leases(self) -> None:
        """Renew every held lease, a third of a lease's life after the last renewal."""
        if time.monotonic() - self._last_renew < self.ctx.settings.lease_seconds / 3:
            return
        self._last_renew = time.monotonic()
        held = self.busy()
        if not held:
            return
        now = self.ctx.clock()
        until = now + timedelta(seconds=self.ctx.settings.lease_seconds)
        with self.ctx.db.write() as session:
            for instance_id in held:
                repo.claim(session, instance_id, owner=self.owner, now=now, until=until)

    def _take_over_dead_leases(self) -> None:
        """Leases of a dead orchestrator process on this host are released at once."""
        host = socket.gethostname()
        with self.ctx.db.write() as session:
            for instance_id, owner in repo.leases_held(session):
                lease_host, _, pid = owner.rpartition(":")
                if (
                    lease_host == host
                    and pid.isdigit()
                    and (int(pid) == os.getpid() or not is_alive(int(pid), None))
                ):
                    repo.release(session, instance_id, owner=owner)

    # -- upkeep: sweep and heal ----------------------------------------------------------------

    def _refill_maybe(self) -> None:
        """Every second, top the warm pool up (in a worker, one round at a time)."""
        if self.pool is None or self._refilling or time.monotonic() - self._last_refill < 1.0:
            return
        self._refilling, self._last_refill = True, time.monotonic()
        pool = self.pool

        def refill() -> None:
            try:
                if pool.refill():
                    self.wake()
            except Exception:
                log.exception("refilling the warm pool failed")
            finally:
                self._refilling = False

        self._pool.submit(refill)

    def _maintain_maybe(self) -> None:
        """Start the sweep or the healing round in a worker when due (one at a time)."""
        self._refill_maybe()
        settings = self.ctx.settings
        sweep = time.monotonic() - self._last_sweep >= settings.sweep_seconds
        heal = time.monotonic() - self._last_heal >= settings.heal_seconds
        if not (sweep or heal) or self._maintaining:
            return
        self._maintaining = True
        if sweep:
            self._last_sweep = time.monotonic()
        if heal:
            self._last_heal = time.monotonic()

        def upkeep() -> None:
            try:
                if sweep:
                    self.sweep()
                if heal:
                    self.heal()
                    if self.sleeper.idle(self.busy()):
                        self.wake()
            except Exception:
                log.exception("upkeep failed")
            finally:
                self._maintaining = False

        self._pool.submit(upkeep)

    def heal(self) -> list[str]:
        """Send ready demos whose processes died, or that stopped answering their health path
        over HTTP (bounded restarts, then `degraded`: see health.py), back through their
        runtime steps."""
        with self.ctx.db.read() as session:
            ready = repo.ready_ids(session)
        hurt: list[str] = []
        for instance_id in sorted(set(ready) - self.busy()):
            health = self.ctx.runtime.alive(instance_id=instance_id)
            if health.healthy:
                try:
                    if self.healer.check(instance_id):
                        hurt.append(instance_id)
                except Exception:  # one demo's probe must not stop the round
                    log.exception("%s: health probe failed", instance_id)
                continue
            if self.runner.rewind_for_heal(instance_id, health.detail):
                log.warning("%s: %s; starting it again", instance_id, health.detail)
                hurt.append(instance_id)
        if hurt:
            self.wake()
        return hurt

    def sweep(self) -> dict[str, list[str]]:
        """Destroy what providers hold for instances the store does not know as live."""
        removed: dict[str, list[str]] = {}
        for provider in self.ctx.providers():
            try:
                owned = provider.owned()
            except Exception:
                log.exception(
                    "orphan sweep: %s %s cannot list what it owns", provider.kind, provider.name
                )
                continue
            with self.ctx.db.read() as session:
                keep = repo.known_ids(session, [s.value for s in LIVE] + [Status.DELETING.value])
            keep |= self.busy()
            found: dict[str, bool] = {}
            for instance_id in sorted(owned - keep):
                found[instance_id] = False
                try:
                    provider.destroy(instance_id=instance_id)
                    found[instance_id] = True
                    removed.setdefault(f"{provider.kind}:{provider.name}", []).append(instance_id)
                    log.info("orphan sweep: removed %s of %s", provider.kind, instance_id)
                except Exception:
                    log.exception(
                        "orphan sweep: cannot remove %s of %s", provider.kind, instance_id
                    )
            if found:  # on the change feed, like every other change (the metrics count them)
                with self.ctx.db.write() as session:
                    for instance_id, gone in found.items():
                        record_orphan(
                            session,
                            instance_id,
                            kind=provider.kind,
                            provider=provider.name,
                            removed=gone,
                            now=self.ctx.clock(),
                        )
        saved = sweep_saved(self.ctx)  # saved templates' data no live template owns
        if saved:
            removed["saved-templates"] = saved
        return removed
