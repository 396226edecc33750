"""Use cases behind the API, the CLI and the web UI: each records intent and wakes the engine.

Entry points parse input and call one of these; they never touch the store or providers
themselves. Authorisation of who may act on which instance lives here too, so every entry point
enforces the same rules.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from demo_orchestrator.domain.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    QuotaExceeded,
)
from demo_orchestrator.domain.inputs import check_date, check_prospect, check_text
from demo_orchestrator.domain.instance import (
    Status,
    is_instance_id,
    validate_duration,
)
from demo_orchestrator.domain.redaction import redact
from demo_orchestrator.engine import booking
from demo_orchestrator.engine.actions import InstanceActions, Principal
from demo_orchestrator.engine.admission import CreateRate
from demo_orchestrator.engine.booking import invitation_ics
from demo_orchestrator.engine.changes import Audit, apply_change
from demo_orchestrator.engine.context import Context
from demo_orchestrator.engine.invitation import zone
from demo_orchestrator.engine.listing import InstanceList
from demo_orchestrator.engine.making import insert_instance
from demo_orchestrator.engine.plan import Plans
from demo_orchestrator.engine.pool import WarmPool
from demo_orchestrator.engine.templates import require_usable
from demo_orchestrator.engine.views import instance_view
from demo_orchestrator.store import accounts as accounts_store
from demo_orchestrator.store import repository as repo
from demo_orchestrator.store.models import IdempotencyRow, InstanceRow

__all__ = ["CreateInstance", "InstanceService", "Principal"]


@dataclass(frozen=True)
class CreateInstance:
    scenario: str | None = None
    duration_hours: float = 2.0
    name: str | None = None
    prospect: dict[str, Any] | None = None
    notes: str | None = None
    blueprint: str | None = None
    idempotency_key: str | None = None
    meeting_at: datetime | None = None  # the old name of starts_at, kept one release
    starts_at: datetime | None = None  # booked for a meeting (engine/booking.py)

    def __post_init__(self) -> None:
        """Whatever the entry point (API, web form), text that reaches the demo is printable
        and the meeting date bounded: a 422 now rather than a failed demo later."""
        for field in ("scenario", "name", "blueprint"):
            check_text(field, getattr(self, field))
        check_text("notes", self.notes, multiline=True)
        check_prospect(self.prospect)
        check_date("meeting_at", self.meeting_at)


class InstanceService(InstanceActions):
    def __init__(
        self, ctx: Context, plans: Plans, pool: WarmPool, wake: Callable[[], None]
    ) -> None:
        self.ctx = ctx
        self.plans = plans
        self.pool = pool
        self.nudge = wake  # tells the engine the store changed
        self._opened: dict[str, str] = {}
        self._list = InstanceList(ctx, self._login_secret)
        self.create_rate = CreateRate(ctx.settings.create_rate_per_user)  # API and UI creates

    # -- reads ---------------------------------------------------------------------------------

    def view(self, row: InstanceRow, steps: list[Any]) -> dict[str, Any]:
        blueprint = self.ctx.blueprints.get(row.blueprint)
        login_secret = None
        if row.secrets and row.status not in {Status.DELETED.value, Status.FAILED.value}:
            login_secret = self._login_secret(row.secrets)
        return instance_view(
            row,
            steps,
            settings=self.ctx.settings,
            blueprint=blueprint,
            login_secret=login_secret,
            now=self.ctx.clock(),
            scenario=self.ctx.find_scenario(blueprint, row.scenario) if blueprint else None,
        )

    def _login_secret(self, sealed: str) -> str | None:
        """Decrypting is the costly part of a list; a sealed value never changes meaning."""
        secret = self._opened.get(sealed)
        if secret is None:
            if len(self._opened) > 10_000:
                self._opened.clear()
            secret = self.ctx.box.open(sealed).get("login_secret") or ""
            self._opened[sealed] = secret
        return secret or None

    def get(self, who: Principal, instance_id: str) -> dict[str, Any]:
        with self.ctx.db.read() as session:
            row = self._visible(session, who, instance_id)
            steps = repo.steps_of(session, [row.id])[row.id]
            return self.view(row, steps)

    def list_page(
        self,
        who: Principal,
        *,
        status: str | None = None,
        scenario: str | None = None,
        owner: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        search: str | None = None,
        prospect: str | None = None,
        opportunity: str | None = None,
        hide_ended: bool = False,
    ) -> dict[str, Any]:
        """`{"items": [...], "next_cursor": str | None}`; a non-admin sees only their own demos;
        `hide_ended` leaves deleted and rejected demos out (the web lists' default)."""
        return self._list.page(
            who,
            status=status,
            scenario=scenario,
            owner=owner,
            limit=limit,
            cursor=cursor,
            search=search,
            prospect=prospect,
            opportunity=opportunity,
            hide_ended=hide_ended,
        )

    def events_after(self, who: Principal, instance_id: str, after: int) -> list[dict[str, Any]]:
        with self.ctx.db.read() as session:
            self._visible(session, who, instance_id)
            return [
                {
                    "id": e.id,
                    "kind": e.kind,
                    "at": e.at.isoformat().replace("+00:00", "Z"),
                    **e.data,
                }
                for e in repo.events_after(session, instance_id, after)
            ]

    def latest_event_id(self, who: Principal, instance_id: str) -> int:
        with self.ctx.db.read() as session:
            self._visible(session, who, instance_id)
            return repo.latest_event_id(session, instance_id)

    def logs(self, who: Principal, instance_id: str, service: str | None, tail: int) -> str:
        with self.ctx.db.read() as session:
            row = self._visible(session, who, instance_id)
        blueprint = self.ctx.blueprint_named(row.blueprint)
        names = [s.name for s in blueprint.services]
        if service is None:
            service = names[0]
        if service not in names:
            raise BadRequest(f"unknown service {service!r}; this demo has: {', '.join(names)}")
        # A demo's own access log may hold sign-in links: shown redacted, to anyone who reads it.
        return redact(str(self.ctx.runtime.logs(instance_id=row.id, service=service, tail=tail)))

    def audit(self, who: Principal, instance_id: str) -> list[dict[str, Any]]:
        with self.ctx.db.read() as session:
            self._visible(session, who, instance_id)
            return [
                {
                    "at": a.at.isoformat(),
                    "actor": a.actor,
                    "action": a.action,
                    "source": a.source,
                    "detail": a.detail,
                }
                for a in repo.audit_of(session, instance_id)
            ]

    def audit_log(self, who: Principal, limit: int) -> list[dict[str, Any]]:
        """The latest entries of the whole audit log, newest first (admins only)."""
        if who.role != "admin":
            raise Forbidden("only admins can read the whole audit log")
        with self.ctx.db.read() as session:
            return [
                {
                    "at": a.at.isoformat(),
                    "actor": a.actor,
                    "action": a.action,
                    "instance_id": a.instance_id,
                    "source": a.source,
                    "detail": a.detail,
                }
                for a in repo.recent_audit(session, limit)
            ]

    def calendar(self, who: Principal, instance_id: str) -> bytes:
        """The demo's .ics invitation in its owner's time zone (engine/invitation.py)."""
        with self.ctx.db.read() as session:
            row = self._visible(session, who, instance_id)
            owner = accounts_store.get_user(session, row.owner)
            tz = zone(owner.timezone if owner is not None else None)
            view = self.view(row, [])
        return invitation_ics(self.ctx, view, row, tz)

    def timezone_of(self, name: str) -> ZoneInfo:
        """A user's zone (UTC without a user record: a token-only admin)."""
        with self.ctx.db.read() as session:
            user = accounts_store.get_user(session, name)
            return zone(user.timezone if user is not None else None)

    def schedule(self, who: Principal, day: date) -> list[dict[str, Any]]:
        """The day's booked demos in `who`'s time zone; a sales user sees their own."""
        owner = None if who.sees_all else who.name
        return booking.day_schedule(self.ctx, owner=owner, day=day, tz=self.timezone_of(who.name))

    # -- writes --------------------------------------------------------------------------------

    def create(self, who: Principal, command: CreateInstance) -> tuple[dict[str, Any], bool]:
        """Record a new instance; returns (instance, created) — created is False on a replay."""
        self._require_write(who)
        self.create_rate.hit(who.name)
        blueprint = self.ctx.blueprint_named(command.blueprint or self.ctx.settings.blueprint)
        scenario = self.ctx.scenario_of(blueprint, command.scenario or blueprint.default_scenario)
        require_usable(self.ctx, who, scenario)  # a saved template: the caller's or shared
        hours = validate_duration(command.duration_hours, max_hours=self.ctx.settings.max_hours)
        starts_at = command.starts_at or command.meeting_at
        hashed: list[Any] = [
            blueprint.name,
            scenario.name,
            hours,
            command.name,
            command.prospect,
            command.notes,
        ]
        if starts_at is not None:  # unbooked requests keep the hash they always had
            hashed.append(starts_at.isoformat())
        request_hash = hashlib.sha256(
            json.dumps(
                hashed,
                sort_keys=True,
                default=str,
            ).encode()
        ).hexdigest()
        now = self.ctx.clock()
        if starts_at is not None:
            field = "starts_at" if command.starts_at else "meeting_at"
            starts_at = booking.checked_start(starts_at, now=now, field=field)
        try:
            with self.ctx.db.write() as session:
                if command.idempotency_key:
                    replay = self._replay(session, who, command.idempotency_key, request_hash)
                    if replay is not None:
                        return replay, False
                repo.lock_quota(session)
                if (
                    starts_at is None
                    and repo.count_live(session) >= self.ctx.settings.max_instances
                ):
                    raise QuotaExceeded(
                        f"the orchestrator holds its maximum of {self.ctx.settings.max_instances} "
                        "live demos; delete one or raise DEMO_MAX_INSTANCES"
                    )
                if starts_at is None and (
                    repo.count_live(session, owner=who.name)
                    >= self.ctx.settings.max_instances_per_owner
                ):
                    raise QuotaExceeded(
                        f"you already have {self.ctx.settings.max_instances_per_owner} live demos; "
                        "delete one first"
                    )
                booking.check_honourable(
                    session,
                    self.ctx.settings,
                    owner=who.name,
                    role=who.role,
                    start=starts_at or now,
                    hours=hours,
                    booked=starts_at is not None,
                )
                make_at = (
                    starts_at - booking.lead_time(session, self.ctx.settings, scenario.name)
                    if starts_at is not None
                    else now
                )
                scheduled = make_at > now
                waits_for = None if starts_at else self._outside_policy(session, who, hours)
                booked: dict[str, Any] = (
                    {
                        "starts_at": starts_at,
                        "meeting_at": starts_at,
                        "expires_at": starts_at + timedelta(hours=hours),
                    }
                    if starts_at is not None
                    else {}
                )
                claimed = (
                    None
                    if waits_for or scheduled
                    else self.pool.claim(session, blueprint, scenario)
                )
                if claimed is not None:
                    row = claimed
                    self.pool.hand_over(
                        session,
                        row,
                        owner=who.name,
                        hours=hours,
                        now=now,
                        name=command.name or f"{scenario.title} demo",
                        prospect=command.prospect,
                        notes=command.notes,
                        **booked,
                    )
                else:
                    status = Status.PENDING
                    if waits_for:
                        status = Status.PENDING_APPROVAL
                    elif scheduled:
                        status = Status.SCHEDULED
                    row = insert_instance(
                        session,
                        self.ctx,
                        self.plans,
                        blueprint=blueprint,
                        scenario=scenario,
                        owner=who.name,
                        hours=hours,
                        now=now,
                        status=status,
                        name=command.name or f"{scenario.title} demo",
                        prospect=command.prospect,
                        notes=command.notes,
                        outputs={"approval": {"reason": waits_for}} if waits_for else {},
                        **booked,
                    )
                    if scheduled:  # the reconciler's due date: hand-off at the lead time
                        row.next_attempt_at = make_at
                instance_id = row.id
                if command.idempotency_key:
                    session.add(
                        IdempotencyRow(
                            owner=who.name,
                            key=command.idempotency_key,
                            request_hash=request_hash,
                            instance_id=instance_id,
                            created_at=now,
                        )
                    )
                apply_change(
                    session,
                    row,
                    now=now,
                    event=("status", {"status": row.status}),
                    audit=Audit(
                        who.name,
                        "create",
                        source=who.source,
                        detail={
                            "scenario": scenario.name,
                            "duration_hours": hours,
                            **({"waits_for_approval": waits_for} if waits_for else {}),
                            **({"from_warm_pool": True} if claimed is not None else {}),
                            **({"starts_at": starts_at.isoformat()} if starts_at else {}),
                        },
                    ),
                )
        except IntegrityError:
            if command.idempotency_key:  # a concurrent request with the same key won the race
                with self.ctx.db.write() as session:
                    replay = self._replay(session, who, command.idempotency_key, request_hash)
                    if replay is not None:
                        return replay, False
            raise
        self.nudge()
        return self.get(who, instance_id), True

    # -- helpers -------------------------------------------------------------------------------

    def _visible(
        self, session: Session, who: Principal, instance_id: str, *, lock: bool = False
    ) -> InstanceRow:
        if not is_instance_id(instance_id):
            raise NotFound(
                f"{instance_id!r} is not an instance id; ids look like demo-ab12cd (see `democtl list`)"
            )
        row = repo.get_instance(session, instance_id, lock=lock)
        if row is None:
            raise NotFound(
                f"no demo instance {instance_id}; `democtl list` shows the existing ones"
            )
        if not who.sees_all and row.owner != who.name:
            raise Forbidden(
                f"{instance_id} belongs to another user; sales users act on their own demos"
            )
        return row

    def _outside_policy(self, session: Session, who: Principal, hours: float) -> str | None:
        """Why a sales request must wait for an admin, or None when it may start at once."""
        if who.role != "sales":
            return None
        settings = self.ctx.settings
        if hours > settings.sales_max_hours:
            return (
                f"longer than the {settings.sales_max_hours:g} h sales users may start on their own"
            )
        if repo.count_live(session, owner=who.name) >= settings.sales_max_concurrent:
            return f"you already have {settings.sales_max_concurrent} live demos"
        return None

    def _replay(
        self, session: Session, who: Principal, key: str, request_hash: str
    ) -> dict[str, Any] | None:
        existing = session.get(IdempotencyRow, (who.name, key))
        if existing is None:
            return None
        if existing.request_hash != request_hash:
            raise Conflict(
                "this Idempotency-Key was already used with a different request body; "
                "use a new key for a new demo"
            )
        row = repo.get_instance(session, existing.instance_id)
        assert row is not None
        return self.view(row, repo.steps_of(session, [row.id])[row.id])
