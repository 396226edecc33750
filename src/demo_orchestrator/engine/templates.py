"""Templates saved from a running demo: a rep's customised data, reusable as a scenario.

A saved template is a scenario of the demo's blueprint whose data is a copy of that demo's
database (made by the database provider's `save_template`), never seeded again. It keeps the
personas and tour of the built-in scenario it is `based_on` (a template saved from a demo of a
saved template is based on the same built-in), and shows the rows per table of the copy as its
counts, since the blueprint's counts describe the seed and the rep changed the data.

It is stored in the store (`saved_templates`), so it survives restarts and every replica sees it.
It belongs to its creator; others see and use it only when it was saved with `shared` (admins
and viewers see every one; viewers use none, as they create nothing). Deleting it drops its data but keeps the row as a tombstone: a demo made from it has its
own copy of the data, and its scenario name must still resolve for its views and its teardown.
Such a demo cannot be reset (there is nothing to reset to): `refuse_reset_of_deleted` says so.
Saving again under a deleted template's name reuses its row (the name is free again); demos of
the deleted one then show the new template's personas and tour, and reset to its data.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from demo_orchestrator.domain.blueprint import Blueprint, Scenario
from demo_orchestrator.domain.errors import BadRequest, Conflict, Forbidden, NotFound
from demo_orchestrator.engine.changes import audit_by
from demo_orchestrator.providers.base import DatabaseProvider
from demo_orchestrator.store.models import InstanceRow, SavedTemplateRow

if TYPE_CHECKING:
    from demo_orchestrator.engine.actions import Principal
    from demo_orchestrator.engine.context import Context
    from demo_orchestrator.engine.service import InstanceService

log = logging.getLogger(__name__)

NAME = re.compile(r"^[a-z][a-z0-9-]{2,39}$")
SAVING, READY = "saving", "ready"
# Demos in these states may still clone their database from the template (a booked demo is
# `scheduled` until its lead time), so the template cannot be deleted under them.
NOT_CLONED_YET = ("pending_approval", "scheduled", "pending", "provisioning")
# A save takes seconds (a file copy or a clone); one older than this was cut short by a crash,
# and its name (and any half-made copy, which the provider replaces) may be taken again.
STALE_SAVE = timedelta(minutes=10)


def saved_scenario(ctx: Context, blueprint: Blueprint, name: str) -> Scenario | None:
    """The scenario of a saved template (deleted ones too: see the module docstring)."""
    if not NAME.match(name):
        return None
    with ctx.db.read() as session:
        row = session.get(SavedTemplateRow, name)
        if row is None or row.blueprint != blueprint.name or row.state != READY:
            return None
        return _scenario(row, blueprint)


def _scenario(row: SavedTemplateRow, blueprint: Blueprint) -> Scenario | None:
    base = blueprint.scenario(row.based_on)
    if base is None:
        return None
    return base.model_copy(
        update={
            "name": row.name,
            "title": row.title,
            "description": f"Saved from {row.source_instance} by {row.owner}, based on "
            f"{base.title or base.name}",
            "counts": dict(row.counts),
            "based_on": base.name,
        }
    )


def _stale(row: SavedTemplateRow, now: datetime) -> bool:
    """A save that has not finished within STALE_SAVE was cut short by a crash."""
    return now - row.created_at > STALE_SAVE


def _visible(row: SavedTemplateRow, who: Principal) -> bool:
    return row.deleted_at is None and (row.shared or row.owner == who.name or who.sees_all)


def require_usable(ctx: Context, who: Principal, scenario: Scenario) -> None:
    """A create may name a saved template only while it exists and its caller may see it."""
    if scenario.based_on is None:
        return
    with ctx.db.read() as session:
        row = session.get(SavedTemplateRow, scenario.name)
        if row is None or not _visible(row, who):
            raise BadRequest(
                f"unknown scenario {scenario.name!r}; GET /api/v1/scenarios lists the ones "
                "you can use"
            )


def refuse_reset_of_deleted(ctx: Context, instance_id: str, blueprint: str, name: str) -> None:
    """Reset restores a demo's data from its template; a deleted template has none left."""
    with ctx.db.read() as session:
        row = session.get(SavedTemplateRow, name)
        if row is not None and row.blueprint == blueprint and row.deleted_at is not None:
            raise Conflict(
                f"{instance_id} was made from saved template {name}, which has been deleted, so "
                "there is no data to reset it to; keep using it as it is, or delete it and "
                f"create a new demo from {row.based_on}"
            )


