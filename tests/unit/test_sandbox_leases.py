"""The sandbox's uid leases on a real file system: one uid per live demo across DEMO_HOMEs, the
same uid again for the same demo, a stale lease (its holder's record gone) taken over, a full
range refused with what to do, and folders made without following a planted symlink."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from demo_orchestrator.domain.errors import PermanentError
from demo_orchestrator.providers.sandbox import Sandbox, SandboxSettings, own_folder
from demo_orchestrator.providers.sandbox_mounts import reach_plan

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="leases chown folders: needs root")


def sandbox(home: Path, root: Path, count: int = 3) -> Sandbox:
    settings = SandboxSettings(
        sandbox_enabled=True, sandbox_root=root, sandbox_uid_base=250000, sandbox_uid_count=count
    )
    home.mkdir(exist_ok=True)
    return Sandbox(home, settings)


def test_each_demo_gets_its_own_uid_across_homes_and_keeps_it(tmp_path: Path) -> None:
    root = tmp_path / "sandboxes"
    one, two = sandbox(tmp_path / "a", root), sandbox(tmp_path / "b", root)
    first = one.lease("demo-same01")
    second = two.lease("demo-same01")  # the same id in another DEMO_HOME: another demo
    third = one.lease("demo-other1")
    assert first and second and third
    assert len({first.uid, second.uid, third.uid}) == 3
    assert one.lease("demo-same01") == first  # re-found, not taken again
    assert sandbox(tmp_path / "a", root).find("demo-same01") == first  # by a new orchestrator
    assert first.home.stat().st_uid == first.data.stat().st_uid == first.uid
    assert stat.S_IMODE(first.home.stat().st_mode) == 0o700
    assert first.folder.stat().st_uid == 0  # root's: the demo cannot swap its folders
    assert stat.S_IMODE(root.stat().st_mode) == 0o711


def test_a_full_range_is_refused_and_a_stale_lease_is_taken_over(tmp_path: Path) -> None:
    root = tmp_path / "sandboxes"
    gone_home = tmp_path / "gone"
    old = sandbox(gone_home, root, count=1)
    held = old.lease("demo-old001")
    assert held is not None
    other = sandbox(tmp_path / "live", root, count=1)
    with pytest.raises(PermanentError, match="DEMO_SANDBOX_UID_COUNT"):
        other.lease("demo-new001")
    (gone_home / "sandbox" / "demo-old001.json").unlink()  # its DEMO_HOME forgot it
    taken = other.lease("demo-new001")
    assert taken is not None and taken.uid == held.uid
    assert old.find("demo-old001") is None


def test_release_waits_for_both_the_processes_and_the_data(tmp_path: Path) -> None:
    box = sandbox(tmp_path / "home", tmp_path / "sandboxes")
    lease = box.lease("demo-rel001")
    assert lease is not None
    (lease.data / "demo-rel001.db").write_bytes(b"data")
    os.rmdir(lease.home)  # the runtime let go (put to sleep)
    box.release_if_unused("demo-rel001")
    assert box.find("demo-rel001") == lease  # the database still holds it
    (lease.data / "demo-rel001.db").unlink()
    box.release_if_unused("demo-rel001")
    assert box.find("demo-rel001") is None and not lease.folder.exists()


def test_own_folder_never_follows_a_planted_symlink(tmp_path: Path) -> None:
    target = tmp_path / "precious"
    target.mkdir(mode=0o755)
    planted = tmp_path / "home"
    planted.symlink_to(target)
    with pytest.raises(OSError):
        own_folder(planted, 250123)
    assert target.stat().st_uid == 0 and stat.S_IMODE(target.stat().st_mode) == 0o755


def test_reach_plan_covers_a_closed_folder_and_binds_back_only_what_is_needed(
    tmp_path: Path,
) -> None:
    closed = tmp_path / "closed"
    (closed / "python" / "lib").mkdir(parents=True)
    (closed / "secret").mkdir()
    closed.chmod(0o700)
    hidden, binds = reach_plan([str(closed / "python"), str(closed / "python" / "lib")])
    # The first folder on the way that others may not traverse (pytest's own is 0700 too).
    [cover] = hidden
    assert Path(cover) in [closed, *closed.parents]
    assert not os.stat(cover).st_mode & 0o001
    assert binds == [str(closed / "python")]  # not `secret`, not the nested path twice
    assert reach_plan(["/usr/lib"]) == ([], [])  # nothing in the way: nothing to do


def test_a_database_from_before_the_sandbox_moves_in_with_its_data(tmp_path: Path) -> None:
    import sqlite3

    from demo_orchestrator.domain.blueprint import load_blueprint
    from demo_orchestrator.providers.base import InstanceSpec
    from demo_orchestrator.providers.sqlite_db import SqliteDatabase

    home = tmp_path / "home"
    blueprint = load_blueprint(Path(__file__).resolve().parents[1] / "blueprints" / "tiny.yaml")
    spec = InstanceSpec(
        instance_id="demo-old123", blueprint=blueprint, scenario=blueprint.scenarios[0]
    )
    before = SqliteDatabase(home=home, sandbox=SandboxSettings(sandbox_enabled=False))
    before.ensure(spec=spec)
    with sqlite3.connect(before.path_of("demo-old123")) as db:
        db.execute("INSERT INTO items (name) VALUES ('kept across the upgrade')")
    settings = SandboxSettings(sandbox_enabled=True, sandbox_root=tmp_path / "sandboxes")
    after = SqliteDatabase(home=home, sandbox=settings)
    url = after.ensure(spec=spec).env["DATABASE_URL"].removeprefix("sqlite:///")
    lease = after.sandbox.find("demo-old123")
    assert lease is not None and Path(url) == lease.data / "demo-old123.db"
    assert Path(url).stat().st_uid == lease.uid
    assert after.path_of("demo-old123").resolve() == Path(url)
    with sqlite3.connect(url) as db:
        names = [r[0] for r in db.execute("SELECT name FROM items")]
    assert "kept across the upgrade" in names
    after.destroy(instance_id="demo-old123")
    assert not Path(url).exists() and not after.path_of("demo-old123").is_symlink()
    os.rmdir(lease.home)  # as the runtime's destroy does; then the lease goes
    after.sandbox.release_if_unused("demo-old123")
    assert after.sandbox.find("demo-old123") is None


def test_the_orphan_sweep_sees_leases_the_runtime_holds_or_nobody_does(tmp_path: Path) -> None:
    box = sandbox(tmp_path / "home", tmp_path / "sandboxes")
    lease = box.lease("demo-swp001")
    assert lease is not None
    assert box.runtime_held() == {"demo-swp001"}  # its home folder: the runtime's part
    (lease.data / "demo-swp001.db").write_bytes(b"data")
    os.rmdir(lease.home)
    assert box.runtime_held() == set()  # asleep: only its database holds it
    (lease.data / "demo-swp001.db").unlink()
    assert box.runtime_held() == {"demo-swp001"}  # held by nobody: a leak to sweep


def test_a_forgotten_lease_whose_uid_still_runs_is_not_taken_over(tmp_path: Path) -> None:
    import subprocess

    root = tmp_path / "sandboxes"
    gone_home = tmp_path / "gone"
    held = sandbox(gone_home, root, count=1).lease("demo-old002")
    assert held is not None
    # A process of that demo still runs, though its DEMO_HOME forgot the lease.
    running = subprocess.Popen(["sleep", "30"], user=held.uid, group=held.gid, extra_groups=[])
    try:
        (gone_home / "sandbox" / "demo-old002.json").unlink()
        with pytest.raises(PermanentError, match="no free sandbox uid"):
            sandbox(tmp_path / "live", root, count=1).lease("demo-new002")
    finally:
        running.kill()
        running.wait()
    taken = sandbox(tmp_path / "live", root, count=1).lease("demo-new002")
    assert taken is not None and taken.uid == held.uid  # once it is gone, the uid is free
