"""The local runtime's fork-server, on real processes: a service with an `entry` is a child forked
from a parent that preloaded it; the child is detached, marked by its pidfile, isolated from its
siblings (memory, random state, crashes), reaped when it exits, found again and stopped by a new
runtime; the post-fork hook runs in it before it serves; and a blueprint without an entry, a
fork-server turned off or one that cannot start all fall back to the service's command.

The crash of a real `democtl serve` with forked demos is in test_forkserver_crash.py.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from demo_orchestrator.domain.blueprint import load_blueprint
from demo_orchestrator.providers import processes
from demo_orchestrator.providers.base import InstanceSpec, Outputs
from demo_orchestrator.providers.forkserver_protocol import INFO
from demo_orchestrator.providers.local_runtime import LocalRuntime
from demo_orchestrator.providers.sqlite_db import SqliteDatabase
from tests.conftest import stop_everything_of
from tests.fakes.data_services import provision

BLUEPRINTS = Path(__file__).resolve().parents[1] / "blueprints"
HOOK = f"{BLUEPRINTS / 'tiny_fork_hook.py'}:mark"


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "home"
    folder.mkdir()
    yield folder
    stop_everything_of(folder)


def make_runtime(home: Path, **options: Any) -> LocalRuntime:
    return LocalRuntime(home=home, stop_grace=1, **options)


def spec(
    home: Path, instance_id: str, blueprint: str = "tiny_fork.yaml", **changes: Any
) -> InstanceSpec:
    loaded = load_blueprint(BLUEPRINTS / blueprint)
    if changes:  # e.g. another entry for the forked service
        services = [loaded.services[0].model_copy(update=changes), *loaded.services[1:]]
        loaded = loaded.model_copy(update={"services": services})
    scenario = loaded.scenarios[0]
    plain = InstanceSpec(instance_id=instance_id, blueprint=loaded, scenario=scenario)
    env = SqliteDatabase(home=home).ensure(spec=plain).env
    return InstanceSpec(instance_id=instance_id, blueprint=loaded, scenario=scenario, env=env)


def start(runtime: LocalRuntime, instance: InstanceSpec) -> Outputs:
    out = provision(runtime, instance)
    runtime.wait_healthy(instance_id=instance.instance_id, timeout=20)
    return out


def whoami(out: Outputs, service: str = "web") -> dict[str, Any]:
    port = out.state["services"][service]["port"]
    return dict(httpx.get(f"http://127.0.0.1:{port}/whoami", timeout=5, trust_env=False).json())


def fork_servers(home: Path) -> dict[int, dict[str, Any]]:
    """pid -> server.json of every live fork-server of this home."""
    found = {}
    for path in (home / "forkservers").glob(f"*/{INFO}"):
        info = json.loads(path.read_text())
        if processes.is_alive(info["pid"], info["started"]):
            found[info["pid"]] = info
    return found


def gone(pid: int, timeout: float = 10) -> bool:
    """True once `pid` has no /proc entry at all: exited and reaped (a zombie still has one)."""
    deadline = time.monotonic() + timeout
    while Path(f"/proc/{pid}").exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_a_service_with_an_entry_is_a_child_of_the_preloaded_fork_server(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEMO_TEST_ORCHESTRATOR_ONLY", "s3cret-of-the-orchestrator")
    runtime = make_runtime(home)
    out = start(runtime, spec(home, "demo-aaaaa1"))
    web, side = out.state["services"]["web"], out.state["services"]["side"]
    assert (web["via"], side["via"]) == ("fork", "command")
    [server] = fork_servers(home)
    me = whoami(out)
    assert me["pid"] == web["pid"] and me["ppid"] == server
    assert me["preloaded_in"] == [server]  # preload ran once, in the parent, before the fork
    assert os.getpgid(web["pid"]) == web["pid"]  # its own process group
    assert Path(f"/proc/{web['pid']}/comm").read_text().strip() == "demo-aaaaa1"
    pidfile = home / "runtime" / "demo-aaaaa1" / "procs" / f"{web['pid']}.json"
    assert json.loads(pidfile.read_text())["started"] == web["started"]
    # Never the orchestrator's environment: not in os.environ, not in /proc/<pid>/environ.
    assert "DEMO_TEST_ORCHESTRATOR_ONLY" not in me["environ"]
    assert "DATABASE_URL" in me["environ"] and "DEMO_INSTANCE_ID" in me["environ"]
    assert b"s3cret-of-the-orchestrator" not in Path(f"/proc/{web['pid']}/environ").read_bytes()
    # A second demo is forked by the same parent, at once (no NotReady: it is up).
    second = runtime.ensure(spec=spec(home, "demo-aaaaa2"))
    assert second.state["services"]["web"]["via"] == "fork"
    runtime.wait_healthy(instance_id="demo-aaaaa2", timeout=20)
    assert whoami(second)["ppid"] == server
    for instance_id in ("demo-aaaaa1", "demo-aaaaa2"):
        runtime.destroy(instance_id=instance_id)
    assert gone(web["pid"]) and runtime.owned() == set()
    assert server in fork_servers(home)  # it outlives the demos, ready for the next
    runtime.close()


def test_the_post_fork_hook_runs_in_the_child_before_it_serves(home: Path) -> None:
    runtime = make_runtime(home, post_fork_hook=HOOK)
    out = start(runtime, spec(home, "demo-bbbbb1"))
    pid = out.state["services"]["web"]["pid"]
    [server] = fork_servers(home)
    assert whoami(out)["hooked_before_serve"] == str(pid)
    ran = json.loads((home / "runtime" / "demo-bbbbb1" / "hooked-web.json").read_text())
    assert ran["pid"] == pid and ran["ppid"] == server  # in the child, not in the fork-server
    assert ran["pgid"] == pid  # after the child moved to its own process group
    assert ran["cwd"] == str(home.resolve() / "runtime" / "demo-bbbbb1")
    assert not (home / "runtime" / "demo-bbbbb1" / "hooked-side.json").exists()  # forks only
    runtime.destroy(instance_id="demo-bbbbb1")
    runtime.close()


def test_children_are_isolated_from_each_other(home: Path) -> None:
    runtime = make_runtime(home)
    one = start(runtime, spec(home, "demo-ccccc1"))
    two = start(runtime, spec(home, "demo-ccccc2"))
    port = one.state["services"]["web"]["port"]
    httpx.post(f"http://127.0.0.1:{port}/state", json={"kept": "in one"}, trust_env=False)
    first, second = whoami(one), whoami(two)
    assert first["state"] == {"kept": "in one"} and second["state"] == {}
    assert first["random"] != second["random"]  # the random module, re-seeded per child
    assert first["rng"] != second["rng"]  # and a Random made in the parent before the fork
    # One demo crashes: it is reaped (no zombie); the other and the fork-server go on.
    crashed = first["pid"]
    with pytest.raises(httpx.HTTPError):
        httpx.post(f"http://127.0.0.1:{port}/crash", timeout=5, trust_env=False)
    assert gone(crashed), "the crashed child was not reaped"
    assert not runtime.alive(instance_id="demo-ccccc1").healthy
    assert runtime.probe(instance_id="demo-ccccc2").healthy
    assert whoami(two)["pid"] == second["pid"]
    again = start(runtime, spec(home, "demo-ccccc1"))  # healing: forked again
    assert whoami(again)["pid"] != crashed
    for instance_id in ("demo-ccccc1", "demo-ccccc2"):
        runtime.destroy(instance_id=instance_id)
    runtime.close()


def test_a_killed_child_is_reaped_and_stopping_never_touches_the_fork_server(home: Path) -> None:
    runtime = make_runtime(home)
    out = start(runtime, spec(home, "demo-ddddd1"))
    pid = out.state["services"]["web"]["pid"]
    [server] = fork_servers(home)
    os.kill(pid, signal.SIGKILL)
    assert gone(pid), "the killed child stayed a zombie"
    runtime.destroy(instance_id="demo-ddddd1")
    assert server in fork_servers(home)
    runtime.close()


def test_a_new_runtime_adopts_the_fork_server_and_destroys_stray_children(home: Path) -> None:
    first = make_runtime(home)
    out = start(first, spec(home, "demo-eeeee1"))
    [server] = fork_servers(home)
    # As if the orchestrator died right after a spawn, before writing runtime.json: a child
    # only the fork-server and its pidfile know of.
    folder = home / "runtime" / "demo-eeeee2"
    (folder / "logs").mkdir(parents=True)
    stray = first.forks.spawn(
        first.forks.key(spec(home, "demo-eeeee2").blueprint),
        entry="tiny_fork_service.py:serve",
        instance_id="demo-eeeee2",
        service="web",
        port=processes.free_port(),
        env={**spec(home, "demo-eeeee2").env, "DEMO_INSTANCE_ID": "demo-eeeee2"},
        folder=folder,
        log=folder / "logs" / "web.log",
    )
    assert processes.is_alive(stray.pid, stray.started)
    (folder / "runtime.json").unlink(missing_ok=True)
    first.close()  # the orchestrator is gone; a new one starts

    second = make_runtime(home)
    assert second.owned() == {"demo-eeeee1", "demo-eeeee2"}
    adopted = second.ensure(spec=spec(home, "demo-eeeee1"))
    assert adopted.message == "adopted running processes" and adopted.state == out.state
    third = second.ensure(spec=spec(home, "demo-eeeee3"))  # the fork-server is adopted as is
    assert third.state["services"]["web"]["via"] == "fork"
    assert list(fork_servers(home)) == [server]
    second.destroy(instance_id="demo-eeeee2")  # the sweep's call for an id the store lacks
    assert gone(stray.pid) and not folder.exists()
    for instance_id in ("demo-eeeee1", "demo-eeeee3"):
        second.destroy(instance_id=instance_id)
    assert second.owned() == set()
    second.close()


def test_a_dead_fork_server_is_started_again_and_its_children_live_on(home: Path) -> None:
    runtime = make_runtime(home)
    out = start(runtime, spec(home, "demo-fffff1"))
    [server] = fork_servers(home)
    os.kill(server, signal.SIGKILL)
    assert runtime.probe(instance_id="demo-fffff1").healthy  # its demo does not care
    later = start(runtime, spec(home, "demo-fffff2"))  # NotReady while it starts again
    [restarted] = fork_servers(home)
    assert restarted != server and whoami(later)["ppid"] == restarted
    runtime.destroy(instance_id="demo-fffff1")
    assert not processes.is_alive(out.state["services"]["web"]["pid"], None)
    runtime.destroy(instance_id="demo-fffff2")
    runtime.close()


def test_new_code_gets_a_new_fork_server_and_the_old_one_retires_with_its_last_demo(
    home: Path, tmp_path: Path
) -> None:
    runtime = make_runtime(home)
    start(runtime, spec(home, "demo-ggggg1"))
    [old] = fork_servers(home)
    service = BLUEPRINTS / "tiny_fork_service.py"
    stat = service.stat()
    try:
        os.utime(service, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        runtime.forks._keys.clear()  # the code is looked at again every few seconds; now
        start(runtime, spec(home, "demo-ggggg2"))
    finally:
        os.utime(service, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert set(fork_servers(home)) - {old}, "no new fork-server for the new code"
    assert old in fork_servers(home)  # retiring, but its demo still runs
    runtime.destroy(instance_id="demo-ggggg1")
    deadline = time.monotonic() + 10
    while processes.is_alive(old, None):
        assert time.monotonic() < deadline, "the retired fork-server outlived its last demo"
        time.sleep(0.05)
    runtime.forks.reap()
    assert gone(old), "the orchestrator did not reap the fork-server it started"
    runtime.destroy(instance_id="demo-ggggg2")
    runtime.close()


def test_without_an_entry_or_with_the_fork_server_off_services_start_with_their_command(
    home: Path,
) -> None:
    plain = make_runtime(home)
    out = start(plain, spec(home, "demo-hhhhh1", blueprint="tiny.yaml"))
    assert out.state["services"]["web"]["via"] == "command"
    assert fork_servers(home) == {}  # nothing to fork: no fork-server at all
    plain.destroy(instance_id="demo-hhhhh1")
    plain.close()
    off = make_runtime(home, fork_server=False)
    out = start(off, spec(home, "demo-hhhhh2"))
    assert {s["via"] for s in out.state["services"].values()} == {"command"}
    assert whoami(out)["preloaded_in"] == []  # a fresh interpreter: nothing preloaded
    assert fork_servers(home) == {}
    off.destroy(instance_id="demo-hhhhh2")
    off.close()


def test_a_fork_server_that_cannot_start_falls_back_to_the_command(home: Path) -> None:
    runtime = make_runtime(home)
    broken = spec(home, "demo-iiiii1", entry="tiny_fork_service.py:no_such_function")
    out = start(runtime, broken)
    assert out.state["services"]["web"]["via"] == "command"
    assert "fork-server unavailable" in out.message and "no_such_function" in out.message
    log = (home / "runtime" / "demo-iiiii1" / "logs" / "web.log").read_text()
    assert "started by command" in log
    assert fork_servers(home) == {}
    runtime.destroy(instance_id="demo-iiiii1")
    runtime.close()


@pytest.mark.parametrize(
    ("preload", "refusal"),
    [
        ("preload_leaving_a_thread", "threads running: ['left-running']"),
        ("preload_leaving_a_file_open", "files or connections open"),
    ],
)
def test_a_preload_that_leaves_something_alive_is_refused(
    home: Path, preload: str, refusal: str
) -> None:
    runtime = make_runtime(home)
    instance = spec(home, "demo-jjjjj1", preload=f"tiny_fork_service.py:{preload}")
    out = start(runtime, instance)
    assert out.state["services"]["web"]["via"] == "command"
    assert f"refusing to fork: preload left {refusal}" in out.message
    runtime.destroy(instance_id="demo-jjjjj1")
    runtime.close()
