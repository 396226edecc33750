"""What a freshly forked demo child does before it serves, in this order, and why.

1. Signal handlers and mask back to an interpreter's defaults (the fork-server's SIGCHLD reaper
   must not run in a demo).
2. A process group of its own: the runtime stops a demo by signalling its group, which must
   never be the fork-server's or another demo's. The fork-server sets it too, right after the
   fork (`setpgid` from both sides, as a shell does for a job), so the pid it answers with
   already leads its own group and nobody waits for the child to be scheduled.
3. Its pidfile with its start time, `runtime/<id>/procs/<pid>.json`: how the orchestrator finds
   it again after a crash (its `/proc/<pid>/environ` is the fork-server's, unchanged by a fork).
4. Its name (`/proc/self/comm`: the instance id, for `ps` and `top`), its log as stdout and
   stderr, its runtime folder as working directory, and exactly the environment the runtime sent
   (never the fork-server's or the orchestrator's).
5. Fresh random state: `random` and every `random.Random` the parent held are re-seeded from the
   OS, so two demos never draw the same numbers (os.urandom, `secrets` and uuid4 need nothing).
6. The post-fork hook (do-nothing by default; it runs with the fork-server's privileges).
7. The sandbox (sandbox.py), when the runtime sent one: join the service's memory cgroup,
   make its own view of the file system (sandbox_mounts.py: DEMO_HOME covered, the interpreter
   and the code reachable), then drop to the demo's uid and gid with no supplementary groups (setgroups, setgid,
   setuid: no way back), and move into its private folder. Without an exec, so the shared
   pages stay shared; a step that fails ends the child, which never serves unconfined.
   Then the entry point, `entry(port, environ)`.

The child never returns into the fork-server's loop: every path ends in `os._exit`.
"""

from __future__ import annotations

import os
import random
import signal
import sys
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from demo_orchestrator.providers import processes
from demo_orchestrator.providers.sandbox_mounts import private_view


@dataclass(frozen=True)
class ForkedChild:
    """What the post-fork hook knows of the child it runs in."""

    instance_id: str
    service: str
    port: int
    folder: Path  # the instance's runtime folder, the child's working directory
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    uid: int | None = None  # the demo's own uid (and gid); None: no sandbox
    cgroup: Path | None = None  # the service's memory cgroup folder, to join before the drop
    workdir: Path | None = None  # the demo's private folder (its HOME), the working directory
    reach: tuple[str, ...] = ()  # what it must read (interpreter, venv, code): kept visible
    cover: tuple[str, ...] = ()  # what it must not see (DEMO_HOME): covered by an empty tmpfs


Hook = Callable[[ForkedChild], None]
Entry = Callable[[int, dict[str, str]], Any]


def no_hook(child: ForkedChild) -> None:
    """The default post-fork hook: nothing to drop, nothing to join."""


def become(
    child: ForkedChild,
    *,
    entry: Entry,
    hook: Hook,
    randoms: Iterable[random.Random],
) -> NoReturn:
    """Turn this forked process into the demo service `child`; never returns."""
    status = 1
    try:
        _default_signals()
        os.setpgid(0, 0)
        processes.write_pidfile(child.folder, service=child.service)
        _name(child.instance_id)
        _redirect(child.log)
        os.chdir(child.folder)
        os.environ.clear()
        os.environ.update(child.env)
        _reseed(randoms)
        hook(child)
        _confine(child)
        entry(child.port, dict(child.env))
        status = 0
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - whatever happens, report it and leave
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(status)


def _confine(child: ForkedChild) -> None:
    """Join the cgroup and drop to the demo's uid (step 7); nothing without a sandbox."""
    if child.cgroup is not None:
        (child.cgroup / "cgroup.procs").write_text(str(os.getpid()))
    if child.uid is None:
        return
    if child.uid == 0:
        raise PermissionError("refusing to run a sandboxed demo as uid 0")
    private_view(list(child.reach), list(child.cover))
    os.setgroups([])
    os.setgid(child.uid)
    os.setuid(child.uid)
    if os.getuid() != child.uid or os.geteuid() != child.uid:
        raise PermissionError(f"could not drop to uid {child.uid}")
    if child.workdir is not None:
        os.chdir(child.workdir)


def _default_signals() -> None:
    for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.pthread_sigmask(signal.SIG_SETMASK, set())


def _name(instance_id: str) -> None:
    try:
        Path("/proc/self/comm").write_text(instance_id[:15])
    except OSError:
        pass  # a name for people reading `ps`; nothing depends on it


def _redirect(log: Path) -> None:
    null = os.open(os.devnull, os.O_RDONLY)
    out = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.dup2(null, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(null)
    os.close(out)
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(line_buffering=True, write_through=True)


def _reseed(randoms: Iterable[random.Random]) -> None:
    random.seed()
    for generator in randoms:
        generator.seed()
