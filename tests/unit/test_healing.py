"""Healing of demos that run but do not answer (engine/health.py), on the fakes and a hand clock:
the restarts are bounded and spaced by a doubling back-off, then the demo shows `degraded`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from demo_orchestrator.providers.base import Health
from demo_orchestrator.store import repository as repo
from tests.fakes.engine import ADMIN, Rig


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    made = Rig(tmp_path, heal_seconds=10.0, heal_restarts=3)
    hung: set[str] = set()
    stopped: list[str] = []

    def probe(*, instance_id: str) -> Health:
        if instance_id in hung:
            return Health(False, "service web does not answer /healthz within 2 s")
        return Health(True, "answers")

    def stop_unanswering(*, instance_id: str) -> list[str]:
        stopped.append(instance_id)
        return ["web"]

    made.runtime.probe = probe  # type: ignore[method-assign]
    made.runtime.stop_unanswering = stop_unanswering  # type: ignore[method-assign]
    made.hung, made.stopped = hung, stopped  # type: ignore[attr-defined]
    yield made
    made.close()


def _round(rig: Rig, seconds: float) -> list[str]:
    """Move the clock, run one heal round and let the engine finish what it started."""
    rig.clock.advance(seconds)
    healed = rig.reconciler.heal()
    rig.settle()
    return healed


def test_restarts_are_bounded_and_spaced_then_the_demo_is_degraded(rig: Rig) -> None:
    instance_id = rig.create()
    rig.settle()
    assert rig.get(instance_id)["health"]["state"] == "ok"
    rig.hung.add(instance_id)  # type: ignore[attr-defined]
    assert _round(rig, 0) == [instance_id]  # the first restart at once
    assert rig.get(instance_id)["status"] == "ready"
    assert _round(rig, 5) == []  # back-off: 10 s after the first restart
    assert _round(rig, 5) == [instance_id]
    assert _round(rig, 10) == []  # then 20 s
    assert _round(rig, 10) == [instance_id]
    assert rig.stopped == [instance_id] * 3  # type: ignore[attr-defined]
    assert _round(rig, 1000) == []  # no fourth restart: degraded instead
    instance = rig.get(instance_id)
    assert instance["status"] == "ready"
    assert instance["health"]["state"] == "degraded"
    assert "restarted 3 time(s) without effect" in instance["health"]["reason"]
    degraded_since = instance["health"]["since"]
    assert _round(rig, 1000) == [] and rig.stopped == [instance_id] * 3  # type: ignore[attr-defined]
    assert rig.get(instance_id)["health"]["since"] == degraded_since  # not rewritten each round
    events = rig.service.events_after(ADMIN, instance_id, 0)
    assert [e["health"]["state"] for e in events if e["kind"] == "health"] == ["degraded"]

    rig.hung.discard(instance_id)  # type: ignore[attr-defined]
    _round(rig, 10)
    healthy = rig.get(instance_id)["health"]
    assert healthy["state"] == "ok" and healthy["reason"] is None
    assert healthy["since"] > degraded_since
    rig.hung.add(instance_id)  # type: ignore[attr-defined]
    assert _round(rig, 0) == [instance_id]  # the count started over


def test_a_demo_that_answers_is_never_restarted(rig: Rig) -> None:
    instance_id = rig.create()
    rig.settle()
    for _ in range(5):
        assert _round(rig, 10) == []
    assert rig.stopped == []  # type: ignore[attr-defined]
    assert rig.get(instance_id)["health"]["state"] == "ok"


def _restarts(rig: Rig, instance_id: str) -> int:
    with rig.orchestrator.ctx.db.read() as session:
        row = repo.get_instance(session, instance_id)
        assert row is not None
        return row.health_restarts


def test_the_restart_count_starts_over_only_after_a_quiet_while(rig: Rig) -> None:
    instance_id = rig.create()
    rig.settle()
    rig.hung.add(instance_id)  # type: ignore[attr-defined]
    assert _round(rig, 0) == [instance_id]
    rig.hung.discard(instance_id)  # type: ignore[attr-defined]
    _round(rig, 50)  # answers, but the restart was recent: it still counts
    assert _restarts(rig, instance_id) == 1
    _round(rig, 60)  # 110 s > 10 heal rounds of 10 s and the 80 s ladder
    assert _restarts(rig, instance_id) == 0
    assert rig.get(instance_id)["health"]["state"] == "ok"
