"""Request and response schemas of the REST API (separate Create / Public shapes).

Input is bounded here, at the edge, so that nothing a client sends can end in a 500 or break a
demo later: strings that reach a demo's environment (names, notes, prospect fields, scenario and
blueprint names) must be printable, numbers of hours are finite and below any cap a setting could
name, and dates stay far enough from the calendar's ends that adding a demo's life or a month of
usage cannot overflow.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from demo_orchestrator.domain.inputs import bounded_date, unprintable

# Hours no setting could reasonably allow (ten years): the engine's own cap (DEMO_MAX_HOURS)
# answers with its message below this; above it the number is refused before any date math.
HOURS_LIMIT = 24 * 366 * 10


def _line(value: str) -> str:
    why = unprintable(value)
    if why is not None:
        raise ValueError(why)
    return value


def _text(value: str) -> str:
    why = unprintable(value, multiline=True)
    if why is not None:
        raise ValueError(why)
    return value


def _bounded_date(value: datetime) -> datetime:
    """Aware, in UTC, and between 1970 and 9000 (naive times are read as UTC)."""
    utc = bounded_date(value)
    if utc is None:
        raise ValueError("must be a date between 1970-01-01 and 9000-01-01")
    return utc


Line = Annotated[str, AfterValidator(_line)]
"""One line of printable text (names, prospect fields)."""
Text = Annotated[str, AfterValidator(_text)]
"""Printable text that may have line breaks and tabs (notes)."""
Name = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_line)]
"""A scenario or blueprint name."""
ApiDatetime = Annotated[datetime, AfterValidator(_bounded_date)]
"""An ISO 8601 date and time between 1970 and 9000, returned in UTC."""
Hours = Annotated[float, Field(gt=0, le=HOURS_LIMIT, allow_inf_nan=False)]


def _email(value: str | None) -> str | None:
    if value is not None and not EMAIL.fullmatch(value):
        raise ValueError("is not an e-mail address like name@example.com")
    return value


def _web_url(value: str | None) -> str | None:
    if value is not None:
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.hostname or parts.username:
            raise ValueError("is not an http(s) URL (like https://crm.example.com/deals/42)")
    return value


EMAIL = re.compile(r"[^@\s<>,;:\x00-\x1f\x7f]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


class ProspectIn(BaseModel):
    """Who the demo is for, and the CRM deal it belongs to (mapped to HubSpot and Salesforce
    fields in the README); only `company` and `industry` reach the demo itself."""

    model_config = ConfigDict(extra="forbid")

    company: Line = Field(min_length=1, max_length=200)
    industry: Line | None = Field(default=None, max_length=200)
    contact_name: Line | None = Field(default=None, max_length=200)
    contact_email: Annotated[Line, AfterValidator(_email)] | None = Field(
        default=None, max_length=254
    )
    opportunity_id: Line | None = Field(
        default=None, max_length=100, description="The deal's id in the CRM."
    )
    opportunity_url: Annotated[Line, AfterValidator(_web_url)] | None = Field(
        default=None, max_length=2000, description="The deal's page in the CRM."
    )
    stage: Line | None = Field(default=None, max_length=100, description="The deal's stage.")


class InstanceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scenario: Name | None = Field(
        default=None, description="Scenario name; the blueprint's default if unset."
    )
    duration_hours: Hours = Field(
        description="Hours until expiry, > 0, fractions allowed, at most DEMO_MAX_HOURS."
    )
    name: Line | None = Field(default=None, max_length=200)
    prospect: ProspectIn | None = None
    notes: Text | None = Field(default=None, max_length=5000)
    blueprint: Name | None = Field(
        default=None, description="Blueprint name; DEMO_BLUEPRINT if unset."
    )
    starts_at: Annotated[AwareDatetime, AfterValidator(_bounded_date)] | None = Field(
        default=None,
        description="Book the demo for a meeting at this time (RFC 3339 with an offset, in the "
        "future, at most 30 days ahead): it is `scheduled`, made ready before the start and "
        "expires duration_hours after it.",
    )
    meeting_at: Annotated[AwareDatetime, AfterValidator(_bounded_date)] | None = Field(
        default=None,
        description="Deprecated alias of starts_at (kept one release); an absolute time.",
    )


class ExtendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hours: Hours = Field(description="Hours to add; the total life stays within DEMO_MAX_HOURS.")


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.@-]+$")
    role: str = Field(pattern=r"^(admin|sales|viewer)$")
    name: Line | None = Field(default=None, max_length=128)
    expires_at: Annotated[AwareDatetime, AfterValidator(_bounded_date)] | None = Field(
        default=None,
        description="When the token stops working (ISO 8601 with offset); never when unset.",
    )


class RejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Text = Field(min_length=1, max_length=1000)


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.@-]+$")
    role: str = Field(pattern=r"^(admin|sales|viewer)$")
    password: str = Field(
        min_length=1,
        max_length=200,
        description="At least 12 characters, not a common password, not containing the name.",
    )
    email: str | None = Field(
        default=None,
        max_length=254,
        description="Where notification e-mails go (with DEMO_SMTP_URL set); optional.",
    )


class UserPublic(BaseModel):
    name: str
    role: str
    email: str | None = None


class UserEmail(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str | None = Field(
        max_length=254, description="The address notification e-mails go to; null removes it."
    )


class UserTimezone(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timezone: str = Field(
        min_length=1,
        max_length=64,
        description="IANA time zone (e.g. Europe/Paris) of the user's invitations and schedule.",
    )


class UserTimezoneInfo(BaseModel):
    name: str
    timezone: str


class TokenInfo(BaseModel):
    """A token as listed: never its secret nor its hash."""

    id: int
    name: str
    user: str
    role: str
    created_at: str
    expires_at: str | None
    revoked_at: str | None


class TokenPublic(TokenInfo):
    """The answer to a create: the secret, shown this once."""

    token: str


class TokenList(BaseModel):
    items: list[TokenInfo]


class UserInfo(BaseModel):
    name: str
    role: str
    created_at: str
    disabled_at: str | None
    web_sign_in: bool = Field(description="Whether the user has a password for the web UI.")
    email: str | None = Field(default=None, description="Where notification e-mails go.")


class UserList(BaseModel):
    items: list[UserInfo]


class Step(BaseModel):
    name: str
    status: str
    started_at: str | None
    finished_at: str | None
    duration_seconds: float | None
    retries: int
    message: str | None
    error: str | None


class Persona(BaseModel):
    name: str
    role: str
    email: str
    show: str
    login_url: str | None


class TourStep(BaseModel):
    step: int = Field(description="1-based position in the scenario's guided tour.")
    persona: str
    email: str | None = Field(description="The e-mail the step's persona signs in with.")
    route: str = Field(description="The site the step is on (`portal` or `candidate`).")
    page: str
    action: str
    talking_point: str
    expect: dict[str, Any] | None = Field(
        default=None, description="What must be on the step's page (selector, text, ...)."
    )
    url: str | None = Field(
        description="Signs the rep in and opens the step as its persona "
        "(`<rep_login_url>&step=N`); null whenever `rep_login_url` is."
    )


class Cost(BaseModel):
    hourly_usd: float
    sleeping_hourly_usd: float = Field(description="The rate while asleep (data kept only).")
    accrued_usd: float = Field(
        description="Awake hours at hourly_usd, asleep at the sleeping rate."
    )


class Health(BaseModel):
    state: Literal["ok", "degraded"] = Field(
        description="`degraded`: a service stopped answering its health path and restarts did "
        "not help; the status stays `ready`."
    )
    reason: str | None = Field(description="Why it is degraded (null when ok).")
    since: str = Field(description="Since when the state holds (ISO 8601).")


class InstancePublic(BaseModel):
    id: str
    status: str
    desired: str
    blueprint: str
    scenario: str
    owner: str
    name: str
    prospect: dict[str, Any] | None
    notes: str | None
    created_at: str
    ready_at: str | None
    expires_at: str
    ended_at: str | None
    duration_hours: float
    meeting_at: str | None = None
    starts_at: str | None = Field(
        default=None, description="The meeting a booked demo is for (null: made at once)."
    )
    waiting_reason: str | None = None
    urls: dict[str, str]
    personas: list[Persona]
    rep_login_url: str | None = Field(
        default=None,
        description="Signs the rep in to the demo with a view of the whole demo and every "
        "persona's link; null until the demo has links (and for blueprints without one).",
    )
    tour: list[TourStep] = Field(
        default_factory=list,
        description="The scenario's guided tour, one object per step in order, each with `url`, "
        "the deep link that opens the step as its persona (null while `rep_login_url` is).",
    )
    steps: list[Step]
    cost: Cost
    health: Health
    error: str | None


class InstancePage(BaseModel):
    items: list[InstancePublic]
    next_cursor: str | None
