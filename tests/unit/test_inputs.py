"""Bounds on typed input shared by every entry point: printable text, dates, hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from demo_orchestrator.domain.errors import BadRequest
from demo_orchestrator.domain.inputs import bounded_date, check_date, check_text, unprintable
from demo_orchestrator.domain.instance import extended_expiry
from demo_orchestrator.engine.service import CreateInstance

T0 = datetime(2026, 11, 27, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    "text", ["a\x00b", "Acme\x1b[31m", "x\u202ey", "zero\u200bwidth", "line\u2028sep", "\x7f"]
)
def test_control_and_invisible_characters_are_refused(text: str) -> None:
    assert unprintable(text) is not None
    with pytest.raises(BadRequest, match=r"^name: contains the control or invisible character"):
        check_text("name", text)


@pytest.mark.parametrize("text", ["Acme Corp.", "Zoë & Søn — Ärzte", "株式会社", "🚀 launch"])
def test_printable_text_of_any_script_passes(text: str) -> None:
    assert unprintable(text) is None


def test_line_breaks_only_in_multiline_text() -> None:
    assert unprintable("first\nsecond\tthird", multiline=True) is None
    assert unprintable("first\nsecond") is not None
    assert unprintable("first\r\nsecond", multiline=True) is not None


@pytest.mark.parametrize(
    "value",
    [
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).astimezone().replace(tzinfo=None),
        datetime(1, 1, 1, 0, 0).replace(tzinfo=UTC).astimezone(UTC),
    ],
)
def test_dates_at_the_calendar_edges_are_refused(value: datetime) -> None:
    assert bounded_date(value) is None
    with pytest.raises(BadRequest, match="between 1970-01-01 and 9000-01-01"):
        check_date("meeting_at", value)


def test_a_date_west_of_utc_that_would_overflow_is_refused_not_raised() -> None:
    from datetime import timezone

    edge = datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-14)))
    assert bounded_date(edge) is None


def test_create_refuses_unprintable_fields_whatever_the_entry_point() -> None:
    with pytest.raises(BadRequest, match=r"^prospect\.company: "):
        CreateInstance(duration_hours=1, prospect={"company": "Acme\x00"})
    with pytest.raises(BadRequest, match=r"^notes: "):
        CreateInstance(duration_hours=1, notes="ok\nbut\x07")
    with pytest.raises(BadRequest, match=r"^meeting_at: "):
        CreateInstance(duration_hours=1, meeting_at=datetime(1, 1, 1, tzinfo=UTC))
    assert CreateInstance(duration_hours=1, name="Acme", notes="line one\nline two").name


@pytest.mark.parametrize("hours", [1e308, float("inf"), 10**30])
def test_extending_by_an_enormous_number_is_refused_not_overflowing(hours: float) -> None:
    with pytest.raises(BadRequest, match="cap on a demo's life"):
        extended_expiry(
            created_at=T0, expires_at=T0 + timedelta(hours=1), hours=hours, max_hours=8, now=T0
        )
