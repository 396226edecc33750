"""Booked demos through the API (in-process app, fake providers, a clock moved by hand), their
.ics invitation parsed with `icalendar`, and `starting` reminders POSTed over real HTTP to a real
webhook receiver on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from demo_orchestrator.app import create_app
from demo_orchestrator.engine.service import CreateInstance
from tests.fakes.engine import ADMIN, Rig
from tests.fakes.receivers import Receiver
from tests.integration.test_webhooks import SAM, call, real_now_clock, subscribe

PASSWORD = "Copper-Lantern-Healing-4821"


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    made = Rig(
        tmp_path,
        clock=real_now_clock(),
        webhook_allow_private_networks=True,
        webhook_timeout_seconds=1,
        start_reminder_minutes="15,5",
        booking_lead_floor_seconds=60,
        booking_lead_default_seconds=300,
    )
    made.orchestrator.accounts.bootstrap()
    made.orchestrator.accounts.create_user(name="sam", role="sales", password=PASSWORD, actor=ADMIN)
    made.orchestrator.notifier.begin()
    yield made
    made.orchestrator.notifier.stop()
    made.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.close()


def iso(value: datetime) -> str:
    return value.isoformat()


def test_starts_at_is_validated_and_named_in_the_problem(rig: Rig) -> None:
    app = create_app(rig.orchestrator)
    now = rig.clock()
    for starts_at, says in (
        ("2026-12-01T14:00:00", "starts_at"),  # no offset
        (iso(now - timedelta(minutes=5)), "starts_at"),
        (iso(now + timedelta(days=31)), "30 days"),
        ("tomorrow", "starts_at"),
    ):
        answer = call(
            app,
            "POST",
            "/api/v1/demo-instances",
            {"duration_hours": 1, "starts_at": starts_at},
        )
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert says in answer.text
    over = call(
        app,
        "POST",
        "/api/v1/demo-instances",
        {"duration_hours": 9, "starts_at": iso(now + timedelta(days=1))},
    )
    assert over.status_code == 422 and "cap of 8 hours" in over.json()["detail"]


def test_a_booking_shows_scheduled_and_its_ics_is_in_the_owners_time_zone(rig: Rig) -> None:
    app = create_app(rig.orchestrator)
    paris = ZoneInfo("Europe/Paris")
    bad = call(app, "PUT", "/api/v1/users/sam/timezone", {"timezone": "Mars/Olympus"})
    assert bad.status_code == 422 and "IANA" in bad.json()["detail"]
    answer = call(app, "PUT", "/api/v1/users/sam/timezone", {"timezone": "Europe/Paris"})
    assert answer.status_code == 200 and answer.json() == {
        "name": "sam",
        "timezone": "Europe/Paris",
    }
    start = (rig.clock() + timedelta(days=2)).replace(second=0, microsecond=0)
    made, _ = rig.service.create(
        SAM,
        CreateInstance(
            duration_hours=1.5,
            starts_at=start.astimezone(ZoneInfo("America/New_York")),
            prospect={"company": "Initech"},
            name="Quarterly review",
        ),
    )
    shown = call(app, "GET", f"/api/v1/demo-instances/{made['id']}").json()
    assert shown["status"] == "scheduled"
    assert datetime.fromisoformat(shown["starts_at"]) == start
    assert datetime.fromisoformat(shown["expires_at"]) == start + timedelta(hours=1.5)

    ics = call(app, "GET", f"/api/v1/demo-instances/{made['id']}/calendar.ics")
    assert ics.status_code == 200
    assert ics.headers["content-type"].startswith("text/calendar")
    calendar = Calendar.from_ical(ics.content)
    [event] = calendar.walk("VEVENT")
    dtstart, dtend = event.decoded("dtstart"), event.decoded("dtend")
    assert dtstart == start and dtend == start + timedelta(hours=1.5)
    assert (
        str(dtstart.tzinfo) == "Europe/Paris"
        and dtstart.utcoffset() == start.astimezone(paris).utcoffset()
    )
    assert "TZID=Europe/Paris" in ics.text
    assert [tz["tzid"] for tz in calendar.walk("VTIMEZONE")] == ["Europe/Paris"]
    assert "Quarterly review" in str(event["summary"]) and "Initech" in str(event["summary"])
    description = str(event["description"])
    assert f"://{made['id']}." in description  # the demo's URLs
    assert str(event["uid"]) == f"{made['id']}@demo-orchestrator"
    alarms = event.walk("VALARM")
    assert sorted(a.decoded("trigger") for a in alarms) == [
        timedelta(minutes=-15),
        timedelta(minutes=-5),
    ]
    # Personas' names, never a sign-in link of any kind, even once the demo has links.
    rig.clock.now = start - timedelta(seconds=30)
    rig.settle()
    ready = rig.service.get(ADMIN, made["id"])
    assert ready["status"] == "ready"
    again = call(app, "GET", f"/api/v1/demo-instances/{made['id']}/calendar.ics")
    assert Calendar.from_ical(again.content).walk("VEVENT")[0]["uid"] == event["uid"]
    text = again.text.replace("\r\n ", "")
    for persona in ready["personas"]:
        assert persona["name"] in text
        assert persona["login_url"] and persona["login_url"] not in text
    assert ready["rep_login_url"] is None or ready["rep_login_url"] not in text
    assert "token" not in text.lower() and "login" not in text.lower()


def test_timezone_is_your_own_or_an_admins_to_set(rig: Rig) -> None:
    app = create_app(rig.orchestrator)
    token = rig.orchestrator.accounts.create_token(user="sam", role="sales", name="t", actor=ADMIN)
    secret = token[0] if isinstance(token, tuple) else token
    mine = call(app, "PUT", "/api/v1/users/sam/timezone", {"timezone": "Asia/Tokyo"}, secret)
    assert mine.status_code == 200
    other = call(app, "PUT", "/api/v1/users/admin/timezone", {"timezone": "Asia/Tokyo"}, secret)
    assert other.status_code == 403 and "own time zone" in other.json()["detail"]


def test_starting_reminders_at_each_lead_time_once(rig: Rig, receiver: Receiver) -> None:
    subscribe(rig, ADMIN, receiver.url("/start"), ["starting"], scope="global")
    start = (rig.clock() + timedelta(hours=2)).replace(microsecond=0)
    instance_id = rig.create(starts_at=start)
    notifier = rig.orchestrator.notifier
    rig.clock.now = start - timedelta(minutes=20)
    notifier.tick()
    assert receiver.at("/start") == []
    rig.clock.now = start - timedelta(minutes=14)
    notifier.tick()
    notifier.tick()
    [first] = receiver.at("/start")
    assert first["type"] == "starting" and first["data"]["instance"]["id"] == instance_id
    assert (first["data"]["minutes_left"], first["data"]["lead_minutes"]) == (14, 15)
    assert datetime.fromisoformat(first["data"]["starts_at"]) == start
    rig.clock.now = start - timedelta(minutes=4)
    notifier.tick()
    assert [m["data"]["lead_minutes"] for m in receiver.at("/start")] == [15, 5]
    # A cancelled booking is not announced.
    other = rig.create(starts_at=start + timedelta(minutes=30))
    rig.service.delete(ADMIN, other)
    rig.clock.now = start + timedelta(minutes=20)
    notifier.tick()
    assert len(receiver.at("/start")) == 2