def sweep_saved(ctx: Context) -> list[str]:
    """Part of the orphan sweep: drop saved-template data the store does not know as a live
    template (a row deleted by hand, a save killed after its copy and left stale)."""
    provider = ctx.database
    try:
        held = provider.saved_templates()
    except Exception:
        log.exception("orphan sweep: database %s cannot list its saved templates", provider.name)
        return []
    if not held:
        return []
    now = ctx.clock()
    with ctx.db.read() as session:
        keep = {
            (row.blueprint, row.name)
            for row in session.scalars(select(SavedTemplateRow)).all()
            if row.deleted_at is None
            and row.database_provider == provider.name
            and (row.state == READY or not _stale(row, now))
        }
    removed: list[str] = []
    for blueprint, name in sorted(held - keep):
        try:
            provider.drop_saved_template(blueprint=blueprint, name=name)
        except Exception:
            log.exception("orphan sweep: cannot remove saved template %s/%s", blueprint, name)
            continue
        removed.append(f"{blueprint}/{name}")
        log.info("orphan sweep: removed saved template %s/%s", blueprint, name)
    return removed


class Templates:
    """The service behind `/api/v1/scenarios` and `save-as-template`."""

    def __init__(self, ctx: Context, instances: InstanceService) -> None:
        self.ctx = ctx
        self.instances = instances

    def list(self, who: Principal) -> list[dict[str, Any]]:
        blueprint = self.ctx.blueprint
        items = [self._item(blueprint, s) for s in blueprint.scenarios]
        with self.ctx.db.read() as session:
            rows = session.scalars(
                select(SavedTemplateRow)
                .where(
                    SavedTemplateRow.blueprint == blueprint.name,
                    SavedTemplateRow.state == READY,
                    SavedTemplateRow.deleted_at.is_(None),
                )
                .order_by(SavedTemplateRow.created_at)
            ).all()
            saved = [(row, _scenario(row, blueprint)) for row in rows if _visible(row, who)]
        items.extend(self._item(blueprint, s, row) for row, s in saved if s is not None)
        return items

    def save(
        self, who: Principal, instance_id: str, *, name: str, title: str | None, shared: bool
    ) -> dict[str, Any]:
        if not who.can_write:
            raise Forbidden(f"role {who.role} is read-only; ask an admin for a sales token")
        if not NAME.match(name):
            raise BadRequest(
                f"template name {name!r} must be 3-40 lowercase letters, digits or dashes, "
                "starting with a letter (e.g. acme-pipeline)"
            )
        instance = self.instances.get(who, instance_id)  # 404 unless the caller sees it
        if instance["status"] != "ready":
            raise Conflict(
                f"{instance_id} is {instance['status']}; save a template from a ready demo"
            )
        blueprint = self.ctx.blueprint_named(instance["blueprint"])
        source = self.ctx.scenario_of(blueprint, instance["scenario"])
        base = blueprint.scenario(source.based_on or source.name)
        if base is None:
            raise Conflict(f"{instance_id}'s scenario {source.name} is no longer in the blueprint")
        if blueprint.scenario(name) is not None:
            raise Conflict(f"{name} is a built-in scenario; choose another template name")
        revived = self._claim(who, instance_id, blueprint, base, name, title, shared)
        database = self.ctx.database
        try:
            counts = database.save_template(
                instance_id=instance_id, blueprint=blueprint, base=base, name=name
            )
        except BaseException:
            self._release(name, revived)
            raise
        with self.ctx.db.write() as session:
            row = session.get(SavedTemplateRow, name)
            assert row is not None  # claimed above, only this call changes it while saving
            row.counts = counts
            row.state = READY
            audit_by(
                session,
                who,
                "save-as-template",
                now=self.ctx.clock(),
                detail={"template": name, "based_on": base.name, "shared": shared},
                instance_id=instance_id,
            )
            scenario = _scenario(row, blueprint)
            assert scenario is not None
            item = self._item(blueprint, scenario, row)
        log.info("%s saved %s as template %s", who.name, instance_id, name)
        return item

    def delete(self, who: Principal, name: str) -> None:
        blueprint = self.ctx.blueprint
        if blueprint.scenario(name) is not None:
            raise Forbidden(f"{name} is a built-in scenario; only saved templates can be deleted")
        with self.ctx.db.read() as session:
            row = session.get(SavedTemplateRow, name)
            if row is None or row.state != READY or not _visible(row, who):
                raise NotFound(f"no saved template {name!r}; GET /api/v1/scenarios lists them")
            if row.owner != who.name and who.role != "admin":
                raise Forbidden(f"template {name} belongs to {row.owner}; ask them or an admin")
            waiting = session.scalars(
                select(InstanceRow.id)
                .where(InstanceRow.blueprint == row.blueprint, InstanceRow.scenario == name)
                .where(InstanceRow.status.in_(NOT_CLONED_YET))
                .order_by(InstanceRow.id)
            ).all()
            if waiting:
                raise Conflict(
                    f"demos still to be made from template {name} need its data: "
                    f"{', '.join(waiting)}; delete the template once they are ready, or "
                    "cancel them first"
                )
            provider_name, blueprint_name = row.database_provider, row.blueprint
        provider = self.ctx.provider_for("database", provider_name)
        assert isinstance(provider, DatabaseProvider)
        provider.drop_saved_template(blueprint=blueprint_name, name=name)
        with self.ctx.db.write() as session:
            row = session.get(SavedTemplateRow, name)
            if row is not None:
                row.deleted_at = self.ctx.clock()
            audit_by(
                session, who, "delete-template", now=self.ctx.clock(), detail={"template": name}
            )
        log.info("%s deleted template %s", who.name, name)

    # -- helpers -------------------------------------------------------------------------------

    def _claim(
        self,
        who: Principal,
        instance_id: str,
        blueprint: Blueprint,
        base: Scenario,
        name: str,
        title: str | None,
        shared: bool,
    ) -> bool:
        """Reserve the name (a row in state `saving`); True when it reuses a tombstone."""
        values: dict[str, Any] = {
            "blueprint": blueprint.name,
            "based_on": base.name,
            "title": title or f"{base.title} ({name})",
            "owner": who.name,
            "shared": shared,
            "state": SAVING,
            "counts": {},
            "database_provider": self.ctx.database.name,
            "source_instance": instance_id,
            "created_at": self.ctx.clock(),
            "deleted_at": None,
        }
        try:
            with self.ctx.db.write() as session:
                row = session.get(SavedTemplateRow, name)
                if row is not None and row.state == SAVING and _stale(row, self.ctx.clock()):
                    log.warning("template %s was left half-saved; saving it again", name)
                    row.deleted_at = row.created_at  # a crashed save: reclaim its name
                if row is not None and row.deleted_at is None:
                    raise Conflict(
                        f"template name {name} is taken"
                        + (" (being saved right now)" if row.state == SAVING else "")
                        + "; choose another name or delete that template first"
                    )
                if row is None:
                    session.add(SavedTemplateRow(name=name, **values))
                    return False
                for key, value in values.items():
                    setattr(row, key, value)
                return True
        except IntegrityError as exc:
            raise Conflict(f"template name {name} is taken; choose another name") from exc

    def _release(self, name: str, revived: bool) -> None:
        with self.ctx.db.write() as session:
            row = session.get(SavedTemplateRow, name)
            if row is None:
                return
            if revived:  # back to a tombstone: demos of the deleted one still resolve
                row.state, row.deleted_at = READY, self.ctx.clock()
            else:
                session.delete(row)

    def _item(
        self, blueprint: Blueprint, s: Scenario, row: SavedTemplateRow | None = None
    ) -> dict[str, Any]:
        item: dict[str, Any] = {
            "name": s.name,
            "title": s.title,
            "description": s.description,
            "default": s.name == blueprint.default_scenario,
            "blueprint": blueprint.name,
            "counts": s.counts,
            "personas": [p.model_dump() for p in s.personas],
            "tour": [t.model_dump() for t in s.tour],
            "hourly_usd": blueprint.cost.total_hourly_usd,
            "based_on": s.based_on,
        }
        if row is not None:
            item.update(
                owner=row.owner,
                shared=row.shared,
                created_at=row.created_at.isoformat().replace("+00:00", "Z"),
            )
        return item
