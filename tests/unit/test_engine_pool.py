"""The warm pool in-process: members made ahead, claimed once, personalised, out of lists,
quotas, bills and sleep."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest

from demo_orchestrator.domain.errors import BadRequest, Forbidden
from demo_orchestrator.engine.service import CreateInstance, Principal
from demo_orchestrator.engine.usage import usage
from tests.fakes.engine import ADMIN, Rig

SALES = Principal("sam", "sales")


def _filled(rig: Rig, scenario: str = "agency", target: int = 2) -> None:
    rig.orchestrator.pool.set_target(ADMIN, scenario, target)
    for _ in range(target + 1):
        rig.orchestrator.pool.refill()
        rig.settle()
    item = next(i for i in rig.orchestrator.pool.status() if i["scenario"] == scenario)
    assert item["ready"] == target


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    made = Rig(tmp_path, idle_minutes=15)
    yield made
    made.close()


def test_targets_come_from_the_setting_only_while_the_store_has_none(tmp_path: Path) -> None:
    rig = Rig(tmp_path, warm_pool="agency=2,startup=1")
    try:
        rig.orchestrator.pool.seed_targets()
        targets = {i["scenario"]: i["target"] for i in rig.orchestrator.pool.status()}
        assert targets == {"agency": 2, "startup": 1, "broken": 0}
        rig.orchestrator.pool.set_target(ADMIN, "agency", 0)
        rig.orchestrator.pool.seed_targets()  # a restart: the store's targets stay
        assert rig.orchestrator.pool.status()[0]["target"] == 0
    finally:
        rig.close()
    with pytest.raises(BadRequest, match="unknown scenario 'nope'"):
        Rig(tmp_path / "b", warm_pool="nope=1").orchestrator.pool.seed_targets()


def test_members_are_made_ahead_and_kept_out_of_lists_quotas_and_bills(tmp_path: Path) -> None:
    rig = Rig(tmp_path, max_instances=1, idle_minutes=1)
    try:
        _filled(rig, target=2)
        assert rig.service.list_page(ADMIN)["items"] == []  # hidden from the list
        instance_id = rig.create(scenario="startup")  # the quota of 1 ignores the pool
        rig.settle()
        rig.clock.advance(3600)
        assert rig.reconciler.sleeper.idle(set()) == [instance_id]  # members never sleep
        report = usage(
            rig.orchestrator.ctx,
            ADMIN,
            start=rig.clock() - timedelta(days=1),
            end=rig.clock(),
            group_by="owner",
        )
        assert [i["key"] for i in report["items"]] == ["admin"]  # billed to nobody
    finally:
        rig.close()


def test_a_create_claims_a_ready_member_and_the_clock_starts_then(rig: Rig) -> None:
    _filled(rig, target=1)
    member = next(iter(rig.runtime.owned()))
    rig.clock.advance(3600)  # the member waited an hour
    instance, _ = rig.service.create(SALES, CreateInstance(duration_hours=2, name="Acme call"))
    assert instance["id"] == member and instance["status"] == "ready"  # ready at once
    assert instance["owner"] == "sam" and instance["name"] == "Acme call"
    assert instance["created_at"] == rig.clock().isoformat().replace("+00:00", "Z")
    assert instance["expires_at"] == (rig.clock() + timedelta(hours=2)).isoformat().replace(
        "+00:00", "Z"
    )
    assert instance["cost"]["accrued_usd"] == 0.0
    assert [i["id"] for i in rig.service.list_page(SALES)["items"]] == [member]
    audit = rig.service.audit(ADMIN, member)
    assert audit[-1]["action"] == "create" and audit[-1]["detail"]["from_warm_pool"] is True
    item = rig.orchestrator.pool.status()[0]
    assert (item["claims"], item["misses"], item["ready"]) == (1, 0, 0)
    rig.orchestrator.pool.refill()
    rig.settle()
    assert rig.orchestrator.pool.status()[0]["ready"] == 1  # made again


def test_a_claim_with_a_prospect_runs_the_runtime_steps_again(rig: Rig) -> None:
    _filled(rig, target=1)
    rig.journal.clear()
    instance, _ = rig.service.create(
        ADMIN, CreateInstance(prospect={"company": "Initech", "industry": "software"})
    )
    assert instance["status"] == "provisioning"
    rig.settle()
    assert rig.get(instance["id"])["status"] == "ready"
    assert rig.calls(instance_id=instance["id"]) == ["fake-runtime.ensure"]  # not the database
    env = rig.runtime.envs[instance["id"]]
    assert env["DEMO_PROSPECT_COMPANY"] == "Initech"


def test_no_ready_member_is_a_miss_and_an_ordinary_create(rig: Rig) -> None:
    rig.orchestrator.pool.set_target(ADMIN, "agency", 1)
    rig.orchestrator.pool.refill()  # being made, not ready: nothing to claim
    instance, _ = rig.service.create(ADMIN, CreateInstance())
    assert instance["status"] == "pending"
    item = rig.orchestrator.pool.status()[0]
    assert (item["claims"], item["misses"]) == (0, 1)
    untargeted, _ = rig.service.create(ADMIN, CreateInstance(scenario="startup"))
    assert (
        next(i for i in rig.orchestrator.pool.status() if i["scenario"] == "startup")["misses"] == 0
    )  # no target, no miss
    assert untargeted["status"] == "pending"


def test_the_pool_yields_to_demos_people_asked_for(rig: Rig) -> None:
    waiting = rig.create()
    rig.runtime.hold.add(waiting)
    rig.settle()  # held in its health gate
    rig.orchestrator.pool.set_target(ADMIN, "agency", 2)
    assert rig.orchestrator.pool.refill() == []
    rig.runtime.hold.discard(waiting)
    rig.settle(1.0)
    assert len(rig.orchestrator.pool.refill()) == 1  # one member per round


def test_shrinking_the_pool_removes_members_and_targets_are_checked(rig: Rig) -> None:
    _filled(rig, target=2)
    rig.orchestrator.pool.set_target(ADMIN, "agency", 0)
    rig.settle()
    assert rig.runtime.owned() == set() and rig.database.owned() == set()
    with pytest.raises(BadRequest, match="from 0 to"):
        rig.orchestrator.pool.set_target(ADMIN, "agency", -1)
    with pytest.raises(BadRequest, match="unknown scenario"):
        rig.orchestrator.pool.set_target(ADMIN, "nope", 1)
    with pytest.raises(Forbidden):
        rig.orchestrator.pool.set_target(SALES, "agency", 1)


def test_concurrent_creates_never_claim_one_member_twice(tmp_path: Path) -> None:
    rig = Rig(tmp_path, max_instances_per_owner=100, max_instances=100)
    try:
        _filled(rig, target=5)
        members = set(rig.runtime.owned())
        with ThreadPoolExecutor(max_workers=10) as threads:
            made = list(
                threads.map(lambda _: rig.service.create(ADMIN, CreateInstance())[0], range(50))
            )
        ids = [m["id"] for m in made]
        assert len(set(ids)) == 50
        claimed = [i for i in ids if i in members]
        assert sorted(claimed) == sorted(members)  # each member claimed exactly once
        item = rig.orchestrator.pool.status()[0]
        assert (item["claims"], item["misses"]) == (5, 45)
    finally:
        rig.close()
