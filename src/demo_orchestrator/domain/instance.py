"""The instance: ids, the status state machine, durations and step plans. Pure, no I/O."""

from __future__ import annotations

import math
import re
import secrets
import string
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from demo_orchestrator.domain.errors import BadRequest, InvalidTransition

ID_ALPHABET = string.ascii_lowercase + string.digits
ID_RE = re.compile(r"^demo-[a-z0-9]{6}$")


def new_instance_id() -> str:
    return "demo-" + "".join(secrets.choice(ID_ALPHABET) for _ in range(6))


def is_instance_id(value: str) -> bool:
    return bool(ID_RE.fullmatch(value))


class Status(StrEnum):
    PENDING_APPROVAL = "pending_approval"
    REJECTED = "rejected"
    PENDING = "pending"
    PROVISIONING = "provisioning"
    READY = "ready"
    SLEEPING = "sleeping"
    FAILED = "failed"
    DELETING = "deleting"
    DELETED = "deleted"


class Desired(StrEnum):
    """What the user asked for; the engine converges the status towards it."""

    READY = "ready"
    SLEEPING = "sleeping"
    DELETED = "deleted"


TERMINAL = frozenset({Status.DELETED, Status.REJECTED})
LIVE = frozenset(
    {Status.PENDING_APPROVAL, Status.PENDING, Status.PROVISIONING, Status.READY, Status.SLEEPING}
)

TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.PENDING_APPROVAL: frozenset(
        {Status.PENDING, Status.REJECTED, Status.DELETING, Status.DELETED}
    ),
    Status.REJECTED: frozenset(),
    Status.PENDING: frozenset({Status.PROVISIONING, Status.DELETING, Status.DELETED}),
    Status.PROVISIONING: frozenset(
        {Status.READY, Status.FAILED, Status.DELETING, Status.PROVISIONING}
    ),
    Status.READY: frozenset({Status.PROVISIONING, Status.SLEEPING, Status.DELETING, Status.FAILED}),
    Status.SLEEPING: frozenset({Status.PROVISIONING, Status.DELETING}),
    Status.FAILED: frozenset({Status.DELETING, Status.DELETED}),
    Status.DELETING: frozenset({Status.DELETED, Status.DELETING}),
    Status.DELETED: frozenset(),
}


def check_transition(current: Status, target: Status) -> None:
    if target not in TRANSITIONS[current]:
        raise InvalidTransition(f"an instance that is {current.value} cannot become {target.value}")


class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    SKIPPED = "skipped"
    FAILED = "failed"
    TORN_DOWN = "torn_down"


# Steps in these states have nothing to undo: skipped, or already undone. A pending step may
# hold something (rewound for a retry, or reset in place), so teardown undoes it too: undo is
# idempotent, and "already gone" is success.
NOTHING_TO_UNDO = frozenset({StepStatus.SKIPPED, StepStatus.TORN_DOWN})
# Steps in these states need no work when provisioning resumes.
FINISHED = frozenset({StepStatus.DONE, StepStatus.SKIPPED})


def as_utc(value: datetime) -> datetime:
    """Times without a zone are read as UTC (API input, cursors); aware ones are kept."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def validate_duration(hours: float, *, max_hours: float) -> float:
    if not isinstance(hours, (int, float)) or isinstance(hours, bool):
        raise BadRequest("duration_hours must be a number of hours, e.g. 2 or 0.25")
    if math.isnan(hours) or hours <= 0:
        raise BadRequest("duration_hours must be greater than 0, e.g. 2 or 0.25 (15 minutes)")
    if hours > max_hours:
        raise BadRequest(
            f"duration_hours {hours:g} is over the cap of {max_hours:g} hours; ask for at most "
            f"{max_hours:g}"
        )
    return float(hours)


def extended_expiry(
    *, created_at: datetime, expires_at: datetime, hours: float, max_hours: float, now: datetime
) -> datetime:
    """The new expiry after extending by `hours`, keeping total life within the cap."""
    if (
        not isinstance(hours, (int, float))
        or isinstance(hours, bool)
        or math.isnan(hours)
        or hours <= 0
    ):
        raise BadRequest("hours must be a number greater than 0, e.g. 1 or 0.5")
    base = max(expires_at, now)
    cap = created_at + timedelta(hours=max_hours)
    # More than the whole cap (1e308, inf) is refused before any date math, which would overflow.
    new_expiry = base + timedelta(hours=hours) if hours <= max_hours else None
    if new_expiry is None or new_expiry > cap + timedelta(seconds=1):
        # Rounded down, so the amount the message offers is always accepted.
        left = math.floor(max(0.0, (cap - base).total_seconds() / 36)) / 100
        raise BadRequest(
            f"extending by {hours:g} h would pass the {max_hours:g}-hour cap on a demo's life; "
            f"at most {left:.2f} h more is allowed"
        )
    return min(new_expiry, cap)


@dataclass(frozen=True)
class Cost:
    hourly_usd: float
    accrued_usd: float


def cost_of(
    *,
    hourly_usd: float,
    started_at: datetime | None,
    ended_at: datetime | None,
    now: datetime,
    sleeping_hourly_usd: float = 0.0,
    slept_seconds: float = 0.0,
    sleeping_since: datetime | None = None,
) -> Cost:
    """Cost accrues from the start of provisioning to deletion (or now): awake hours at the full
    rate, sleeping hours (closed sleeps plus the one going on) at the sleeping rate."""
    if started_at is None:
        return Cost(hourly_usd=hourly_usd, accrued_usd=0.0)
    end = ended_at or now
    life = max(0.0, (end - started_at).total_seconds())
    asleep = slept_seconds
    if sleeping_since is not None:
        asleep += max(0.0, (end - sleeping_since).total_seconds())
    asleep = min(asleep, life)
    accrued = ((life - asleep) * hourly_usd + asleep * sleeping_hourly_usd) / 3600
    return Cost(hourly_usd=hourly_usd, accrued_usd=round(accrued, 4))


MAX_BACKOFF_SECONDS = 10.0


def backoff(attempt: int, *, base: float, floor: float = 0.0, jitter: float = 1.0) -> float:
    """Seconds before retry number `attempt` (1-based): the one back-off formula of the engine.

    `base` doubles per attempt; `jitter` (a random number in [0, 1)) scales that by 0.5-1.0, so
    many demos failing together against one server spread their retries out; the result is at
    least `floor` (the delay the error asked for) and at most MAX_BACKOFF_SECONDS.
    """
    spread = float(base * 2 ** max(0, attempt - 1) * (0.5 + 0.5 * jitter))
    return min(MAX_BACKOFF_SECONDS, max(floor, spread))
