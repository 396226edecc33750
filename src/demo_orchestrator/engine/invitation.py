"""A demo's calendar invitation (RFC 5545 through `icalendar`): the owner's meeting, in the
owner's time zone, with the demo's URLs and personas' names.

It goes into calendars and mail boxes that outlive the demo and are forwarded, so it never
carries a sign-in link of any kind (no persona link, no rep link, no token): whoever opens it
still signs in through the orchestrator. The UID is the demo's id, so a second download updates
the same calendar entry instead of adding one.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from icalendar import Alarm, Calendar, Event

from demo_orchestrator.domain.errors import BadRequest

PRODID = "-//demo-orchestrator//booked demos//EN"


def checked_zone(name: str) -> str:
    """An IANA zone name (e.g. Europe/Paris), or a one-line reason it is not one."""
    name = (name or "").strip()
    if not name or len(name) > 64 or name not in available_timezones() | {"UTC"}:
        raise BadRequest(
            f"{name[:64]!r} is not an IANA time zone; use a name like Europe/Paris, "
            "America/New_York or UTC"
        )
    return name


def zone(name: str | None) -> ZoneInfo:
    """The zone of a stored name; UTC for none or one this machine no longer knows."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def invitation(
    instance: dict[str, Any],
    *,
    start: datetime,
    end: datetime,
    stamp: datetime,
    tz: ZoneInfo,
    urls: dict[str, str],
    persona_names: list[str],
    reminders: list[int],
) -> bytes:
    """The .ics of one demo; `instance` is its public view (name, prospect, id, scenario)."""
    prospect = (instance.get("prospect") or {}).get("company")
    summary = f"Demo: {instance['name']}" + (f" for {prospect}" if prospect else "")
    lines = [
        f"Demo {instance['id']} ({instance['scenario']}): ready before the start, deleted at the end.",
        "",
        "URLs:",
        *[f"  {route}: {url}" for route, url in sorted(urls.items())],
    ]
    if persona_names:
        lines += ["", "Personas: " + ", ".join(persona_names)]
    lines += ["", "Sign-in links are on the demo's page in the orchestrator once it is ready."]

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = Event()
    event.add("uid", f"{instance['id']}@demo-orchestrator")
    event.add("dtstamp", stamp)
    event.add("dtstart", start.astimezone(tz))
    event.add("dtend", end.astimezone(tz))
    event.add("summary", summary)
    event.add("description", "\n".join(lines))
    if urls:
        event.add("url", min(urls.items())[1])
    for minutes in reminders:
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", f"{summary} starts in {minutes} minutes")
        alarm.add("trigger", timedelta(minutes=-minutes))
        event.add_component(alarm)
    calendar.add_component(event)
    calendar.add_missing_timezones()
    return bytes(calendar.to_ical())
