"""The warm pool: demos made ahead of demand per scenario, claimed by a create in one transaction.

A member is an ordinary instance marked `pooled`, owned by no one (`warm-pool`), provisioned by
the ordinary plan, kept awake, and left out of lists, quotas and bills. A create of that scenario
claims the oldest ready member inside its own transaction (so no two creates, on any replica,
claim one member), and the member becomes the creator's demo with its id: owner, name, prospect,
expiry, and billing and the life cap counted from the claim. When the create carries a prospect,
the member's runtime steps run again with the prospect's environment: the local runtime applies it
in place to services that opted in to reloads (the reference stack weaves the prospect in again,
no restart) and restarts the others; without one it is ready at once. Refills happen in the background, one
member at a time, and only while no demo someone asked for is being made.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from demo_orchestrator.domain.blueprint import Blueprint, Scenario
from demo_orchestrator.domain.errors import BadRequest, Forbidden
from demo_orchestrator.domain.instance import Desired, Status, StepStatus
from demo_orchestrator.engine.actions import Principal
from demo_orchestrator.engine.changes import SYSTEM, Audit, apply_change, apply_step
from demo_orchestrator.engine.context import Context
from demo_orchestrator.engine.making import insert_instance
from demo_orchestrator.engine.plan import Plans
from demo_orchestrator.store import pool as store
from demo_orchestrator.store import repository as repo
from demo_orchestrator.store.models import InstanceRow

log = logging.getLogger(__name__)

OWNER = "warm-pool"
MEMBER_HOURS = 24 * 7.0  # a member waits at most a week, then is made afresh
MAX_TARGET = 100  # per scenario: members count against no quota, so something must bound them


def parse_targets(spec: str, blueprint: Blueprint) -> dict[str, int]:
    """`DEMO_WARM_POOL="agency=2,enterprise=1"` -> targets, refusing unknown scenarios."""
    targets: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, _, count = part.partition("=")
        name = name.strip()
        if blueprint.scenario(name) is None:
            known = ", ".join(s.name for s in blueprint.scenarios)
            raise BadRequest(f"DEMO_WARM_POOL names unknown scenario {name!r}; known: {known}")
        if not count.strip().isdigit():
            raise BadRequest(f"DEMO_WARM_POOL entry {part!r} must be scenario=count, e.g. agency=2")
        targets[name] = int(count)
    return targets


class WarmPool:
    def __init__(self, ctx: Context, plans: Plans) -> None:
        self.ctx = ctx
        self.plans = plans

    # -- targets -------------------------------------------------------------------------------

    def seed_targets(self) -> None:
        """Targets from DEMO_WARM_POOL, while the store holds none (the API owns them after)."""
        blueprint = self.ctx.blueprint
        targets = parse_targets(self.ctx.settings.warm_pool, blueprint)
        with self.ctx.db.write() as session:
            if store.pool_targets(session):
                return
            for scenario, target in targets.items():
                store.pool_row(session, blueprint.name, scenario).target = target

    def status(self) -> list[dict[str, Any]]:
        blueprint = self.ctx.blueprint
        with self.ctx.db.read() as session:
            rows = {(r.blueprint, r.scenario): r for r in store.pool_targets(session)}
            members = store.pool_members(session)
        items = []
        keys = [(blueprint.name, s.name) for s in blueprint.scenarios]
        keys += [k for k in rows if k not in keys]
        for key in keys:
            row = rows.get(key)
            mine = [m for m in members if (m[1], m[2]) == key and m[4] != Desired.DELETED.value]
            items.append(
                {
                    "scenario": key[1],
                    "blueprint": key[0],
                    "target": row.target if row else 0,
                    "ready": sum(1 for m in mine if m[3] == Status.READY.value),
                    "provisioning": sum(
                        1 for m in mine if m[3] in (Status.PENDING.value, Status.PROVISIONING.value)
                    ),
                    "claims": row.claims if row else 0,
                    "misses": row.misses if row else 0,
                }
            )
        return items

    def set_target(self, who: Principal, scenario_name: str, target: int) -> dict[str, Any]:
        if who.role != "admin":
            raise Forbidden("only admins can size the warm pool")
        blueprint = self.ctx.blueprint
        scenario = self.ctx.scenario_of(blueprint, scenario_name)
        if scenario.based_on is not None:
            raise BadRequest(
                f"{scenario.name} is a saved template; the warm pool only keeps built-in scenarios"
            )
        if not isinstance(target, int) or isinstance(target, bool) or not 0 <= target <= MAX_TARGET:
            raise BadRequest(f"target must be a whole number from 0 to {MAX_TARGET}")
        now = self.ctx.clock()
        with self.ctx.db.write() as session:
            row = store.pool_row(session, blueprint.name, scenario.name)
            previous, row.target = row.target, target
            repo.add_audit(
                session,
                at=now,
                actor=who.name,
                action="warm-pool",
                instance_id=None,
                source=who.source,
                detail={"scenario": scenario.name, "target": target, "was": previous},
            )
            self._trim(session, blueprint.name, scenario.name, target, now)
        return next(i for i in self.status() if i["scenario"] == scenario.name)

    def _trim(
        self, session: Session, blueprint: str, scenario: str, target: int, now: datetime
    ) -> None:
        """Members beyond the target go away, those still being made first."""
        mine = [
            m
            for m in store.pool_members(session)
            if (m[1], m[2]) == (blueprint, scenario) and m[4] != Desired.DELETED.value
        ]
        mine.sort(key=lambda m: m[3] == Status.READY.value)  # not ready first
        for instance_id, *_ in mine[: max(0, len(mine) - target)]:
            row = repo.get_instance(session, instance_id, lock=True)
            if row is not None and row.pooled:
                apply_change(
                    session,
                    row,
                    now=now,
                    desired=Desired.DELETED.value,
                    audit=Audit(SYSTEM, "delete", detail={"reason": "warm pool shrunk"}),
                )

    # -- claims --------------------------------------------------------------------------------

    def claim(
        self, session: Session, blueprint: Blueprint, scenario: Scenario
    ) -> InstanceRow | None:
        """In the create's transaction: the member it gets, or None (a miss when one was due)."""
        if scenario.based_on is not None:
            return None  # saved templates are never pooled
        row = store.pool_row(session, blueprint.name, scenario.name)
        member = store.claimable(session, blueprint.name, scenario.name)
        if member is None:
            if row.target > 0:
                row.misses += 1
            return None
        row.claims += 1
        return member

    def hand_over(
        self,
        session: Session,
        member: InstanceRow,
        *,
        owner: str,
        hours: float,
        now: datetime,
        prospect: dict[str, Any] | None,
        **fields: Any,
    ) -> None:
        """The member becomes the creator's demo; the clock and the bill start now."""
        personalise = bool(prospect)
        member.pooled = False
        member.owner = owner
        member.prospect = prospect
        member.created_at = member.started_at = now
        member.expires_at = now + timedelta(hours=hours)
        member.duration_hours = hours
        member.last_request_at = None
        for key, value in fields.items():
            setattr(member, key, value)
        if not personalise:
            return
        steps = repo.step_rows(session, member.id)
        first = self.plans.first_of_slot([s.name for s in steps], "runtime")
        names = [s.name for s in steps]
        for step in steps[names.index(first) :] if first is not None else []:
            if step.status == StepStatus.DONE.value:
                apply_step(session, step, now=now, status=StepStatus.PENDING.value)
        apply_change(
            session,
            member,
            now=now,
            status=Status.PROVISIONING,
            event=("personalize", {"prospect": sorted(prospect or {})}),
        )

    # -- refill --------------------------------------------------------------------------------

    def refill(self) -> list[str]:
        """Make one member per scenario short of its target; nothing while people's demos wait."""
        made: list[str] = []
        now = self.ctx.clock()
        with self.ctx.db.write() as session:
            targets = [r for r in store.pool_targets(session) if r.target > 0]
            if not targets or store.count_in_progress(session) > 0:
                return made
            members = store.pool_members(session)
            for target in targets:
                blueprint = self.ctx.blueprints.get(target.blueprint)
                scenario = blueprint.scenario(target.scenario) if blueprint else None
                if blueprint is None or scenario is None:
                    continue
                alive = [
                    m
                    for m in members
                    if (m[1], m[2]) == (target.blueprint, target.scenario)
                    and m[4] != Desired.DELETED.value
                ]
                for instance_id, _, _, status, _ in alive:
                    if status == Status.FAILED.value:  # replace it: a failed member is no use
                        failed = repo.get_instance(session, instance_id, lock=True)
                        if failed is not None:
                            apply_change(session, failed, now=now, desired=Desired.DELETED.value)
                healthy = [m for m in alive if m[3] != Status.FAILED.value]
                if len(healthy) >= target.target:
                    continue
                row = insert_instance(
                    session,
                    self.ctx,
                    self.plans,
                    blueprint=blueprint,
                    scenario=scenario,
                    owner=OWNER,
                    hours=MEMBER_HOURS,
                    now=now,
                    name=f"{scenario.title} (warm pool)",
                    pooled=True,
                )
                apply_change(session, row, now=now, event=("status", {"status": row.status}))
                made.append(row.id)
        if made:
            log.info("warm pool: making %s", ", ".join(made))
        return made
