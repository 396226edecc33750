"""Bounds on what people type, shared by every entry point (API schemas, web forms, services).

Text that reaches a demo (its name, notes, prospect fields) ends up in the demo's environment,
its seed data and its HTML: a control character there made demos fail after they were accepted.
Dates near the calendar's ends overflow the moment a duration is added to them. Both are refused
when they come in, with a message that names the field.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from urllib.parse import urlsplit

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


PROSPECT_FIELDS = {
    "company": 200,
    "industry": 200,
    "contact_name": 200,
    "contact_email": 254,
    "opportunity_id": 100,
    "opportunity_url": 2000,
    "stage": 100,
}
_EMAIL = re.compile(r"[^@\s<>,;:\x00-\x1f\x7f]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


def check_prospect(prospect: dict[str, object] | None) -> None:
    """The prospect and its CRM deal, whatever the entry point: known fields, printable and
    bounded text, a plain e-mail address, an http(s) deal URL."""
    for key, value in (prospect or {}).items():
        if key not in PROSPECT_FIELDS:
            raise BadRequest(
                f"prospect.{key[:40]} is not a prospect field; use {', '.join(PROSPECT_FIELDS)}"
            )
        if value is None:
            continue
        if not isinstance(value, str) or len(value) > PROSPECT_FIELDS[key]:
            raise BadRequest(f"prospect.{key} is text of at most {PROSPECT_FIELDS[key]} characters")
        check_text(f"prospect.{key}", value)
    email = (prospect or {}).get("contact_email")
    if isinstance(email, str) and not _EMAIL.fullmatch(email):
        raise BadRequest("prospect.contact_email is not an e-mail address like name@example.com")
    url = (prospect or {}).get("opportunity_url")
    if isinstance(url, str):
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname or parts.username:
            raise BadRequest(
                "prospect.opportunity_url is not an http(s) URL like "
                "https://crm.example.com/deals/42"
            )
