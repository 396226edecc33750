"""Sleep and wake in-process: what stops, what stays, what it costs, idle detection."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from demo_orchestrator.domain.errors import Conflict, TemporaryError
from demo_orchestrator.engine.usage import usage
from demo_orchestrator.store import sleeps
from tests.fakes.engine import ADMIN, Rig


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    made = Rig(tmp_path, idle_minutes=0)
    yield made
    made.close()


def _ready(rig: Rig) -> str:
    instance_id = rig.create()
    rig.settle()
    assert rig.get(instance_id)["status"] == "ready"
    return instance_id


def test_sleep_stops_only_the_runtime_and_wake_runs_only_its_steps(rig: Rig) -> None:
    instance_id = _ready(rig)
    rig.journal.clear()
    rig.service.sleep(ADMIN, instance_id)
    rig.settle()
    assert rig.get(instance_id)["status"] == "sleeping"
    assert rig.calls() == ["fake-runtime.destroy"]  # the database stays
    assert instance_id in rig.database.owned() and instance_id not in rig.runtime.owned()
    steps = rig.steps(instance_id)
    assert (steps["database"], steps["deploy"], steps["health"]) == ("done", "pending", "pending")
    rig.journal.clear()
    rig.service.wake(ADMIN, instance_id)
    rig.settle()
    assert rig.get(instance_id)["status"] == "ready"
    assert rig.calls() == ["fake-runtime.ensure"]
    actions = [a["action"] for a in rig.service.audit(ADMIN, instance_id)]
    assert actions == ["create", "sleep", "wake"]


def test_sleep_and_wake_refuse_what_they_cannot_do(rig: Rig) -> None:
    rig.runtime.fail("ensure", TemporaryError("busy"))
    instance_id = rig.create()
    rig.settle()
    with pytest.raises(Conflict, match="only a ready demo can sleep"):
        rig.service.sleep(ADMIN, instance_id)
    with pytest.raises(Conflict, match="only a sleeping demo can be woken"):
        rig.service.wake(ADMIN, instance_id)
    rig.settle(2.0)
    rig.service.sleep(ADMIN, instance_id)
    rig.service.sleep(ADMIN, instance_id)  # twice is fine
    rig.service.wake(ADMIN, instance_id)  # before it fell asleep: it just stays awake
    rig.settle()
    assert rig.get(instance_id)["status"] == "ready"
    assert instance_id in rig.runtime.owned()


def test_a_sleeping_demo_is_deleted_and_expires_like_any_other(rig: Rig) -> None:
    deleted, expiring = _ready(rig), rig.create(duration_hours=0.25)
    rig.settle()
    for instance_id in (deleted, expiring):
        rig.service.sleep(ADMIN, instance_id)
    rig.settle()
    rig.service.delete(ADMIN, deleted)
    rig.clock.advance(16 * 60)
    rig.settle()
    for instance_id in (deleted, expiring):
        assert rig.get(instance_id)["status"] == "deleted"
    assert rig.database.owned() == set() and rig.runtime.owned() == set()


def test_sleeping_hours_bill_at_the_sleeping_rate(rig: Rig) -> None:
    instance_id = rig.create(duration_hours=8)
    rig.settle()
    start = rig.clock()
    rig.clock.advance(3600)  # one hour awake
    rig.service.sleep(ADMIN, instance_id)
    rig.settle()
    rig.clock.advance(2 * 3600)  # two hours asleep (so far)
    cost = rig.get(instance_id)["cost"]
    awake, asleep = cost["hourly_usd"], cost["sleeping_hourly_usd"]
    assert 0 < asleep < awake
    assert cost["accrued_usd"] == pytest.approx(awake + 2 * asleep, abs=1e-3)
    rig.service.wake(ADMIN, instance_id)
    rig.settle()
    rig.clock.advance(3600)  # one more hour awake
    cost = rig.get(instance_id)["cost"]
    assert cost["accrued_usd"] == pytest.approx(2 * awake + 2 * asleep, abs=1e-3)
    report = usage(
        rig.orchestrator.ctx,
        ADMIN,
        start=start,
        end=rig.clock() + timedelta(seconds=1),
        group_by="instance",
    )
    item = report["items"][0]
    assert item["sleeping_hours"] == pytest.approx(2.0, abs=1e-3)
    assert item["cost_usd"] == pytest.approx(2 * awake + 2 * asleep, abs=1e-3)


def test_an_idle_demo_sleeps_and_a_recent_request_keeps_one_awake(tmp_path: Path) -> None:
    rig = Rig(tmp_path, idle_minutes=15)
    try:
        idle, used = _ready(rig), _ready(rig)
        rig.clock.advance(10 * 60)
        rig.orchestrator.requests.note(used)
        assert rig.orchestrator.requests.flush() == 1
        rig.clock.advance(6 * 60)  # idle: 16 min since ready; used: 6 min since its request
        assert rig.reconciler.sleeper.idle(set()) == [idle]
        rig.settle()
        assert rig.get(idle)["status"] == "sleeping"
        assert rig.get(used)["status"] == "ready"
        reason = rig.service.audit(ADMIN, idle)[-1]["detail"]["reason"]
        assert reason == "idle for 15 min"
        assert rig.reconciler.sleeper.idle({used}) == []  # busy ones are left alone
    finally:
        rig.close()


def test_idle_sleep_is_off_with_zero_minutes(rig: Rig) -> None:
    instance_id = _ready(rig)
    rig.clock.advance(24 * 3600)
    assert rig.reconciler.sleeper.idle(set()) == []
    assert rig.get(instance_id)["status"] in ("ready", "deleted")


def test_a_request_wakes_a_sleeping_demo_once(rig: Rig) -> None:
    instance_id = _ready(rig)
    rig.service.sleep(ADMIN, instance_id)
    rig.settle()
    assert rig.service.wake_for_request(instance_id) is True
    assert rig.service.wake_for_request(instance_id) is True  # a second request: no new change
    rig.settle()
    assert rig.get(instance_id)["status"] == "ready"
    assert rig.service.wake_for_request(instance_id) is False  # awake: nothing to do
    wakes = [a for a in rig.service.audit(ADMIN, instance_id) if a["action"] == "wake"]
    assert len(wakes) == 1 and wakes[0]["actor"] == "system"
    with rig.orchestrator.ctx.db.read() as session:
        periods = sleeps.sleeps_of(
            session,
            [instance_id],
            start=rig.clock() - timedelta(days=1),
            end=rig.clock() + timedelta(days=1),
        )[instance_id]
    assert len(periods) == 1 and periods[0][1] is not None  # one sleep, closed


def test_a_stop_that_fails_for_a_while_is_retried(rig: Rig) -> None:
    instance_id = _ready(rig)
    rig.runtime.fail("destroy", TemporaryError("busy"))
    rig.service.sleep(ADMIN, instance_id)
    rig.settle()
    assert rig.get(instance_id)["status"] == "ready"
    rig.settle(2.0)
    assert rig.get(instance_id)["status"] == "sleeping"
    assert instance_id not in rig.runtime.owned()
