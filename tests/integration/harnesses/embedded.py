"""Harnesses of the providers that need no server: the `sqlite` database and the `local` runtime."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from demo_orchestrator.providers import processes
from demo_orchestrator.providers.base import InstanceSpec, Outputs
from demo_orchestrator.providers.local_runtime import MARKER, LocalRuntime, LocalSettings
from demo_orchestrator.providers.sqlite_db import SqliteDatabase
from tests.integration.harnesses.base import (
    Foreign,
    Harness,
    NotApplicable,
    World,
    demo_writes_a_row,
    five_seeded_rows,
    nothing,
    rows_back_to_the_seed,
    spec_of,
)

# -- sqlite ---------------------------------------------------------------------------------------

SQLITE = Harness(
    name="sqlite",
    marks=(),
    build=lambda w: w.keep(SqliteDatabase.from_settings(w.core())),
    spec=spec_of("tiny.yaml"),
    works=five_seeded_rows,
    write=demo_writes_a_row,
    pristine=rows_back_to_the_seed,
    foreign=NotApplicable("a file under DEMO_HOME: nobody else's resources live there"),
    unreachable=NotApplicable("a local file: there is no server to be unreachable"),
    cleanup=lambda w: None,  # all under the test's tmp_path
    leftovers=nothing,
)


# -- local runtime --------------------------------------------------------------------------------


def _local_spec(world: World, instance_id: str) -> InstanceSpec:
    # One service forked by the fork-server, one started with its command: both ways, every clause.
    plain = spec_of("tiny_fork.yaml")(world, instance_id)
    database = SqliteDatabase(home=world.home).ensure(spec=plain)
    return InstanceSpec(
        instance_id=instance_id,
        blueprint=plain.blueprint,
        scenario=plain.scenario,
        env=database.env,
    )


def _serving(world: World, instance_id: str, out: Outputs) -> None:
    """Every service answers its health path (polled: processes take a moment to start)."""
    deadline = time.monotonic() + 20
    for service in out.state["services"].values():
        url = f"http://127.0.0.1:{service['port']}{service['health_path']}"
        while True:
            try:
                if httpx.get(url, timeout=2, trust_env=False).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"{url} never answered"
            time.sleep(0.05)


def _local_writes(world: World, instance_id: str, out: Outputs) -> None:
    _serving(world, instance_id, out)
    (world.home / "runtime" / instance_id / "written-by-the-demo").write_text("state")


def _fresh_processes(world: World, instance_id: str, before: Outputs, after: Outputs) -> None:
    _serving(world, instance_id, after)
    assert not (world.home / "runtime" / instance_id / "written-by-the-demo").exists()
    # A service that opted in to reloads keeps its process with new settings; the others are new.
    reloads = {n for n, s in before.state["services"].items() if s.get("reload_path")}
    old = {s["pid"] for n, s in before.state["services"].items() if n not in reloads}
    new = {s["pid"] for n, s in after.state["services"].items() if n not in reloads}
    assert not old & new and not any(processes.is_alive(pid, None) for pid in old)
    for name in reloads:
        was, now = before.state["services"][name], after.state["services"][name]
        assert now["pid"] == was["pid"] and now["settings"] != was["settings"]


@contextmanager
def _foreign_processes(world: World) -> Iterator[Foreign]:
    """A process of another orchestrator on this machine (its own DEMO_HOME) with a demo id."""
    env = {**os.environ, MARKER: str(world.home.parent / "another-home")}
    env["DEMO_INSTANCE_ID"] = world.id("foreign 1")
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)"], env=env, start_new_session=True
    )

    def intact() -> None:
        assert child.poll() is None, "another orchestrator's process was killed"

    try:
        yield Foreign({env["DEMO_INSTANCE_ID"]}, intact)
    finally:
        child.kill()
        child.wait()


def _local_cleanup(world: World) -> None:
    runtime = LocalRuntime.from_settings(world.core(), LocalSettings(stop_grace_seconds=0.5))
    try:
        for instance_id in runtime.owned():
            runtime.destroy(instance_id=instance_id)
        processes.stop_groups(runtime.forks.server_pids(), grace=0.5)  # they outlive demos
    finally:
        runtime.close()


def _local_leftovers(world: World) -> dict[str, list[str]]:
    home = str(world.home.resolve())
    found = processes.carrying(MARKER, home)  # demos, fork-servers and forked children alike
    found |= set(processes.pidfile_processes(world.home.resolve() / "runtime"))
    return {"processes": [str(pid) for pid in sorted(found)]} if found else {}


LOCAL = Harness(
    name="local",
    marks=(),
    build=lambda w: w.keep(
        LocalRuntime.from_settings(w.core(), LocalSettings(stop_grace_seconds=1))
    ),
    spec=_local_spec,
    works=_serving,
    write=_local_writes,
    pristine=_fresh_processes,
    foreign=_foreign_processes,
    unreachable=NotApplicable("processes on this machine: there is no server to be unreachable"),
    cleanup=_local_cleanup,
    leftovers=_local_leftovers,
)
