"""What the router's ended page is built from (engine/ended.py), on the engine rig with its clock
moved by hand: a demo that was ready and ended is shown as deleted or expired until
DEMO_ENDED_PAGE_DAYS after its end, with its owner and prospect; never-ready, pooled, live and
unknown demos are not; answers are cached, so a flood of made-up hosts costs one store read each;
and `/self`'s status names the way a demo ended."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from demo_orchestrator.engine.demo_self import self_view, warning_minutes
from demo_orchestrator.engine.ended import EndedDemos
from demo_orchestrator.store.models import InstanceRow
from tests.fakes.engine import ADMIN, Rig

DAY = 24 * 3600


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    made = Rig(tmp_path, expiry_warning_minutes="5,15")
    made.orchestrator.accounts.create_user(
        name="admin",
        role="admin",
        password="Copper-Lantern-Healing-4821",
        actor=ADMIN,
        email="owner@sales.example",
    )
    yield made
    made.close()


def _deleted(rig: Rig, **fields: object) -> str:
    demo = rig.create(**fields)
    rig.settle()
    assert rig.get(demo)["status"] == "ready"
    rig.service.delete(ADMIN, demo)
    rig.settle()
    assert rig.get(demo)["status"] == "deleted"
    return demo


def test_a_deleted_demo_is_shown_for_the_window_then_not(rig: Rig) -> None:
    demo = _deleted(rig, prospect={"company": "Acme Robotics"})
    ended = EndedDemos(rig.orchestrator.ctx, ttl=0)
    found = ended.lookup(demo, "portal")
    assert found is not None
    assert (found.status, found.contact_name, found.contact_email, found.company) == (
        "deleted",
        "admin",
        "owner@sales.example",
        "Acme Robotics",
    )
    assert ended.lookup(demo, "candidate") == found
    assert ended.lookup(demo, "admin") is None  # not a route of the demo
    rig.clock.advance(7 * DAY - 60)
    assert ended.lookup(demo, "portal") == found
    rig.clock.advance(120)
    assert ended.lookup(demo, "portal") is None


def test_an_expired_demo_is_shown_as_expired(rig: Rig) -> None:
    demo = rig.create(duration_hours=1)
    rig.settle()
    rig.settle(3600 + 60)
    assert rig.get(demo)["status"] == "deleted"
    found = EndedDemos(rig.orchestrator.ctx, ttl=0).lookup(demo, "portal")
    assert found is not None and found.status == "expired" and found.company is None


def test_live_unknown_and_never_ready_demos_get_no_ended_page(rig: Rig) -> None:
    ended = EndedDemos(rig.orchestrator.ctx, ttl=0)
    live = rig.create()
    rig.settle()
    assert ended.lookup(live, "portal") is None
    assert ended.lookup("demo-zz9zz9", "portal") is None
    assert ended.lookup("not-an-id", "portal") is None
    never = rig.create()  # deleted before it was ever ready
    rig.service.delete(ADMIN, never)
    rig.settle()
    assert rig.get(never)["status"] == "deleted" and rig.get(never)["ready_at"] is None
    assert ended.lookup(never, "portal") is None


def test_answers_are_cached_so_made_up_hosts_cost_one_read(rig: Rig) -> None:
    demo = _deleted(rig)
    ended = EndedDemos(rig.orchestrator.ctx)
    assert ended.cached(demo, "portal") == (False, None)  # not asked yet: the store must say
    first = ended.lookup(demo, "portal")
    assert first is not None
    for _ in range(20):
        assert ended.lookup(demo, "portal") == first
        assert ended.cached(demo, "candidate") == (True, first)
        assert ended.lookup("demo-zz9zz9", "portal") is None
    assert ended.loads == 2  # one read per id


def test_a_window_of_zero_days_reads_nothing(tmp_path: Path) -> None:
    rig = Rig(tmp_path, ended_page_days=0)
    try:
        demo = _deleted(rig)
        ended = EndedDemos(rig.orchestrator.ctx)
        assert ended.lookup(demo, "portal") is None and ended.loads == 0
    finally:
        rig.close()


def test_self_names_how_the_demo_ended(rig: Rig) -> None:
    settings = rig.orchestrator.ctx.settings
    assert warning_minutes(settings) == [15, 5]
    demo = _deleted(rig)
    with rig.orchestrator.ctx.db.read() as session:
        row = session.get(InstanceRow, demo)
        assert row is not None
        now = rig.clock()
        assert self_view(settings, row, None, now=now)["status"] == "deleted"
        assert row.ended_at is not None
        row.expires_at = row.ended_at - timedelta(seconds=1)  # as if it ended at its expiry
        view = self_view(settings, row, None, now=now)
    assert view["status"] == "expired" and view["contact"] is None and view["prospect"] is None
    assert view["now"].endswith("Z") and view["warning_minutes"] == [15, 5]
