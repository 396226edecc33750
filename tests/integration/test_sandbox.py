"""The local runtime's sandbox, tried from inside real demo processes (tests/blueprints/
tiny_sandbox_service.py, forked by the fork-server and started with its command under bwrap):
each demo runs as a uid of its own, reads its own folder and database and nothing of DEMO_HOME,
of another demo, of the orchestrator's or the fork-server's environment; a memory hog dies in
its own cgroup while the rest lives; a new runtime re-adopts the same uid; modes are 0600/0700.

Needs root (the sandbox is a no-op otherwise). bwrap is required under CI=true (services.sh
installs it) and skipped with a reason elsewhere; where no memory cgroup is usable (the README
says limits are then not enforced) the memory tests are skipped.
"""

from __future__ import annotations

import os
import stat
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from demo_orchestrator.domain.blueprint import load_blueprint
from demo_orchestrator.providers.base import InstanceSpec, Outputs
from demo_orchestrator.providers.forkserver import scrub_environment
from demo_orchestrator.providers.local_runtime import LocalRuntime
from demo_orchestrator.providers.processes import PASSED_THROUGH as ALLOWED
from demo_orchestrator.providers.sandbox import (
    Sandbox,
    SandboxSettings,
    memory_cgroup_root,
    sandbox_capabilities,
)
from demo_orchestrator.providers.sqlite_db import SqliteDatabase
from demo_orchestrator.store.crypto import load_or_create_key
from demo_orchestrator.store.database import Database
from tests.conftest import stop_everything_of
from tests.fakes.data_services import provision

BLUEPRINTS = Path(__file__).resolve().parents[1] / "blueprints"
CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox needs root")


def need(what: str, present: bool) -> None:
    """Skip without `what` (bwrap), except under CI=true, where it is a failure."""
    if not present:
        if CI:
            pytest.fail(f"CI=true and the sandbox lacks {what}: scripts/services.sh installs it")
        pytest.skip(f"no {what} on this machine")


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "home"
    folder.mkdir()
    yield folder
    stop_everything_of(folder)


def open_store(home: Path) -> None:
    """Open the SQLite store once, as `democtl serve` does (it is made, or fixed, on connect)."""
    store = Database(f"sqlite:///{home / 'orchestrator.db'}")
    with store.engine.connect():
        pass
    store.engine.dispose()


def settings() -> SandboxSettings:
    return SandboxSettings(sandbox_enabled=True)


def spec(home: Path, instance_id: str) -> InstanceSpec:
    loaded = load_blueprint(BLUEPRINTS / "tiny_sandbox.yaml")
    scenario = loaded.scenarios[0]
    plain = InstanceSpec(instance_id=instance_id, blueprint=loaded, scenario=scenario)
    env = SqliteDatabase(home=home, sandbox=settings()).ensure(spec=plain).env
    return InstanceSpec(instance_id=instance_id, blueprint=loaded, scenario=scenario, env=env)


def start(runtime: LocalRuntime, instance: InstanceSpec) -> Outputs:
    out = provision(runtime, instance)
    runtime.wait_healthy(instance_id=instance.instance_id, timeout=30)
    return out


def call(out: Outputs, service: str, path: str, body: Any = None) -> Any:
    port = out.state["services"][service]["port"]
    url = f"http://127.0.0.1:{port}{path}"
    if body is None:
        return httpx.get(url, timeout=10, trust_env=False).json()
    return httpx.post(url, json=body, timeout=30, trust_env=False).json()


def destroy(home: Path, runtime: LocalRuntime, instance_id: str) -> None:
    runtime.destroy(instance_id=instance_id)
    SqliteDatabase(home=home, sandbox=settings()).destroy(instance_id=instance_id)


