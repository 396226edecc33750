"""A booked demo on a real `democtl serve` (real processes, real HTTP): booked a short while
ahead it is `scheduled` with nothing running, `ready` before its start, and gone after its end;
its invitation is served as text/calendar."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from icalendar import Calendar

from tests.conftest import Server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    made = Server(
        tmp_path,
        # No history on a new store: a 6 s lead, so the booking waits a while, then is made.
        DEMO_BOOKING_LEAD_DEFAULT_SECONDS="6",
        DEMO_BOOKING_LEAD_FLOOR_SECONDS="1",
    ).start()
    yield made
    made.close()


def test_a_booked_demo_is_ready_before_its_start_and_gone_after_its_end(server: Server) -> None:
    start = (datetime.now(UTC) + timedelta(seconds=20)).replace(microsecond=0)
    booked = server.create(starts_at=start.isoformat(), duration_hours=0.005)  # 18 s
    instance_id = booked["id"]
    assert booked["status"] == "scheduled"
    assert datetime.fromisoformat(booked["starts_at"]) == start
    end = datetime.fromisoformat(booked["expires_at"])
    assert end == start + timedelta(seconds=18)
    assert instance_id not in server.demo_processes().values()  # nothing made yet

    ics = server.http.get(f"/api/v1/demo-instances/{instance_id}/calendar.ics")
    assert ics.status_code == 200 and ics.headers["content-type"].startswith("text/calendar")
    [event] = Calendar.from_ical(ics.content).walk("VEVENT")
    assert event.decoded("dtstart") == start and event.decoded("dtend") == end

    ready = server.wait_status(instance_id, "ready", "failed", timeout=60)
    assert ready["status"] == "ready"
    assert datetime.now(UTC) < start, "the booked demo must be ready before its start"
    assert server.demo(instance_id, "portal", "/").status_code < 500

    gone = server.wait_status(instance_id, "deleted", timeout=90)
    assert datetime.fromisoformat(gone["ended_at"]) >= end
    assert instance_id not in server.demo_processes().values()
