"""Bounds on what people type, shared by every entry point (API schemas, web forms, services).

Text that reaches a demo (its name, notes, prospect fields) ends up in the demo's environment,
its seed data and its HTML: a control character there made demos fail after they were accepted.
Dates near the calendar's ends overflow the moment a duration is added to them. Both are refused
when they come in, with a message that names the field.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

from demo_orchestrator.domain.errors import BadRequest

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
# Control, format (bidi overrides, zero-width), surrogate, private-use, unassigned characters and
# the Unicode line/paragraph separators.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def unprintable(value: str, *, multiline: bool = False) -> str | None:
    """Why `value` is not printable text (None when it is); line breaks and tabs are allowed
    only in multi-line text."""
    for index, char in enumerate(value):
        if multiline and char in "\n\t":
            continue
        if unicodedata.category(char) in _REFUSED_CATEGORIES:
            return (
                f"contains the control or invisible character U+{ord(char):04X} at position "
                f"{index}; send printable text only"
            )
    return None


def check_text(field: str, value: str | None, *, multiline: bool = False) -> None:
    """Raise `BadRequest` naming `field` when `value` is not printable."""
    if value is None:
        return
    why = unprintable(value, multiline=multiline)
    if why is not None:
        raise BadRequest(f"{field}: {why}")


def bounded_date(value: datetime) -> datetime | None:
    """`value` in UTC (naive read as UTC) when between 1970 and 9000, else None."""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        utc = aware.astimezone(UTC)
    except OverflowError:
        return None
    return utc if EARLIEST <= utc < LATEST else None


def check_date(field: str, value: datetime | None) -> None:
    """Raise `BadRequest` naming `field` when `value` is outside 1970-9000."""
    if value is not None and bounded_date(value) is None:
        raise BadRequest(f"{field}: must be a date between 1970-01-01 and 9000-01-01")
