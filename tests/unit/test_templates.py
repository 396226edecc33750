"""Saving a demo as a template, with the engine's fakes: the refusal of a database provider that
cannot copy a live database (and the name it leaves free), a save cut short by a crash (its name
is taken again once stale), and saved templates never joining the warm pool (the whole story on
real providers: tests/integration/test_templates.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from demo_orchestrator.domain.blueprint import Blueprint, Scenario
from demo_orchestrator.domain.errors import BadRequest, Conflict, NotImplementedYet
from demo_orchestrator.engine.notifications import redacted
from demo_orchestrator.engine.templates import STALE_SAVE, Templates
from demo_orchestrator.store.models import InstanceRow
from tests.fakes.engine import ADMIN, FakeDatabase, Journal, Rig


class CopyingDatabase(FakeDatabase):
    """A fake that can save: records the call, answers fixed counts."""

    def __init__(self, journal: Journal) -> None:
        super().__init__(journal)
        self.crash = False
        self.held: set[tuple[str, str]] = set()

    def saved_templates(self) -> set[tuple[str, str]]:
        return set(self.held)

    def drop_saved_template(self, *, blueprint: str, name: str) -> None:
        self.held.discard((blueprint, name))

    def save_template(
        self, *, instance_id: str, blueprint: Blueprint, base: Scenario, name: str
    ) -> dict[str, int]:
        if self.crash:
            raise KeyboardInterrupt  # the process dies mid-copy: nothing after this runs
        self.journal.append((self.name, "save_template", instance_id))
        self.held.add((blueprint.name, name))
        return {"widgets": 3}


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    made = Rig(tmp_path)
    yield made
    made.close()


def _ready(rig: Rig) -> str:
    instance_id = rig.create(scenario="agency")
    rig.settle(5)
    assert rig.get(instance_id)["status"] == "ready"
    return instance_id


def test_a_provider_that_cannot_copy_refuses_with_501_and_frees_the_name(rig: Rig) -> None:
    templates = Templates(rig.orchestrator.ctx, rig.service)
    instance_id = _ready(rig)
    with pytest.raises(NotImplementedYet) as refused:
        templates.save(ADMIN, instance_id, name="acme-pipeline", title=None, shared=False)
    assert refused.value.status == 501 and "cannot save a demo" in refused.value.detail
    assert "acme-pipeline" not in {s["name"] for s in templates.list(ADMIN)}
    with pytest.raises(BadRequest):  # never half-made: not usable either
        rig.create(scenario="acme-pipeline")


def test_an_interrupted_save_frees_its_name_and_a_saved_one_is_never_pooled(tmp_path: Path) -> None:
    journal: Journal = []
    rig = Rig(tmp_path, journal=journal)
    database = CopyingDatabase(journal)
    rig.orchestrator.ctx.database = database
    try:
        templates = Templates(rig.orchestrator.ctx, rig.service)
        instance_id = _ready(rig)
        database.crash = True
        with pytest.raises(KeyboardInterrupt):
            templates.save(ADMIN, instance_id, name="acme-pipeline", title=None, shared=False)
        # an interrupted copy releases the name at once (a killed process: next test)
        assert "acme-pipeline" not in {s["name"] for s in templates.list(ADMIN)}
        database.crash = False
        saved = templates.save(ADMIN, instance_id, name="acme-pipeline", title=None, shared=True)
        assert saved["counts"] == {"widgets": 3} and saved["based_on"] == "agency"
        with pytest.raises(Conflict, match="taken"):
            templates.save(ADMIN, instance_id, name="acme-pipeline", title=None, shared=True)
        # a warm pool only keeps built-in scenarios
        with pytest.raises(BadRequest, match="built-in"):
            rig.orchestrator.pool.set_target(ADMIN, "acme-pipeline", 1)
        made = rig.create(scenario="acme-pipeline")
        # not cloned yet: its template cannot go
        with pytest.raises(Conflict, match=made):
            templates.delete(ADMIN, "acme-pipeline")
        rig.settle(5)
        assert rig.get(made)["status"] == "ready"
        assert rig.get(made)["scenario"] == "acme-pipeline"
        # its personas are the base scenario's, in the API and in what notifications carry
        names = ["Riley Recruiter", "Casey Candidate"]
        assert [p["name"] for p in rig.get(made)["personas"]] == names
        with rig.orchestrator.ctx.db.read() as session:
            row = session.get(InstanceRow, made)
            assert row is not None
            carried = redacted(rig.orchestrator.ctx, row)
        assert [p["name"] for p in carried["personas"]] == names
        assert all("login_url" not in p for p in carried["personas"])
        templates.delete(ADMIN, "acme-pipeline")  # it has its own copy now
        assert rig.get(made)["status"] == "ready"
    finally:
        rig.close()


def test_a_stale_saving_row_is_taken_again(tmp_path: Path) -> None:
    from demo_orchestrator.store.models import SavedTemplateRow

    journal: Journal = []
    rig = Rig(tmp_path, journal=journal)
    rig.orchestrator.ctx.database = CopyingDatabase(journal)
    try:
        templates = Templates(rig.orchestrator.ctx, rig.service)
        instance_id = _ready(rig)
        with rig.orchestrator.ctx.db.write() as session:  # a process killed mid-save left this
            session.add(
                SavedTemplateRow(
                    name="acme-pipeline",
                    blueprint="tiny",
                    based_on="agency",
                    title="half",
                    owner="admin",
                    shared=False,
                    state="saving",
                    counts={},
                    database_provider="fake",
                    source_instance=instance_id,
                    created_at=rig.clock(),
                )
            )
        with pytest.raises(Conflict, match="being saved"):
            templates.save(ADMIN, instance_id, name="acme-pipeline", title=None, shared=False)
        rig.clock.advance((STALE_SAVE + timedelta(seconds=1)).total_seconds())
        saved = templates.save(ADMIN, instance_id, name="acme-pipeline", title=None, shared=False)
        assert saved["counts"] == {"widgets": 3}
    finally:
        rig.close()


def test_the_orphan_sweep_drops_saved_data_no_live_template_owns(tmp_path: Path) -> None:
    from demo_orchestrator.store.models import SavedTemplateRow

    journal: Journal = []
    rig = Rig(tmp_path, journal=journal)
    database = CopyingDatabase(journal)
    rig.orchestrator.ctx.database = database
    try:
        templates = Templates(rig.orchestrator.ctx, rig.service)
        instance_id = _ready(rig)
        templates.save(ADMIN, instance_id, name="kept-one", title=None, shared=False)
        templates.save(ADMIN, instance_id, name="deleted-one", title=None, shared=False)
        database.held.add(("tiny", "no-row-at-all"))  # its row never made it, or was removed
        database.held.add(("tiny", "deleted-one"))  # dropping it failed half-way, say
        with rig.orchestrator.ctx.db.write() as session:
            row = session.get(SavedTemplateRow, "deleted-one")
            assert row is not None
            row.deleted_at = rig.clock()
        removed = rig.reconciler.sweep()
        assert sorted(removed["saved-templates"]) == ["tiny/deleted-one", "tiny/no-row-at-all"]
        assert database.held == {("tiny", "kept-one")}
        assert "saved-templates" not in rig.reconciler.sweep()  # nothing left to find
    finally:
        rig.close()
