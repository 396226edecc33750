"""Request and response schemas of the REST API (separate Create / Public shapes).

Input is bounded here, at the edge, so that nothing a client sends can end in a 500 or break a
demo later: strings that reach a demo's environment (names, notes, prospect fields, scenario and
blueprint names) must be printable, numbers of hours are finite and below any cap a setting could
name, and dates stay far enough from the calendar's ends that adding a demo's life or a month of
usage cannot overflow.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

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


class ProspectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    company: Line = Field(min_length=1, max_length=200)
    industry: Line | None = Field(default=None, max_length=200)


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
    meeting_at: ApiDatetime | None = Field(
        default=None, description="When the demo meeting is (ISO 8601)."
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
    waiting_reason: str | None = None
    urls: dict[str, str]
    personas: list[Persona]
    rep_login_url: str | None = Field(
        default=None,
        description="Signs the rep in to the demo with a view of the whole demo and every "
        "persona's link; null until the demo has links (and for blueprints without one).",
    )
    steps: list[Step]
    cost: Cost
    health: Health
    error: str | None


class InstancePage(BaseModel):
    items: list[InstancePublic]
    next_cursor: str | None
