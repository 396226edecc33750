"""Booked demos in-process (fake providers, fake clock): scheduled, made a lead time before the
start, ready at the start, gone at the end; refused at booking time when they cannot be honoured;
cancelled at once; the lead time follows measured provisioning times."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from demo_orchestrator.domain.errors import BadRequest, Forbidden, QuotaExceeded
from demo_orchestrator.engine.booking import lead_time, p95
from demo_orchestrator.engine.service import CreateInstance, Principal
from tests.fakes.engine import ADMIN, Rig

SALLY = Principal("sally", "sales")


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    made = Rig(
        tmp_path,
        booking_lead_floor_seconds=60,
        booking_lead_default_seconds=120,
        max_instances_per_owner=2,
    )
    yield made
    made.close()


def test_a_booking_is_scheduled_then_ready_before_its_start_and_gone_after_its_end(
    rig: Rig,
) -> None:
    start = rig.clock() + timedelta(hours=1)
    instance_id = rig.create(starts_at=start, duration_hours=0.5)
    booked = rig.get(instance_id)
    assert booked["status"] == "scheduled"
    assert booked["starts_at"] == start.isoformat().replace("+00:00", "Z")
    assert booked["expires_at"] == (start + timedelta(minutes=30)).isoformat().replace(
        "+00:00", "Z"
    )
    assert booked["urls"] == {} and booked["rep_login_url"] is None
    rig.settle(3600 - 121)  # just before the lead time (no history: the 120 s default)
    assert rig.get(instance_id)["status"] == "scheduled"
    assert rig.calls("ensure") == []  # nothing is made for a booking before its time
    rig.settle(60)
    assert rig.clock() < start
    assert rig.get(instance_id)["status"] == "ready"
    rig.settle(60 + 30 * 60 + 5)
    assert rig.get(instance_id)["status"] == "deleted"
    assert rig.runtime.owned() == set() and rig.database.owned() == set()


def test_the_lead_time_follows_measured_provisioning_times(rig: Rig) -> None:
    assert p95([1.0] * 19 + [100.0]) == 1.0
    assert p95([1.0] * 18 + [50.0, 100.0]) == 50.0
    settings = rig.orchestrator.ctx.settings
    with rig.orchestrator.ctx.db.read() as session:
        assert lead_time(session, settings, "startup") == timedelta(seconds=120)
    instance_id = rig.create()
    rig.settle(40)  # the fake runtime's health check passes after some polls of the clock
    made = rig.get(instance_id)
    assert made["status"] == "ready"
    with rig.orchestrator.ctx.db.read() as session:
        lead = lead_time(session, settings, made["scenario"])
    # 2 x the measured time, but never under the 60 s floor.
    assert lead >= timedelta(seconds=60)
    with rig.orchestrator.ctx.db.read() as session:
        assert lead_time(session, settings, "never-made") == timedelta(seconds=120)


def test_a_booking_that_cannot_be_honoured_is_refused_when_made(rig: Rig) -> None:
    start = rig.clock() + timedelta(days=2)
    with pytest.raises(BadRequest, match="starts_at .* past"):
        rig.create(starts_at=rig.clock() - timedelta(minutes=1))
    with pytest.raises(BadRequest, match="30 days"):
        rig.create(starts_at=rig.clock() + timedelta(days=31))
    with pytest.raises(BadRequest, match="offset"):
        rig.create(starts_at=datetime(2026, 12, 1, 14, 0))
    with pytest.raises(BadRequest, match="cap of 8 hours"):
        rig.create(starts_at=start, duration_hours=9)
    rig.create(starts_at=start, duration_hours=2)
    rig.create(starts_at=start + timedelta(hours=1), duration_hours=2)
    with pytest.raises(QuotaExceeded, match="your maximum of 2"):
        rig.create(starts_at=start + timedelta(minutes=90), duration_hours=1)
    # Not overlapping: the same owner may book the evening.
    rig.create(starts_at=start + timedelta(hours=5), duration_hours=1)
    # Sales policy: over the sales hours, or over the concurrent demos, refused at once.
    with pytest.raises(Forbidden, match="longer than the 2 h"):
        rig.service.create(SALLY, CreateInstance(starts_at=start, duration_hours=3))
    rig.service.create(SALLY, CreateInstance(starts_at=start, duration_hours=1))
    rig.service.create(SALLY, CreateInstance(starts_at=start, duration_hours=1))
    with pytest.raises(QuotaExceeded, match="sally|your maximum"):
        rig.service.create(SALLY, CreateInstance(starts_at=start, duration_hours=1))


def test_an_immediate_demo_counts_bookings_that_overlap_it(rig: Rig) -> None:
    rig.create(starts_at=rig.clock() + timedelta(minutes=30), duration_hours=1)
    rig.create(starts_at=rig.clock() + timedelta(minutes=30), duration_hours=1)
    with pytest.raises(QuotaExceeded, match="your maximum of 2"):
        rig.create(duration_hours=1)
    rig.create(duration_hours=0.25)  # over before the bookings start


def test_cancelling_a_booking_frees_everything_at_once(rig: Rig) -> None:
    start = rig.clock() + timedelta(days=1)
    first = rig.create(starts_at=start)
    rig.create(starts_at=start)
    with pytest.raises(QuotaExceeded):
        rig.create(starts_at=start)
    assert rig.service.delete(ADMIN, first)["status"] == "deleted"
    rig.create(starts_at=start)  # its slot is free again at once
    rig.settle(2 * 86400)
    assert rig.get(first)["status"] == "deleted"
    assert all(i != first for _, _, i in rig.journal)  # nothing was ever made for it


def test_meeting_at_is_an_alias_read_with_its_offset(rig: Rig) -> None:
    paris = timezone(timedelta(hours=1))
    local = (rig.clock() + timedelta(hours=3)).astimezone(paris)
    instance = rig.get(rig.create(meeting_at=local))
    assert instance["status"] == "scheduled"
    assert instance["starts_at"] == instance["meeting_at"]
    assert instance["starts_at"] == local.astimezone(UTC).isoformat().replace("+00:00", "Z")


def test_a_booking_within_its_lead_time_is_claimed_from_the_warm_pool(rig: Rig) -> None:
    rig.orchestrator.pool.set_target(ADMIN, "agency", 1)
    for _ in range(2):
        rig.orchestrator.pool.refill()
        rig.settle()
    far = rig.get(rig.create(scenario="agency", starts_at=rig.clock() + timedelta(hours=3)))
    assert far["status"] == "scheduled"  # a later booking leaves the pool alone
    start = rig.clock() + timedelta(seconds=90)  # within the 120 s lead: made at once
    booked = rig.get(rig.create(scenario="agency", starts_at=start, duration_hours=1))
    assert booked["status"] == "ready"
    assert booked["expires_at"] == (start + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    audit = rig.service.audit(ADMIN, booked["id"])
    assert audit[-1]["detail"]["from_warm_pool"] is True
    assert audit[-1]["detail"]["starts_at"] == start.isoformat()
