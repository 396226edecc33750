"""A deleted demo's routes are never used once its deletion is committed (issue 11, item 5).

The route table answers the router from memory and drops an instance when the change feed
dispatches its change. The feed's reader is a thread, so there is a moment between the commit of
a deletion and that dispatch; these tests hold the reader back (the feed is wired to the store's
commits but its thread never runs) to prove the table does not answer from memory in that
moment, and that a port reused by a new demo is only ever reached through the new demo's host.
"""

from __future__ import annotations

from pathlib import Path

from demo_orchestrator.engine.feed import ChangeFeed
from tests.fakes.engine import ADMIN, Rig


def _wired_without_reader(feed: ChangeFeed) -> None:
    """What `ChangeFeed.start` does, minus the reader thread: commits notify, nobody reads."""
    feed.read_now()
    feed.db.on_events = feed.notify


def test_a_deleted_demos_port_reused_by_a_new_demo_is_not_reached_through_the_old_host(
    tmp_path: Path,
) -> None:
    rig = Rig(tmp_path)
    try:
        feed, routes = rig.orchestrator.feed, rig.orchestrator.routes
        _wired_without_reader(feed)
        old = rig.create()
        rig.settle()
        answer = routes.resolve(old, "portal")
        assert answer.kind == "proxy"
        port = rig.runtime.port_of[old]
        assert answer.port == port
        loads = routes.loads
        for _ in range(50):  # the hot path: from memory, no store read
            assert routes.cached(old, "portal") == answer
        assert routes.loads == loads

        seen_when_freed: list[tuple[object, str]] = []
        destroy = rig.runtime.destroy

        def destroy_and_look(*, instance_id: str) -> None:
            # The moment the port is freed: the teardown committed `deleting` before this, and
            # the feed's reader has not run. Memory must not answer; a lookup must say gone.
            seen_when_freed.append(
                (routes.cached(instance_id, "portal"), routes.resolve(instance_id, "portal").kind)
            )
            destroy(instance_id=instance_id)

        rig.runtime.destroy = destroy_and_look
        rig.service.delete(ADMIN, old)
        rig.settle()  # teardown: the old demo's process is gone, its port free
        assert rig.get(old)["status"] == "deleted"
        assert seen_when_freed == [(None, "not_found")]
        rig.runtime.ports = port - 1  # the next demo gets the very same port
        new = rig.create()
        rig.settle()
        assert rig.runtime.port_of[new] == port
        for _ in range(3):
            assert routes.resolve(old, "portal").kind == "not_found"
            assert routes.resolve(old, "candidate").kind == "not_found"
            fresh = routes.resolve(new, "portal")
            assert (fresh.kind, fresh.port) == ("proxy", port)
    finally:
        rig.close()


def test_a_demo_put_to_sleep_is_not_routed_to_its_old_port_once_asleep(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    try:
        feed, routes = rig.orchestrator.feed, rig.orchestrator.routes
        _wired_without_reader(feed)
        demo = rig.create()
        rig.settle()
        assert routes.resolve(demo, "portal").kind == "proxy"
        rig.service.sleep(ADMIN, demo)
        rig.settle()
        assert rig.get(demo)["status"] == "sleeping"
        assert routes.cached(demo, "portal") is None
        assert routes.resolve(demo, "portal").kind == "starting"
    finally:
        rig.close()


def test_a_demo_falling_asleep_is_never_routed_to_while_its_processes_stop(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    try:
        feed, routes = rig.orchestrator.feed, rig.orchestrator.routes
        _wired_without_reader(feed)
        demo = rig.create()
        rig.settle()
        assert routes.resolve(demo, "portal").kind == "proxy"
        seen_when_stopping: list[tuple[object, str | None]] = []
        destroy = rig.runtime.destroy

        def destroy_and_look(*, instance_id: str) -> None:
            # The sleep asked for is committed, `sleeping` is not yet: the port is about to be
            # freed, so neither memory nor the store may send a request there.
            answer = routes.resolve(instance_id, "portal")
            seen_when_stopping.append((routes.cached(instance_id, "portal"), answer.status))
            assert answer.kind == "starting" and answer.port is None
            destroy(instance_id=instance_id)

        rig.runtime.destroy = destroy_and_look
        rig.service.sleep(ADMIN, demo)
        rig.settle()
        assert rig.get(demo)["status"] == "sleeping"
        assert [status for _, status in seen_when_stopping] == ["sleeping"]
    finally:
        rig.close()


def test_memory_answers_again_once_the_feed_caught_up(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    try:
        feed, routes = rig.orchestrator.feed, rig.orchestrator.routes
        _wired_without_reader(feed)
        demo = rig.create()
        rig.settle()
        assert routes.resolve(demo, "portal").kind == "proxy"
        assert not feed.behind()
        loads = routes.loads
        assert routes.cached(demo, "portal") is not None
        assert routes.loads == loads
    finally:
        rig.close()
