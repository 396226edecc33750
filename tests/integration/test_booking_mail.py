"""A booked demo's owner gets its .ics invitation attached to the `starting` and `ready` mails,
through a real SMTP server (aiosmtpd on loopback), in the owner's time zone."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from icalendar import Calendar

from demo_orchestrator.engine.service import CreateInstance
from demo_orchestrator.store.models import UserRow
from tests.fakes.receivers import Inbox
from tests.integration.test_mail_notifications import SAM, make_rig, smtp

__all__ = ["smtp"]  # the fixture, used by name


def test_the_owners_starting_and_ready_mails_carry_the_invitation(
    tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    rig = make_rig(tmp_path, port)
    try:
        with rig.orchestrator.ctx.db.write() as session:
            user = session.get(UserRow, "sam")
            assert user is not None
            user.timezone = "Asia/Tokyo"
        start = rig.clock() + timedelta(hours=1)
        booked, _ = rig.service.create(
            SAM, CreateInstance(duration_hours=1, starts_at=start, prospect={"company": "Initech"})
        )
        rig.clock.now = start - timedelta(minutes=4)  # past the 5-minute lead, inside the reminder
        rig.settle()
        assert rig.get(booked["id"])["status"] == "ready"
        rig.orchestrator.notifier.tick()
        mails = inbox.to("sam@acme.example")
        subjects = sorted(m["Subject"] for m in mails)
        assert any("starts soon" in s for s in subjects) and any("is ready" in s for s in subjects)
        for mail in mails:
            [attached] = [p for p in mail.walk() if p.get_content_type() == "text/calendar"]
            assert attached.get_filename() == f"{booked['id']}.ics"
            content = attached.get_payload(decode=True)
            assert isinstance(content, bytes)
            [event] = Calendar.from_ical(content).walk("VEVENT")
            dtstart = event.decoded("dtstart")
            assert dtstart == start.replace(microsecond=0)
            assert dtstart.tzinfo == ZoneInfo("Asia/Tokyo")
            assert b"token" not in content.lower() and b"login" not in content.lower()
    finally:
        rig.orchestrator.notifier.stop()
        rig.close()