@pytest.fixture
def two_demos(home: Path) -> Iterator[tuple[LocalRuntime, Outputs, Outputs]]:
    need("bwrap", sandbox_capabilities()["bwrap"] is not None)
    runtime = LocalRuntime(home=home, stop_grace=1, sandbox=settings())
    load_or_create_key(home, None)  # DEMO_HOME/secret.key, as `democtl serve` makes it
    open_store(home)  # and the store
    try:
        one = start(runtime, spec(home, "demo-sbx001"))
        two = start(runtime, spec(home, "demo-sbx002"))
        yield runtime, one, two
    finally:
        for instance_id in ("demo-sbx001", "demo-sbx002"):
            destroy(home, runtime, instance_id)
        runtime.close()


@pytest.mark.parametrize("service", ["forked", "wrapped"])
def test_a_demo_reaches_its_own_folder_and_database_and_nothing_else(
    home: Path, two_demos: tuple[LocalRuntime, Outputs, Outputs], service: str
) -> None:
    runtime, one, two = two_demos
    me, other = call(one, service, "/whoami"), call(two, service, "/whoami")
    lease_one = runtime.sandbox.find("demo-sbx001")
    lease_two = runtime.sandbox.find("demo-sbx002")
    assert lease_one is not None and lease_two is not None
    # Its own uid and gid, no supplementary group; never root, never the other demo's.
    assert me["uid"] == me["euid"] == me["gid"] == lease_one.uid != 0
    assert other["uid"] == lease_two.uid not in {0, lease_one.uid}
    assert me["groups"] == []
    assert me["python"] == sys.version  # the orchestrator's interpreter, though under /root
    assert me["home"] == me["cwd"] == str(lease_one.home)
    assert not any(name.startswith("DEMO_ADMIN") for name in me["environ"])
    forkservers = sorted(runtime.forks.server_pids())
    assert forkservers
    # What the fork-server (and so, in /proc, every child it forked) carries: no secret.
    names = {
        item.split(b"=", 1)[0].decode()
        for item in Path(f"/proc/{forkservers[0]}/environ").read_bytes().split(b"\0")
        if item
    }
    assert names <= {*ALLOWED, "PYTHONUNBUFFERED", "DEMO_FORKSERVER", "DEMO_ORCHESTRATOR_HOME"}
    own_db = me["database"].removeprefix("sqlite:///")
    other_db = other["database"].removeprefix("sqlite:///")
    assert own_db != other_db
    tried = call(
        one,
        service,
        "/try",
        {
            "paths": [
                own_db,
                str(lease_one.home),
                str(home / "secret.key"),
                str(home / "orchestrator.db"),
                str(home),
                str(home / "runtime" / "demo-sbx001" / "runtime.json"),
                str(home / "databases" / "demo-sbx002.db"),
                other_db,
                str(lease_two.folder),
                f"/proc/{os.getpid()}/environ",  # the orchestrator (this test runs the runtime)
                f"/proc/{forkservers[0]}/environ",
            ]
        },
    )
    # Read: a file's byte, or a folder listing something (an empty cover shows nothing).
    readable = {path for path, got in tried.items() if got["read"] and got["entries"] != 0}
    assert readable == {own_db}, tried
    # It writes its own database (SQLite's journal beside it) and its HOME, nowhere else.
    assert call(one, service, "/sqlite", {})["items"] >= 6
    assert call(one, service, "/write", {"path": str(lease_one.home / "x")})["written"]
    assert not call(one, service, "/write", {"path": str(lease_two.home / "x")})["written"]
    assert not call(one, service, "/write", {"path": str(lease_one.folder / "data.new")})["written"]
    assert not call(one, service, "/write", {"path": str(home / "planted")})["written"]
    # A /tmp of its own: writable, and what it writes there no other demo sees.
    scratch = f"/tmp/sandbox-probe-{service}"
    assert call(one, service, "/write", {"path": scratch})["written"]
    assert call(two, service, "/try", {"paths": [scratch]})[scratch]["read"] is False
    assert not Path(scratch).exists()  # nor the machine's /tmp


