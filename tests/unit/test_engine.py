"""The engine in-process: reconciler, runner and service with fake providers and a fake clock.

Nothing here sleeps or starts a process: time moves when a test moves the clock, and work runs
inline when the reconciler hands it out, so each test takes milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from demo_orchestrator.domain.errors import (
    Conflict,
    InvalidTransition,
    PermanentError,
    TemporaryError,
)
from demo_orchestrator.domain.instance import MAX_BACKOFF_SECONDS, Status, backoff
from tests.fakes.engine import (
    ADMIN,
    FakeClock,
    FakeDatabase,
    FakeRuntime,
    FakeService,
    Rig,
)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    made = Rig(tmp_path)
    yield made
    made.close()


def test_provisions_every_step_in_order_then_tears_down_in_reverse(rig: Rig) -> None:
    instance_id = rig.create()
    rig.settle()
    instance = rig.get(instance_id)
    assert instance["status"] == "ready" and instance["error"] is None
    assert rig.steps(instance_id) == {
        "database": "done",
        "cache": "skipped",  # the tiny blueprint needs no cache or broker
        "broker": "skipped",
        "seed": "skipped",  # the fake database clones a seeded template
        "deploy": "done",
        "routes": "done",
        "health": "done",
    }
    assert rig.calls("ensure") == ["fake-db.ensure", "fake-runtime.ensure"]
    rig.service.delete(ADMIN, instance_id)
    rig.settle()
    assert rig.get(instance_id)["status"] == "deleted"
    assert rig.calls("destroy") == ["fake-runtime.destroy", "fake-db.destroy"]
    assert rig.runtime.owned() == set() and rig.database.owned() == set()


def test_data_services_and_seed_run_when_the_blueprint_needs_them(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.database.seeded = False
    try:
        blueprint = rig.orchestrator.ctx.blueprints["tiny"]
        data = blueprint.data.model_copy(update={"cache": True, "broker": True})
        rig.orchestrator.ctx.blueprints["tiny"] = blueprint.model_copy(update={"data": data})
        instance_id = rig.create()
        rig.settle()
        assert rig.get(instance_id)["status"] == "ready"
        assert rig.calls(instance_id=instance_id) == [
            "fake-db.ensure",
            "fake-cache.ensure",
            "fake-broker.ensure",
            "fake-db.seed",
            "fake-runtime.ensure",
        ]
        assert rig.database.rows[instance_id] == 5
    finally:
        rig.close()


def test_the_health_gate_polls_without_retries_or_a_blocked_worker(rig: Rig) -> None:
    instance_id = rig.create()
    rig.runtime.start_seconds[instance_id] = 0.5
    commits = rig.orchestrator.ctx.db.commits
    rig.settle()
    assert rig.get(instance_id)["status"] == "provisioning"  # nothing due yet: waits for time
    assert rig.steps(instance_id)["health"] == "running"
    checks = rig.runtime.checks
    rig.settle(0.6)
    instance = rig.get(instance_id)
    assert instance["status"] == "ready"
    health = next(s for s in instance["steps"] if s["name"] == "health")
    assert health["retries"] == 0 and health["error"] is None
    assert rig.runtime.checks - checks >= 3  # it looked again and again...
    # ...without writing each look: the polls cost no store transactions beyond a message.
    assert rig.orchestrator.ctx.db.commits - commits <= 12


def test_a_health_gate_past_its_timeout_is_a_counted_retry_then_failure(tmp_path: Path) -> None:
    rig = Rig(tmp_path, health_timeout_seconds=1.0, step_retries=1)
    try:
        instance_id = rig.create()
        rig.runtime.hold.add(instance_id)
        rig.settle(5.0)
        instance = rig.get(instance_id)
        assert instance["status"] == "failed"
        health = next(s for s in instance["steps"] if s["name"] == "health")
        assert health["status"] == "failed" and health["retries"] == 1
        assert "still not ready after 1 s" in health["error"]
        assert instance_id not in rig.runtime.owned() and instance_id not in rig.database.owned()
        # The gate re-deployed before its retry (rewind_to="deploy"), then tore everything down.
        assert rig.calls("ensure", instance_id).count("fake-runtime.ensure") == 2
    finally:
        rig.close()


def test_a_temporary_error_stores_a_retry_date_and_nothing_runs_before_it(rig: Rig) -> None:
    rig.database.fail("ensure", TemporaryError("server busy"), TemporaryError("server busy"))
    instance_id = rig.create()
    rig.settle()
    instance = rig.get(instance_id)
    database = next(s for s in instance["steps"] if s["name"] == "database")
    assert instance["status"] == "provisioning"
    assert database["retries"] == 1 and database["error"] == "server busy"
    with rig.orchestrator.ctx.db.read() as session:
        from demo_orchestrator.store import repository as repo

        row = repo.get_instance(session, instance_id)
        assert row is not None and row.next_attempt_at is not None
        wait = (row.next_attempt_at - rig.clock()).total_seconds()
    # First retry: the base (0.2 s) scaled by a jitter of 0.5-1.0, at least the error's delay.
    assert 0.1 <= wait <= 0.5
    calls = len(rig.calls("ensure"))
    rig.clock.advance(wait - 0.01)
    rig.reconciler.run_until_idle()
    assert len(rig.calls("ensure")) == calls  # not before its date
    rig.settle(2.0)
    assert rig.get(instance_id)["status"] == "ready"
    assert rig.calls("ensure", instance_id).count("fake-db.ensure") == 3


def test_back_off_doubles_with_jitter_and_is_capped() -> None:
    for attempt in range(1, 12):
        low = backoff(attempt, base=0.2, jitter=0.0)
        high = backoff(attempt, base=0.2, jitter=0.999)
        assert low == pytest.approx(min(MAX_BACKOFF_SECONDS, 0.1 * 2 ** (attempt - 1)))
        assert low <= high <= MAX_BACKOFF_SECONDS
    assert backoff(1, base=0.2, floor=3.0, jitter=0.0) == 3.0


def test_too_many_retries_fail_the_demo_and_undo_what_was_made(tmp_path: Path) -> None:
    rig = Rig(tmp_path, step_retries=2)
    try:
        rig.runtime.fail("ensure", *[TemporaryError("no ports left") for _ in range(5)])
        instance_id = rig.create()
        rig.settle(10.0)
        instance = rig.get(instance_id)
        assert instance["status"] == "failed"
        assert instance["error"] == "deploy: no ports left (gave up after 2 retries)"
        assert rig.steps(instance_id)["database"] == "torn_down"
        assert rig.steps(instance_id)["deploy"] == "failed"
        assert rig.database.owned() == set() and rig.runtime.owned() == set()
    finally:
        rig.close()


def test_a_permanent_error_fails_at_once(rig: Rig) -> None:
    rig.runtime.fail("ensure", PermanentError("bad command"))
    instance_id = rig.create()
    rig.settle()
    instance = rig.get(instance_id)
    assert instance["status"] == "failed" and instance["error"] == "deploy: bad command"
    assert rig.calls("ensure", instance_id).count("fake-runtime.ensure") == 1


def test_a_provider_bug_fails_the_demo_not_the_engine(rig: Rig) -> None:
    rig.database.fail("ensure", KeyError("oops"))  # whichever demo's database comes first
    made = [rig.create(), rig.create()]
    rig.settle()
    views = sorted((rig.get(i) for i in made), key=lambda v: str(v["status"]))
    assert [v["status"] for v in views] == ["failed", "ready"]
    assert "unexpected KeyError" in str(views[0]["error"])


def test_teardown_retries_until_the_resource_is_gone(rig: Rig) -> None:
    instance_id = rig.create()
    rig.settle()
    rig.database.fail("destroy", TemporaryError("server down"), TemporaryError("server down"))
    rig.service.delete(ADMIN, instance_id)
    rig.settle()
    assert rig.get(instance_id)["status"] == "deleting"
    rig.settle(3.0)
    assert rig.get(instance_id)["status"] == "deleted"
    assert rig.database.owned() == set()
    assert rig.calls("destroy", instance_id).count("fake-db.destroy") == 3


def test_delete_while_waiting_for_a_retry_acts_at_once(rig: Rig) -> None:
    rig.runtime.fail("ensure", TemporaryError("busy"))
    instance_id = rig.create()
    rig.settle()
    assert rig.get(instance_id)["status"] == "provisioning"
    rig.service.delete(ADMIN, instance_id)
    rig.reconciler.run_until_idle()  # no clock movement: the retry date does not hold a delete
    assert rig.get(instance_id)["status"] == "deleted"
    assert rig.database.owned() == set() and rig.runtime.owned() == set()


def test_expiry_deletes_and_is_audited(rig: Rig) -> None:
    instance_id = rig.create(duration_hours=0.25)
    rig.settle()
    rig.clock.advance(15 * 60 + 1)
    rig.reconciler.run_until_idle()
    assert rig.get(instance_id)["status"] == "deleted"
    actions = [a["action"] for a in rig.service.audit(ADMIN, instance_id)]
    assert actions == ["create", "expire"]


def test_reset_makes_every_service_pristine_and_keeps_the_demo(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    try:
        blueprint = rig.orchestrator.ctx.blueprints["tiny"]
        data = blueprint.data.model_copy(update={"cache": True, "broker": True})
        rig.orchestrator.ctx.blueprints["tiny"] = blueprint.model_copy(update={"data": data})
        instance_id = rig.create()
        rig.settle()
        rig.cache.keys[instance_id] = {"session:1"}
        rig.broker.keys[instance_id] = {"queue:outbox"}
        rig.database.rows[instance_id] = 99  # the demo changed its data
        before = rig.get(instance_id)
        rig.journal.clear()
        rig.service.reset(ADMIN, instance_id)
        rig.settle()
        after = rig.get(instance_id)
        assert after["status"] == "ready" and after["urls"] == before["urls"]
        assert rig.database.rows[instance_id] == 5
        assert rig.cache.keys[instance_id] == set() and rig.broker.keys[instance_id] == set()
        assert rig.calls(instance_id=instance_id)[:4] == [
            "fake-runtime.destroy",  # stop first, so nothing writes while data is restored
            "fake-broker.reset",
            "fake-cache.reset",
            "fake-db.destroy",  # a database's reset is destroy, then a fresh clone
        ]
        assert [a["action"] for a in rig.service.audit(ADMIN, instance_id)] == ["create", "reset"]
    finally:
        rig.close()


class ReloadingRuntime(FakeRuntime):
    """A runtime whose services reload in place: its reset keeps them running."""

    name = "fake-runtime"

    def reset(self, *, instance_id: str) -> None:
        self._call("reset", instance_id)


def test_a_runtime_that_keeps_its_services_resets_in_place_after_the_data(tmp_path: Path) -> None:
    journal: list[tuple[str, str, str]] = []
    clock = FakeClock()
    runtime = ReloadingRuntime(journal, clock)
    rig = Rig(
        tmp_path,
        clock=clock,
        journal=journal,
        providers={
            "runtime": runtime,
            "database": FakeDatabase(journal),
            "cache": FakeService(journal, "cache"),
            "broker": FakeService(journal, "broker"),
        },
    )
    try:
        instance_id = rig.create()
        rig.settle()
        started = runtime.started[instance_id]
        rig.database.rows[instance_id] = 99
        rig.journal.clear()
        rig.service.reset(ADMIN, instance_id)
        rig.settle()
        assert rig.get(instance_id)["status"] == "ready"
        assert rig.database.rows[instance_id] == 5
        calls = rig.calls(instance_id=instance_id)
        assert calls[0] == "fake-runtime.reset" and "fake-runtime.destroy" not in calls
        # the runtime's ensure (the reload) comes after the database is back
        assert calls.index("fake-runtime.ensure") > calls.index("fake-db.ensure")
        assert runtime.started[instance_id] == started  # never stopped
    finally:
        rig.close()


def test_reset_of_a_demo_that_is_not_ready_is_refused(rig: Rig) -> None:
    rig.runtime.fail("ensure", TemporaryError("busy"))
    instance_id = rig.create()
    rig.settle()
    with pytest.raises(Conflict, match="reset works on a ready demo"):
        rig.service.reset(ADMIN, instance_id)


def test_healing_restarts_a_dead_demo_from_its_runtime_steps(rig: Rig) -> None:
    instance_id = rig.create()
    rig.settle()
    old_port = rig.get(instance_id)["steps"]
    rig.runtime.dead.add(instance_id)
    assert rig.reconciler.heal() == [instance_id]
    rig.settle()
    assert rig.get(instance_id)["status"] == "ready"
    assert rig.calls("ensure", instance_id).count("fake-db.ensure") == 1  # data untouched
    assert rig.calls("ensure", instance_id).count("fake-runtime.ensure") == 2
    assert old_port and instance_id not in rig.runtime.dead
    actions = [a["action"] for a in rig.service.audit(ADMIN, instance_id)]
    assert actions == ["create", "heal"]


@pytest.mark.parametrize("action", ["reset", "heal", "reject", "approve", "expire-then-delete"])
def test_every_status_change_goes_through_the_state_machine(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, action: str
) -> None:
    """Forbid the transition an action needs and watch the action refuse: proof it is checked."""
    from demo_orchestrator.domain import instance as domain

    instance_id = rig.create()
    rig.settle()
    wanted = {
        "reset": (Status.READY, Status.PROVISIONING),
        "heal": (Status.READY, Status.PROVISIONING),
        "reject": (Status.PENDING_APPROVAL, Status.REJECTED),
        "approve": (Status.PENDING_APPROVAL, Status.PENDING),
        "expire-then-delete": (Status.READY, Status.DELETING),
    }[action]
    if action in ("reject", "approve"):
        with rig.orchestrator.ctx.db.write() as session:
            from demo_orchestrator.store import repository as repo

            row = repo.get_instance(session, instance_id)
            assert row is not None
            row.status = Status.PENDING_APPROVAL.value
    table = dict(domain.TRANSITIONS)
    table[wanted[0]] = table[wanted[0]] - {wanted[1]}
    monkeypatch.setattr(domain, "TRANSITIONS", table)
    with pytest.raises(InvalidTransition):
        if action == "reset":
            rig.service.reset(ADMIN, instance_id)
        elif action == "heal":
            rig.runtime.dead.add(instance_id)
            rig.orchestrator.reconciler.runner.rewind_for_heal(instance_id, "died")
        elif action == "reject":
            rig.service.reject(ADMIN, instance_id, "no budget")
        elif action == "approve":
            rig.service.approve(ADMIN, instance_id)
        else:
            rig.clock.advance(3 * 3600)
            rig.reconciler._converge(instance_id)
    assert rig.get(instance_id)["status"] == wanted[0].value  # nothing half-changed


def test_deleting_a_request_waiting_for_approval_ends_it_at_once(rig: Rig) -> None:
    sales = type(ADMIN)("sam", "sales")
    instance, _ = rig.service.create(
        sales,
        __import__("demo_orchestrator.engine.service", fromlist=["CreateInstance"]).CreateInstance(
            duration_hours=6
        ),
    )
    assert instance["status"] == "pending_approval"
    gone = rig.service.delete(sales, instance["id"])
    assert gone["status"] == "deleted"
    rig.settle()
    assert rig.calls() == []  # nothing was ever made, nothing to undo


def test_extend_is_a_change_on_the_feed(rig: Rig) -> None:
    instance_id = rig.create()
    rig.settle()
    before = rig.get(instance_id)["expires_at"]
    rig.service.extend(ADMIN, instance_id, 1)
    events = rig.service.events_after(ADMIN, instance_id, 0)
    expiry = [e for e in events if e["kind"] == "expiry"]
    assert len(expiry) == 1 and expiry[0]["expires_at"] > before
    assert rig.clock() + timedelta(hours=1) < rig.clock() + timedelta(hours=2)


def test_delete_while_a_rewound_step_waits_still_undoes_what_it_made(tmp_path: Path) -> None:
    """The health gate's retry rewinds deploy to pending while its processes still run: a delete
    then must stop them all the same (pending is not "nothing made")."""
    rig = Rig(tmp_path, health_timeout_seconds=0.5, step_retries=5, retry_base_seconds=30)
    try:
        instance_id = rig.create()
        rig.runtime.hold.add(instance_id)
        rig.settle(1.0)
        assert rig.steps(instance_id)["deploy"] == "pending"  # rewound, waiting for its retry
        assert instance_id in rig.runtime.owned()
        rig.service.delete(ADMIN, instance_id)
        rig.reconciler.run_until_idle()
        assert rig.get(instance_id)["status"] == "deleted"
        assert rig.runtime.owned() == set() and rig.database.owned() == set()
    finally:
        rig.close()
