"""A new instance row: what a create and a warm-pool refill both store, in one place."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from demo_orchestrator.domain.blueprint import Blueprint, Scenario
from demo_orchestrator.domain.instance import Desired, Status, new_instance_id
from demo_orchestrator.engine.context import Context
from demo_orchestrator.engine.plan import Plans
from demo_orchestrator.store import repository as repo
from demo_orchestrator.store.models import InstanceRow


def insert_instance(
    session: Session,
    ctx: Context,
    plans: Plans,
    *,
    blueprint: Blueprint,
    scenario: Scenario,
    owner: str,
    hours: float,
    now: datetime,
    status: Status = Status.PENDING,
    **fields: Any,
) -> InstanceRow:
    """Store a new instance with a fresh id, its own login secret and the plan it will be made by."""
    instance_id = new_instance_id()
    while repo.id_exists(session, instance_id):
        instance_id = new_instance_id()
    values: dict[str, Any] = {
        "name": f"{scenario.title} demo",
        "prospect": None,
        "notes": None,
        "meeting_at": None,
        "expires_at": now + timedelta(hours=hours),  # a booking's counts from its start
        "outputs": {},
        "pooled": False,
        **fields,
    }
    row = InstanceRow(
        id=instance_id,
        blueprint=blueprint.name,
        scenario=scenario.name,
        owner=owner,
        status=status.value,
        desired=Desired.READY.value,
        created_at=now,
        duration_hours=hours,
        hourly_usd=blueprint.cost.total_hourly_usd,
        sleeping_hourly_usd=blueprint.cost.sleeping_hourly_usd,
        generation=0,
        applied_generation=0,
        version=0,
        secrets=ctx.box.seal({"login_secret": secrets.token_hex(32)}),
        **values,
    )
    repo.add_instance(session, row, plans.build(blueprint))
    return row