def test_files_and_folders_have_private_modes(
    home: Path, two_demos: tuple[LocalRuntime, Outputs, Outputs]
) -> None:
    runtime, one, _ = two_demos
    lease = runtime.sandbox.find("demo-sbx001")
    assert lease is not None

    def mode(path: Path) -> int:
        return stat.S_IMODE(path.stat().st_mode)

    assert mode(home) == 0o700
    assert mode(home / "secret.key") == 0o600
    assert mode(home / "orchestrator.db") == 0o600
    for folder in ("runtime", "databases", "sandbox", "forkservers"):
        assert mode(home / folder) == 0o700, folder
    assert mode(lease.home) == mode(lease.data) == 0o700
    assert lease.home.stat().st_uid == lease.data.stat().st_uid == lease.uid
    # Its parent is root's, so the demo cannot swap `data` for a symlink the runtime follows.
    assert mode(lease.folder) == 0o711 and lease.folder.stat().st_uid == 0
    database = Path(call(one, "forked", "/whoami")["database"].removeprefix("sqlite:///"))
    assert mode(database) == 0o600 and database.stat().st_uid == lease.uid
    assert mode(runtime.sandbox.root) == 0o711  # reach your own folder, list nobody's


def test_existing_key_and_store_are_made_private_on_start(tmp_path: Path) -> None:
    home = tmp_path / "old-home"
    home.mkdir(mode=0o755)
    load_or_create_key(home, None)
    (home / "secret.key").chmod(0o644)
    (home / "orchestrator.db").touch(mode=0o644)
    load_or_create_key(home, None)
    open_store(home)
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "secret.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((home / "orchestrator.db").stat().st_mode) == 0o600


@pytest.mark.parametrize("service", ["forked", "wrapped"])
def test_a_memory_hog_dies_in_its_cgroup_and_the_rest_lives(
    home: Path, two_demos: tuple[LocalRuntime, Outputs, Outputs], service: str
) -> None:
    runtime, one, two = two_demos
    if one.state["services"][service]["cgroup"] is None:
        pytest.skip("no usable memory cgroup here: limits are not enforced (README, Sandbox)")
    before = call(two, service, "/whoami")["pid"]
    cgroup = Path(one.state["services"][service]["cgroup"])
    members = {int(pid) for pid in (cgroup / "cgroup.procs").read_text().split()}
    recorded = int(one.state["services"][service]["pid"])
    # The forked child itself; bwrap (its pid recorded) and the service inside it.
    assert recorded in members and (service == "forked" or len(members) >= 2)
    assert call(one, service, "/hog", {"mb": 16})["held_mb"] == 16  # below its 96 MB: fine
    with pytest.raises(httpx.HTTPError):
        call(one, service, "/hog", {"mb": 400})
    deadline = time.monotonic() + 10
    while runtime.alive(instance_id="demo-sbx001").healthy:
        assert time.monotonic() < deadline, "the hog outlived its memory limit"
        time.sleep(0.05)
    v1 = cgroup / "memory.oom_control"
    events = (v1 if v1.exists() else cgroup / "memory.events").read_text()
    assert "oom_kill 0" not in events and "oom_kill" in events, events
    assert runtime.probe(instance_id="demo-sbx002").healthy  # the other demo lives
    assert call(two, service, "/whoami")["pid"] == before  # the very same process
    other = "wrapped" if service == "forked" else "forked"
    assert call(one, other, "/whoami")["uid"] > 0  # and so does its sibling service


