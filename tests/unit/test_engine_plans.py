"""Plans as data: an instance is undone by the plan it was made with; a crash at any commit
resumes; waits never hold a worker; the change feed keeps the route table honest."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Self

import pytest

from demo_orchestrator.engine.builtin_steps import BUILTIN_STEPS
from demo_orchestrator.engine.plan import StepDef, StepRun
from demo_orchestrator.providers.base import Outputs, Provider
from demo_orchestrator.store.database import Database
from tests.fakes.engine import ADMIN, Crash, Journal, Rig


def recording_step(name: str, journal: Journal, *, after: str | None = None) -> StepDef:
    """A step with its own undo, journalled like a provider call."""

    def ensure(run: StepRun) -> Outputs:
        journal.append((name, "ensure", run.spec.instance_id))
        return Outputs(message=f"{name} made")

    def undo(_: Provider | None, instance_id: str) -> None:
        journal.append((name, "undo", instance_id))

    return StepDef(name, ensure, undo=undo)


def plan_with(extra: StepDef, *, before: str) -> list[StepDef]:
    steps = list(BUILTIN_STEPS)
    index = next(i for i, s in enumerate(steps) if s.name == before)
    return [*steps[:index], extra, *steps[index:]]


def test_an_instance_made_before_a_step_was_added_is_deleted_cleanly(tmp_path: Path) -> None:
    old = Rig(tmp_path)
    instance_id = old.create()
    old.settle()
    old.close()
    # The next version plans a new step (a Kubernetes namespace, say) before deploy.
    new = Rig(
        tmp_path,
        clock=old.clock,
        journal=old.journal,
        providers=old.providers,
        steps=plan_with(recording_step("namespace", old.journal), before="deploy"),
    )
    try:
        fresh = new.create()
        new.settle()
        assert list(new.steps(fresh))[4] == "namespace"  # new instances get the new plan
        assert "namespace" not in new.steps(instance_id)  # the old one keeps its own
        new.journal.clear()
        new.service.delete(ADMIN, instance_id)
        new.settle()
        assert new.get(instance_id)["status"] == "deleted"
        assert new.calls(instance_id=instance_id) == ["fake-runtime.destroy", "fake-db.destroy"]
        assert instance_id not in new.runtime.owned() | new.database.owned()
        new.service.delete(ADMIN, fresh)
        new.settle()
        assert new.calls(instance_id=fresh)[0] == "fake-runtime.destroy"
        assert ("namespace", "undo", fresh) in new.journal
    finally:
        new.close()


def test_an_instance_whose_step_this_version_lost_is_deleted_cleanly(tmp_path: Path) -> None:
    journal: Journal = []
    old = Rig(
        tmp_path,
        journal=journal,
        steps=plan_with(recording_step("legacy", journal), before="deploy"),
    )
    instance_id = old.create()
    old.settle()
    assert old.steps(instance_id)["legacy"] == "done"
    old.close()
    new = Rig(tmp_path, clock=old.clock, journal=journal, providers=old.providers)
    try:
        new.service.delete(ADMIN, instance_id)
        new.settle()
        instance = new.get(instance_id)
        assert instance["status"] == "deleted"
        legacy = next(s for s in instance["steps"] if s["name"] == "legacy")
        assert legacy["status"] == "torn_down" and "unknown to this version" in legacy["message"]
        assert instance_id not in new.runtime.owned() | new.database.owned()
    finally:
        new.close()


def test_provisioning_an_old_plan_with_an_unknown_step_fails_clearly(tmp_path: Path) -> None:
    journal: Journal = []
    legacy = recording_step("legacy", journal)
    old = Rig(tmp_path, journal=journal, steps=plan_with(legacy, before="routes"))
    old.runtime.fail("ensure", Crash())  # dies in deploy, before the step after it
    instance_id = old.create()
    with pytest.raises(Crash):
        old.settle()
    new = Rig(tmp_path, clock=old.clock, journal=journal, providers=old.providers)
    try:
        new.clock.advance(60)  # the dead replica's lease lapses
        new.settle()
        instance = new.get(instance_id)
        assert instance["status"] == "failed"
        assert "'legacy' is not known to this version" in str(instance["error"])
        assert new.database.owned() == set()
    finally:
        new.close()


class CrashAfter:
    """Kills the 'orchestrator' right after its n-th committed write transaction."""

    def __init__(self, db: Database, n: int) -> None:
        self.db, self.left = db, n
        self.original = db.write

    def __enter__(self) -> Self:
        from contextlib import contextmanager

        @contextmanager
        def write() -> Any:
            with self.original() as session:
                yield session
            self.left -= 1
            if self.left == 0:
                raise Crash

        self.db.write = write  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        self.db.write = self.original  # type: ignore[method-assign]


def _commits_of(action: str, tmp_path: Path) -> int:
    rig = Rig(tmp_path / "count")
    instance_id = rig.create()
    start = rig.orchestrator.ctx.db.commits
    rig.settle()
    if action == "delete":
        rig.service.delete(ADMIN, instance_id)
        start = rig.orchestrator.ctx.db.commits
        rig.settle()
    count = rig.orchestrator.ctx.db.commits - start
    rig.close()
    return count


@pytest.mark.parametrize("action", ["provision", "delete"])
def test_a_crash_after_any_commit_resumes_without_loss_or_leak(tmp_path: Path, action: str) -> None:
    total = _commits_of(action, tmp_path)
    assert total >= 3
    for n in range(1, total + 1):
        home = tmp_path / f"crash-{n}"
        first = Rig(home)
        instance_id = first.create()
        if action == "delete":
            first.settle()
            first.service.delete(ADMIN, instance_id)
        crashed = False
        with CrashAfter(first.orchestrator.ctx.db, n):
            try:
                first.settle()
            except Crash:
                crashed = True
        assert crashed, f"commit {n} of {total} never came"
        again = Rig(home, clock=first.clock, journal=first.journal, providers=first.providers)
        again.clock.advance(60)  # the dead replica's lease lapses
        again.settle(5.0)
        status = again.get(instance_id)["status"]
        expected = "ready" if action == "provision" else "deleted"
        assert status == expected, f"after a crash at commit {n}: {status}"
        held = again.runtime.owned() | again.database.owned()
        assert held == ({instance_id} if action == "provision" else set()), n
        again.close()


def test_waiting_demos_never_hold_the_workers(tmp_path: Path) -> None:
    """Two workers, two demos held in a long health gate: a third still gets ready at once."""
    from tests.fakes.engine import FakeClock

    clock = FakeClock()
    rig = Rig(
        tmp_path,
        executor=ThreadPoolExecutor(max_workers=2),
        clock=clock,
        health_timeout_seconds=3600,
        tick_seconds=0.05,
    )
    clock_thread_stop = threading.Event()

    def tick_clock() -> None:  # real time drives the fake clock, so polls come due
        while not clock_thread_stop.wait(0.01):
            clock.advance(0.01)

    ticker = threading.Thread(target=tick_clock, daemon=True)
    ticker.start()
    try:
        held = [rig.create(), rig.create()]
        rig.runtime.hold.update(held)
        rig.reconciler.start()
        deadline = time.monotonic() + 10
        while any(rig.steps(i)["health"] != "running" for i in held):
            assert time.monotonic() < deadline, "the held demos never reached the health gate"
            time.sleep(0.01)
        third = rig.create()
        while rig.get(third)["status"] != "ready":
            assert time.monotonic() < deadline, "the third demo waited for a worker"
            time.sleep(0.01)
        assert all(rig.get(i)["status"] == "provisioning" for i in held)
    finally:
        clock_thread_stop.set()
        ticker.join()
        rig.close()


def test_the_route_table_follows_the_change_feed(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    try:
        feed, routes = rig.orchestrator.feed, rig.orchestrator.routes
        instance_id = rig.create()
        assert routes.resolve(instance_id, "portal").kind == "starting"
        rig.settle()
        feed.read_now()
        answer = routes.resolve(instance_id, "portal")
        assert answer.kind == "proxy" and answer.port == rig.runtime.port_of[instance_id]
        loads = routes.loads
        for _ in range(100):  # served from memory
            assert routes.resolve(instance_id, "candidate").kind == "proxy"
        assert routes.loads == loads
        rig.service.delete(ADMIN, instance_id)
        rig.settle()
        feed.read_now()
        assert routes.cached(instance_id, "portal") is None  # dropped at once
        assert routes.resolve(instance_id, "portal").kind == "not_found"
        assert routes.resolve("demo-zzzzzz", "portal").kind == "not_found"
        assert routes.resolve("not-an-id", "portal").kind == "not_found"
    finally:
        rig.close()


def test_the_feed_hands_out_every_change_once_and_in_order(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    try:
        feed = rig.orchestrator.feed
        seen: list[int] = []
        kinds: list[str] = []
        feed.subscribe(lambda changes: seen.extend(c.id for c in changes))
        feed.subscribe(lambda changes: kinds.extend(c.kind for c in changes))
        feed.subscribe(lambda changes: 1 / 0)  # a broken consumer harms nobody
        instance_id = rig.create()
        rig.settle()
        rig.service.extend(ADMIN, instance_id, 1)
        feed.read_now()
        feed.read_now()
        assert seen == sorted(set(seen)) and len(seen) > 5
        assert {"status", "step", "routes", "expiry"} <= set(kinds)
        everything = rig.service.events_after(ADMIN, instance_id, 0)
        assert [e["id"] for e in everything] == seen
    finally:
        rig.close()
