"""The use cases that change an existing instance: delete, extend, reset, sleep, wake, approve,
reject, rotate-links. Each works out its change from the locked row and records it the one way
(`apply_change`, through `_mutate`), with an audit entry naming who asked."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from demo_orchestrator.domain.errors import BadRequest, Conflict, Forbidden
from demo_orchestrator.domain.instance import Desired, Status, extended_expiry
from demo_orchestrator.engine import rotation
from demo_orchestrator.engine.changes import Audit, apply_change
from demo_orchestrator.engine.context import Context
from demo_orchestrator.engine.plan import Plans
from demo_orchestrator.engine.templates import refuse_reset_of_deleted
from demo_orchestrator.store import repository as repo
from demo_orchestrator.store.models import InstanceRow


@dataclass(frozen=True)
class Principal:
    """Who is acting: a user name and role (admin, sales, viewer)."""

    name: str
    role: str
    source: str | None = None

    @property
    def can_write(self) -> bool:
        return self.role in {"admin", "sales"}

    @property
    def sees_all(self) -> bool:
        return self.role in {"admin", "viewer"}


class InstanceActions:
    """Mixed into `InstanceService`, which provides the reads these answer with."""

    ctx: Context
    plans: Plans
    nudge: Callable[[], None]

    def get(self, who: Principal, instance_id: str) -> dict[str, Any]:
        raise NotImplementedError

    def _visible(
        self, session: Session, who: Principal, instance_id: str, *, lock: bool = False
    ) -> InstanceRow:
        raise NotImplementedError

    def delete(self, who: Principal, instance_id: str) -> dict[str, Any]:
        def change(row: InstanceRow, now: datetime) -> dict[str, Any]:
            if row.status in {Status.DELETED.value, Status.REJECTED.value}:
                return {}
            if row.status in {Status.PENDING_APPROVAL.value, Status.SCHEDULED.value}:
                # Nothing was made for a request still waiting or a booking: gone at once.
                return {
                    "status": Status.DELETED,
                    "desired": Desired.DELETED.value,
                    "ended_at": now,
                    "secrets": None,
                }
            return {"desired": Desired.DELETED.value}

        return self._mutate(who, instance_id, "delete", change)

    def extend(self, who: Principal, instance_id: str, hours: float) -> dict[str, Any]:
        def change(row: InstanceRow, now: datetime) -> dict[str, Any]:
            self._require_live(row, "extend")
            if row.status == Status.PENDING_APPROVAL.value:
                # Approval starts the clock afresh (`approve`): an extension now would be lost.
                raise Conflict(
                    f"{row.id} waits for approval and its clock has not started; it runs "
                    f"{row.duration_hours:g} h from approval, extend it once it runs"
                )
            expires_at = extended_expiry(
                created_at=row.starts_at or row.created_at,  # a booking's cap runs from its start
                expires_at=row.expires_at,
                hours=hours,
                max_hours=self.ctx.settings.max_hours,
                now=now,
            )
            return {
                "expires_at": expires_at,
                "event": ("expiry", {"expires_at": expires_at.isoformat()}),
            }

        return self._mutate(who, instance_id, "extend", change, {"hours": hours})

    def reset(self, who: Principal, instance_id: str) -> dict[str, Any]:
        def change(row: InstanceRow, now: datetime) -> dict[str, Any]:
            self._require_live(row, "reset")
            refuse_reset_of_deleted(self.ctx, row.id, row.blueprint, row.scenario)
            if row.status != Status.READY.value:
                raise Conflict(
                    f"{row.id} is {row.status}; reset works on a ready demo, try again when it is ready"
                )
            # Shown at once as provisioning; the engine restores every resource and restarts.
            return {"status": Status.PROVISIONING, "generation": row.generation + 1}

        return self._mutate(who, instance_id, "reset", change)

    def sleep(self, who: Principal, instance_id: str) -> dict[str, Any]:
        """Stop the demo's processes and keep its data; the next request through the router or
        `wake` starts it again."""

        def change(row: InstanceRow, now: datetime) -> dict[str, Any]:
            if row.status == Status.SLEEPING.value or row.desired == Desired.SLEEPING.value:
                return {}  # asked twice: already asleep, or going to sleep
            if row.status != Status.READY.value or row.desired != Desired.READY.value:
                raise Conflict(f"{row.id} is {row.status}; only a ready demo can sleep")
            return {"desired": Desired.SLEEPING.value}

        return self._mutate(who, instance_id, "sleep", change)

    def wake(self, who: Principal, instance_id: str) -> dict[str, Any]:
        def change(row: InstanceRow, now: datetime) -> dict[str, Any]:
            if row.desired == Desired.SLEEPING.value and row.status == Status.READY.value:
                return {"desired": Desired.READY.value}  # not asleep yet: stays awake
            if row.status != Status.SLEEPING.value or row.desired == Desired.DELETED.value:
                raise Conflict(f"{row.id} is {row.status}; only a sleeping demo can be woken")
            return {"desired": Desired.READY.value}

        return self._mutate(who, instance_id, "wake", change)

    def wake_for_request(self, instance_id: str) -> bool:
        """A request reached a sleeping demo through the router: wake it (no user involved).
        False when it is not sleeping (any more) or is going away."""
        now = self.ctx.clock()
        with self.ctx.db.write() as session:
            row = repo.get_instance(session, instance_id, lock=True)
            if row is None or row.status != Status.SLEEPING.value:
                return False
            if row.desired == Desired.DELETED.value:
                return False
            if row.desired != Desired.READY.value:
                apply_change(
                    session,
                    row,
                    now=now,
                    desired=Desired.READY.value,
                    audit=Audit("system", "wake", detail={"reason": "a request came in"}),
                )
        self.nudge()
        return True

    def approve(self, who: Principal, instance_id: str) -> dict[str, Any]:
        """Start a sales request that waited for approval; its clock starts now."""
        self._require_admin(who)

        def change(row: InstanceRow, now: datetime) -> dict[str, Any]:
            if row.status != Status.PENDING_APPROVAL.value:
                raise Conflict(
                    f"{row.id} is {row.status}; only a pending_approval request can be approved"
                )
            return {
                "status": Status.PENDING,
                "expires_at": now + timedelta(hours=row.duration_hours),
                "outputs": {},
            }

        return self._mutate(who, instance_id, "approve", change)

    def reject(self, who: Principal, instance_id: str, reason: str) -> dict[str, Any]:
        self._require_admin(who)
        reason = reason.strip()
        if not reason:
            raise BadRequest("give a reason for the rejection; the requester sees it")

        def change(row: InstanceRow, now: datetime) -> dict[str, Any]:
            if row.status != Status.PENDING_APPROVAL.value:
                raise Conflict(
                    f"{row.id} is {row.status}; only a pending_approval request can be rejected"
                )
            return {
                "status": Status.REJECTED,
                "desired": Desired.DELETED.value,
                "error": f"rejected: {reason}",
                "ended_at": now,
                "secrets": None,
            }

        return self._mutate(who, instance_id, "reject", change, {"reason": reason})

    def rotate_links(self, who: Principal, instance_id: str) -> dict[str, Any]:
        """A new login secret for the demo: every sign-in link is replaced and every session
        in the demo ends once the running demo has it (see `engine/rotation.py`)."""
        self._require_write(who)
        self._require_runtime(rotation.ACTION, instance_id)
        now = self.ctx.clock()
        with self.ctx.db.write() as session:
            row = self._visible(session, who, instance_id, lock=True)
            fields = rotation.rotated(self.ctx, self.plans, session, row, now)
            apply_change(
                session,
                row,
                now=now,
                audit=Audit(who.name, rotation.ACTION, source=who.source),
                **fields,
            )
        self.nudge()
        return self.get(who, instance_id)

    # -- helpers -------------------------------------------------------------------------------

    def _require_runtime(self, action: str, instance_id: str) -> None:
        refused = self.ctx.runtime.refuses.get(action)
        if refused:
            raise Conflict(
                f"{action} of {instance_id} is not available with the {self.ctx.runtime.name} "
                f"runtime: {refused}"
            )

    def _mutate(
        self,
        who: Principal,
        instance_id: str,
        action: str,
        change: Callable[[InstanceRow, datetime], dict[str, Any]],
        detail: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Lock the instance, work out the change, and record it the one way (`apply_change`)."""
        self._require_write(who)
        self._require_runtime(action, instance_id)
        now = self.ctx.clock()
        with self.ctx.db.write() as session:
            row = self._visible(session, who, instance_id, lock=True)
            fields = change(row, now)
            apply_change(
                session,
                row,
                now=now,
                audit=Audit(who.name, action, source=who.source, detail=detail),
                **fields,
            )
        self.nudge()
        return self.get(who, instance_id)

    @staticmethod
    def _require_admin(who: Principal) -> None:
        if who.role != "admin":
            raise Forbidden("only admins can approve or reject requests")

    @staticmethod
    def _require_write(who: Principal) -> None:
        if not who.can_write:
            raise Forbidden(
                f"role {who.role} is read-only; ask an admin for a sales or admin token"
            )

    @staticmethod
    def _require_live(row: InstanceRow, action: str) -> None:
        if (
            row.status
            in {
                Status.DELETED.value,
                Status.DELETING.value,
                Status.REJECTED.value,
                Status.FAILED.value,
            }
            or row.desired == Desired.DELETED.value
        ):
            raise Conflict(f"{row.id} is {row.status}; only a live demo can be {action}ed")