def test_a_new_runtime_adopts_the_demo_with_the_same_uid_and_cleans_up_on_destroy(
    home: Path,
) -> None:
    need("bwrap", sandbox_capabilities()["bwrap"] is not None)
    first = LocalRuntime(home=home, stop_grace=1, sandbox=settings())
    instance = spec(home, "demo-sbx003")
    out = start(first, instance)
    before = {name: call(out, name, "/whoami") for name in ("forked", "wrapped")}
    first.close()  # as after a crash: the processes outlive the runtime
    second = LocalRuntime(home=home, stop_grace=1, sandbox=settings())
    try:
        again = second.ensure(spec=instance)
        assert again.message == "adopted running processes"
        for name in ("forked", "wrapped"):
            now = call(again, name, "/whoami")
            assert (now["pid"], now["uid"]) == (before[name]["pid"], before[name]["uid"])
        lease = second.sandbox.find("demo-sbx003")
        assert lease is not None and lease.uid == before["forked"]["uid"]
        cgroups = [Path(s["cgroup"]) for s in again.state["services"].values() if s["cgroup"]]
        assert all(c.is_dir() for c in cgroups)  # the same cgroups, found again
        assert len(cgroups) == (2 if memory_cgroup_root() else 0)
        # Put to sleep (processes gone, data kept): the uid stays leased, with its database.
        second.destroy(instance_id="demo-sbx003")
        assert not any(c.exists() for c in cgroups)
        assert Sandbox(home, settings()).find("demo-sbx003") == lease
        assert (lease.data / "demo-sbx003.db").is_file()
    finally:
        destroy(home, second, "demo-sbx003")
        second.close()
    assert Sandbox(home, settings()).find("demo-sbx003") is None
    assert not lease.folder.exists()
    assert not (second.sandbox.root / "leases" / f"{lease.uid}.json").exists()


def test_capabilities_say_what_is_missing() -> None:
    caps = sandbox_capabilities()
    assert caps["root"] is True and caps["uids"] is True
    missing = " ".join(caps["missing"])
    assert ("memory limits are not enforced" in missing) == (caps["cgroup"] is None)
    assert ("bwrap" in missing) == (caps["bwrap"] is None)


def test_the_fork_server_scrubs_its_environment_to_the_allow_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    inherited = {"PATH": "/usr/bin", "DEMO_ADMIN_TOKEN": "s3cret", "DEMO_STORE_URL": "pg://x"}
    monkeypatch.setattr(os, "environ", dict(inherited))
    scrub_environment()
    assert os.environ == {"PATH": "/usr/bin"}


def test_a_reset_clears_the_demos_home_and_keeps_its_uid(home: Path) -> None:
    need("bwrap", sandbox_capabilities()["bwrap"] is not None)
    runtime = LocalRuntime(home=home, stop_grace=1, sandbox=settings())
    instance = spec(home, "demo-sbx004")
    try:
        out = start(runtime, instance)
        lease = runtime.sandbox.find("demo-sbx004")
        assert lease is not None
        assert call(out, "wrapped", "/write", {"path": str(lease.home / "notes")})["written"]
        runtime.reset(instance_id="demo-sbx004")
        assert not (lease.home / "notes").exists()
        again = start(runtime, instance)
        assert call(again, "forked", "/whoami")["uid"] == lease.uid  # its data kept the lease
    finally:
        destroy(home, runtime, "demo-sbx004")
        runtime.close()


def test_a_shared_folder_as_home_keeps_its_mode(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # like /tmp: making it 0700 would lock everyone else out
    load_or_create_key(shared, None)
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777
    assert stat.S_IMODE((shared / "secret.key").stat().st_mode) == 0o600


def test_cgroups_nobody_holds_are_swept_when_a_runtime_starts(
    home: Path, two_demos: tuple[LocalRuntime, Outputs, Outputs]
) -> None:
    runtime, one, _ = two_demos
    found = memory_cgroup_root()
    if found is None:
        pytest.skip("no usable memory cgroup here")
    left = found[1] / "1999999999"  # no lease names it: a demo nobody destroyed
    (left / "web").mkdir(parents=True)
    live = Path(one.state["services"]["forked"]["cgroup"])
    LocalRuntime(home=home, stop_grace=1, sandbox=settings()).close()
    assert not left.exists()
    assert live.is_dir()  # a held one stays
    assert runtime.probe(instance_id="demo-sbx001").healthy
