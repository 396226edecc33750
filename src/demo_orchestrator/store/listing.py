"""The store side of the instance list: one statement per page, whatever the page size.

The list shows every field of an instance except what only the engine needs, so it reads plain
columns through SQLAlchemy Core (no ORM objects, no identity map) and leaves out what it never
shows: the `outputs` blob (only the approval reason of a request still waiting for approval is
shown, extracted in SQL), the lease and generation columns, and the sealed secrets of demos that
have no sign-in links to show. A page is one indexed keyset query (`pooled, created_at, id`, or
the same led by the status, scenario or owner filter), each row with its steps as one JSON text.
"""

from __future__ import annotations

import base64
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol

from sqlalchemy import JSON, String, Text, case, cast, false, func, or_, select, tuple_, type_coerce
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from demo_orchestrator.domain.errors import BadRequest
from demo_orchestrator.domain.instance import Status, as_utc
from demo_orchestrator.store.models import InstanceRow, StepRow

_I = InstanceRow.__table__.c
_S = StepRow.__table__.c


def _raw(column: Any) -> Any:
    """A time column as the driver gives it (SQLite: the stored text; PostgreSQL: a datetime),
    without a conversion per value: the list converts each distinct value once (`stored_time`)."""
    return type_coerce(column, String).label(column.name)


RawTime = str | datetime


def stored_time(raw: RawTime) -> datetime:
    """A time read by `_raw` as the aware UTC datetime the ORM would have given."""
    value = datetime.fromisoformat(raw) if isinstance(raw, str) else raw
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Statuses whose instance shows sign-in links, so whose sealed secrets the list reads.
SIGN_IN_STATUSES = frozenset(
    s.value
    for s in Status
    if s not in {Status.DELETED, Status.REJECTED, Status.PENDING_APPROVAL, Status.FAILED}
)

LISTED_COLUMNS = (
    _I.id,
    _I.status,
    _I.desired,
    _I.blueprint,
    _I.scenario,
    _I.owner,
    _I.name,
    _I.prospect,
    _I.notes,
    _raw(_I.created_at),
    _raw(_I.started_at),
    _raw(_I.ready_at),
    _raw(_I.expires_at),
    _raw(_I.ended_at),
    _I.duration_hours,
    _raw(_I.meeting_at),
    _raw(_I.starts_at),
    _I.hourly_usd,
    _I.error,
    _I.sleeping_hourly_usd,
    _I.slept_seconds,
    _raw(_I.sleeping_since),
    case(
        (
            _I.status == Status.PENDING_APPROVAL.value,
            type_coerce(_I.outputs, JSON)[("approval", "reason")].as_string(),
        ),
        else_=None,
    ).label("waiting_reason"),
    case((_I.status.in_(sorted(SIGN_IN_STATUSES)), _I.secrets), else_=None).label("secrets"),
    _I.health_state,
    _I.health_reason,
    _raw(_I.health_since),
)

# Each step, in the JSON array of the `steps` column: these, by position in the array.
STEP_FIELDS = (
    "position",
    "name",
    "status",
    "started_at",
    "finished_at",
    "retries",
    "message",
    "error",
)


def _steps_json(dialect: str) -> Any:
    """The instance's steps as one JSON text, `[[position, name, ...], ...]`, by a correlated
    subquery on the steps' primary key: the page and its steps in one statement. Times are as
    the database writes them in JSON (`stored_time` reads both). Plan order is by `position`
    (SQLite 3.40 cannot order inside an aggregate, so readers sort by it)."""
    fields = [getattr(_S, name) for name in STEP_FIELDS]
    if dialect == "postgresql":
        steps = func.json_agg(aggregate_order_by(func.json_build_array(*fields), _S.position))
    else:
        steps = func.json_group_array(func.json_array(*fields))
    return cast(select(steps).where(_S.instance_id == _I.id).scalar_subquery(), Text).label("steps")


# A listed instance: the LISTED_COLUMNS in their order (by name too), times as `_raw` reads
# them, then `steps` (JSON text; None when it has none on PostgreSQL).
ListedRow = Row[*tuple[Any, ...]]


class _Keyed(Protocol):
    @property
    def created_at(self) -> datetime: ...

    @property
    def id(self) -> str: ...


class Keyset(NamedTuple):
    created_at: datetime
    id: str


def encode_cursor(row: _Keyed) -> str:
    raw = f"{row.created_at.isoformat()}|{row.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, instance_id = raw.split("|", 1)
        return as_utc(datetime.fromisoformat(stamp)), instance_id
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(
            "cursor is not valid; pass the next_cursor of a previous page unchanged"
        ) from exc


def list_instances(
    session: Session,
    *,
    status: str | None = None,
    scenario: str | None = None,
    owner: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
    search: str | None = None,
    prospect: str | None = None,
    opportunity: str | None = None,
    hide_statuses: Collection[str] = (),
) -> tuple[Sequence[ListedRow], str | None]:
    """One page of listed instances, newest first (ties by id), warm-pool members left out.

    Rows carry the `LISTED_COLUMNS` and `steps` by name; `next_cursor` is None on the last page.
    """
    steps = _steps_json(session.get_bind().dialect.name)
    query = select(*LISTED_COLUMNS, steps).where(_I.pooled == false())  # the pool is not listed
    if search:
        pattern = f"%{search.strip().lower()}%"
        query = query.where(
            or_(
                func.lower(_I.id).like(pattern),
                func.lower(_I.name).like(pattern),
                func.lower(_I.owner).like(pattern),
                func.lower(cast(_I.prospect, Text)).like(pattern),
                func.lower(func.coalesce(_I.notes, "")).like(pattern),
            )
        )
    if prospect:  # a JSON field on both backends (json_extract / ->>)
        company = func.lower(_I.prospect["company"].as_string())
        query = query.where(company == prospect.strip().lower())
    if opportunity:
        query = query.where(_I.prospect["opportunity_id"].as_string() == opportunity.strip())
    if status is not None:
        query = query.where(_I.status == status)
    elif hide_statuses:  # the web lists leave ended demos out unless asked
        query = query.where(_I.status.not_in(list(hide_statuses)))
    if scenario is not None:
        query = query.where(_I.scenario == scenario)
    if owner is not None:
        query = query.where(_I.owner == owner)
    if cursor:
        created, last_id = decode_cursor(cursor)
        # A row-value comparison, so both backends seek in the (…, created_at, id) index.
        query = query.where(
            tuple_(_I.created_at, _I.id) < tuple_(type_coerce(created, _I.created_at.type), last_id)
        )
    query = query.order_by(_I.created_at.desc(), _I.id.desc()).limit(limit + 1)
    rows = session.execute(query).all()
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(Keyset(stored_time(last.created_at), last.id))
    return rows[:limit], next_cursor


__all__ = [
    "LISTED_COLUMNS",
    "STEP_FIELDS",
    "ListedRow",
    "decode_cursor",
    "encode_cursor",
    "list_instances",
    "stored_time",
]
