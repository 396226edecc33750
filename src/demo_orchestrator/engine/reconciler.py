"""The level-triggered reconciler: drives every instance towards its desired state.

A loop thread ticks every `DEMO_TICK_SECONDS` and whenever `wake()` is called (the API calls it
after recording intent). Each tick lists the instances whose observed state differs from the
desired one (including expired ones), claims each with a lease in the store (so several replicas
never work on one instance at once) and hands it to a worker thread. Leases are renewed while
work runs; a lease left by a dead process of this host is taken over at once, one of another
host when it lapses. At start, and every `DEMO_SWEEP_SECONDS`, the orphan sweep deletes what any
provider holds for an instance the store does not know as live.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from demo_orchestrator.domain.instance import LIVE, Desired, Status
from demo_orchestrator.engine.context import Context
from demo_orchestrator.engine.faults import FaultInjector
from demo_orchestrator.engine.steps import Aborted, StepRunner
from demo_orchestrator.providers.processes import is_alive
from demo_orchestrator.store import repository as repo

log = logging.getLogger(__name__)

WORKERS = 16


def replica_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Reconciler:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.owner = replica_id()
        self.runner = StepRunner(ctx, FaultInjector(ctx.settings.fault_injection))
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._running: set[str] = set()
        self._running_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="reconcile")
        self._thread: threading.Thread | None = None
        self._last_sweep = 0.0
        self._last_heal = 0.0

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        self._take_over_dead_leases()
        self._thread = threading.Thread(target=self._loop, name="reconciler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def wake(self) -> None:
        self._wake.set()

    def busy(self) -> set[str]:
        with self._running_lock:
            return set(self._running)

    # -- the loop ------------------------------------------------------------------------------

    def _loop(self) -> None:
        import time

        while not self._stop.is_set():
            try:
                if time.monotonic() - self._last_sweep >= self.ctx.settings.sweep_seconds:
                    self._last_sweep = time.monotonic()
                    self.sweep()
                if time.monotonic() - self._last_heal >= self.ctx.settings.heal_seconds:
                    self._last_heal = time.monotonic()
                    self.heal()
                self.tick()
            except Exception:  # the loop must survive anything a tick throws
                log.exception("reconcile tick failed")
            self._wake.wait(self.ctx.settings.tick_seconds)
            self._wake.clear()

    def tick(self) -> None:
        now = self.ctx.clock()
        with self.ctx.db.read() as session:
            ids = repo.needing_work(session, now=now)
        self._renew_leases()
        for instance_id in ids:
            with self._running_lock:
                if instance_id in self._running:
                    continue
                self._running.add(instance_id)
            self._pool.submit(self._work, instance_id)

    def _work(self, instance_id: str) -> None:
        try:
            now = self.ctx.clock()
            until = now + timedelta(seconds=self.ctx.settings.lease_seconds)
            with self.ctx.db.write() as session:
                if not repo.claim(session, instance_id, owner=self.owner, now=now, until=until):
                    return
            try:
                self._converge(instance_id)
            except Aborted:
                self._wake.set()  # the instance changed under us: look again now
            finally:
                with self.ctx.db.write() as session:
                    repo.release(session, instance_id, owner=self.owner)
        except Exception:
            log.exception("%s: reconcile failed", instance_id)
        finally:
            with self._running_lock:
                self._running.discard(instance_id)

    def _converge(self, instance_id: str) -> None:
        now = self.ctx.clock()
        with self.ctx.db.write() as session:
            row = repo.get_instance(session, instance_id, lock=True)
            if row is None:
                return
            if (
                row.expires_at <= now
                and row.desired != Desired.DELETED.value
                and row.status in {s.value for s in LIVE}
            ):
                row.desired = Desired.DELETED.value
                repo.add_event(
                    session, row.id, "expired", {"expires_at": row.expires_at.isoformat()}, now
                )
                repo.add_audit(
                    session,
                    at=now,
                    actor="system",
                    action="expire",
                    instance_id=row.id,
                    source=None,
                )
            status, desired = Status(row.status), Desired(row.desired)
            resetting = row.generation != row.applied_generation
        if desired == Desired.DELETED:
            if status in {Status.DELETED, Status.REJECTED}:
                return
            final = Status.DELETED
            self.runner.teardown(instance_id, final=final)
            return
        # Look again at fresh state: the tick that queued this may have read it before the
        # previous worker finished.
        if status in {Status.PENDING, Status.PROVISIONING} or (
            status == Status.READY and resetting
        ):
            self.runner.provision(instance_id)

    # -- leases --------------------------------------------------------------------------------

    def _renew_leases(self) -> None:
        busy = self.busy()
        if not busy:
            return
        now = self.ctx.clock()
        until = now + timedelta(seconds=self.ctx.settings.lease_seconds)
        with self.ctx.db.write() as session:
            for instance_id in busy:
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

    # -- self-healing --------------------------------------------------------------------------

    def heal(self) -> list[str]:
        """Send ready demos whose processes died back to provisioning, to be started again."""
        with self.ctx.db.read() as session:
            ready = repo.ready_ids(session)
        hurt: list[str] = []
        for instance_id in sorted(set(ready) - self.busy()):
            health = self.ctx.runtime.alive(instance_id=instance_id)
            if health.healthy:
                continue
            now = self.ctx.clock()
            with self.ctx.db.write() as session:
                row = repo.get_instance(session, instance_id, lock=True)
                if (
                    row is None
                    or row.status != Status.READY.value
                    or row.desired != Desired.READY.value
                ):
                    continue
                row.status = Status.PROVISIONING.value
                repo.add_event(
                    session, row.id, "status", {"status": row.status, "error": health.detail}, now
                )
                repo.add_audit(
                    session,
                    at=now,
                    actor="system",
                    action="heal",
                    instance_id=row.id,
                    source=None,
                    detail={"reason": health.detail},
                )
            log.warning("%s: %s; starting it again", instance_id, health.detail)
            hurt.append(instance_id)
        if hurt:
            self._wake.set()
        return hurt

    # -- orphan sweep --------------------------------------------------------------------------

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
            for instance_id in sorted(owned - keep):
                try:
                    provider.destroy(instance_id=instance_id)
                    removed.setdefault(f"{provider.kind}:{provider.name}", []).append(instance_id)
                    log.info("orphan sweep: removed %s of %s", provider.kind, instance_id)
                except Exception:
                    log.exception(
                        "orphan sweep: cannot remove %s of %s", provider.kind, instance_id
                    )
        return removed
