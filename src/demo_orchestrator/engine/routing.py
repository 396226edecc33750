"""Answers the router's question "where does this demo host go?" from the store, on every request,
so the router never holds its own copy of instance state."""

from __future__ import annotations

from dataclasses import dataclass

from demo_orchestrator.domain.instance import Status, is_instance_id
from demo_orchestrator.engine.context import Context
from demo_orchestrator.store import repository as repo


@dataclass(frozen=True)
class RouteInfo:
    kind: str  # proxy | starting | not_found | failed
    status: str | None = None
    host: str | None = None
    port: int | None = None
    message: str | None = None


STARTING = {Status.PENDING.value, Status.PROVISIONING.value, Status.PENDING_APPROVAL.value}


def resolve_route(ctx: Context, instance_id: str, route: str) -> RouteInfo:
    if not is_instance_id(instance_id):
        return RouteInfo("not_found")
    with ctx.db.read() as session:
        row = repo.get_instance(session, instance_id)
    if row is None or row.status in {
        Status.DELETED.value,
        Status.REJECTED.value,
        Status.DELETING.value,
    }:
        return RouteInfo("not_found", status=row.status if row else None)
    blueprint = ctx.blueprints.get(row.blueprint)
    if blueprint is None or route not in blueprint.routes:
        return RouteInfo("not_found", status=row.status)
    if row.status == Status.FAILED.value:
        return RouteInfo("failed", status=row.status, message=row.error)
    target = (row.outputs or {}).get("routes", {}).get(route)
    if row.status == Status.READY.value and target:
        return RouteInfo("proxy", status=row.status, host=target["host"], port=int(target["port"]))
    message = "waking up" if row.status == Status.SLEEPING.value else "being prepared"
    return RouteInfo("starting", status=row.status, message=message)
