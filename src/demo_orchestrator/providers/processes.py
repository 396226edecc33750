"""Linux process facts the local runtime needs: liveness that survives pid reuse, the markers
that let the orchestrator find its own processes after a crash, the little of our own
environment a child may see, and stopping a process group with SIGTERM then SIGKILL.

Two markers, because a process started two ways shows two faces: one started with its command
(`subprocess.Popen`) carries `DEMO_ORCHESTRATOR_HOME` and `DEMO_INSTANCE_ID` in its
`/proc/<pid>/environ`; one forked by the fork-server keeps its parent's start-up environment there
(a fork changes no byte of it), so its first act is to write a pidfile with its start time,
`runtime/<id>/procs/<pid>.json`. Stdlib only: the fork-server imports this module too.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from collections.abc import Iterable
from pathlib import Path

PROC = Path("/proc")
# All a demo's process (or a seed command) sees of the orchestrator's environment, which may hold
# its tokens and store URL: enough to find Python and its packages.
PASSED_THROUGH = ("PATH", "LANG", "LC_ALL", "TZ", "PYTHONPATH", "VIRTUAL_ENV")
# The folder of pidfiles inside an instance's runtime folder.
PIDFILES = "procs"


def minimal_env() -> dict[str, str]:
    return {k: os.environ[k] for k in PASSED_THROUGH if k in os.environ}


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, or None if it is gone or a zombie."""
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    if fields[0] in {"Z", "X"}:
        return None
    return int(fields[19])


def is_alive(pid: int, started: int | None) -> bool:
    current = start_time(pid)
    return current is not None and (started is None or current == started)


def marked_processes(marker: str, value: str, label: str = "DEMO_INSTANCE_ID") -> dict[int, str]:
    """pid -> the `label` variable (the instance id) of every live process whose environment at
    start had `marker=value` and a `label`."""
    return {pid: found for pid, found in _environ_scan(marker, value, label).items() if found}


def carrying(marker: str, value: str) -> set[int]:
    """Every live process whose environment at start had `marker=value`: the demos started with
    their command, a fork-server and every child it forked (for clean-ups that must miss none)."""
    return set(_environ_scan(marker, value, None))


def _environ_scan(marker: str, value: str, label: str | None) -> dict[int, str]:
    wanted = f"{marker}={value}".encode()
    prefix = f"{label}=".encode() if label else None
    found: dict[int, str] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        items = environ.split(b"\0")
        if wanted not in items:
            continue
        pid = int(entry.name)
        if start_time(pid) is None:
            continue
        labels = [i.split(b"=", 1)[1].decode() for i in items if prefix and i.startswith(prefix)]
        found[pid] = labels[0] if labels else ""
    return found


def write_pidfile(folder: Path, *, service: str) -> None:
    """Mark the calling process as one of the instance whose runtime folder is `folder`.

    Never creates `folder` itself: a child forked for an instance being destroyed finds it gone
    and must not bring it back (FileNotFoundError)."""
    pid = os.getpid()
    pids = folder / PIDFILES
    pids.mkdir(exist_ok=True)
    tmp = pids / f".{pid}.tmp"
    tmp.write_text(json.dumps({"pid": pid, "started": start_time(pid), "service": service}))
    os.replace(tmp, pids / f"{pid}.json")


def pidfile_processes(root: Path, instance_id: str = "*") -> dict[int, str]:
    """pid -> instance id of every live process with a pidfile under `root/<id>/procs/` whose
    start time matches (a reused pid is someone else)."""
    found: dict[int, str] = {}
    for path in root.glob(f"{instance_id}/{PIDFILES}/*.json"):
        try:
            data = json.loads(path.read_text())
            pid, started = int(data["pid"]), data.get("started")
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if started is not None and is_alive(pid, int(started)):
            found[pid] = path.parent.parent.name
    return found


def prune_pidfiles(folder: Path) -> None:
    """Forget the pidfiles of processes that are gone."""
    live = set(pidfile_processes(folder.parent, folder.name))
    for path in (folder / PIDFILES).glob("*.json"):
        if path.stem.isdigit() and int(path.stem) not in live:
            path.unlink(missing_ok=True)


def outside_groups(pids: Iterable[int], keep: Iterable[int]) -> set[int]:
    """`pids` less those in the process group of any pid of `keep` (or in `keep` itself)."""
    kept = set(keep)
    groups = set()
    for pid in kept:
        try:
            groups.add(os.getpgid(pid))
        except ProcessLookupError:
            continue
    found = set()
    for pid in pids:
        try:
            if pid not in kept and os.getpgid(pid) not in groups:
                found.add(pid)
        except ProcessLookupError:
            continue
    return found


def stop_groups(pids: Iterable[int], *, grace: float, spare: Iterable[int] = ()) -> None:
    """SIGTERM each pid's process group, wait up to `grace` seconds, then SIGKILL what is left.

    Never our own group nor the groups in `spare` (a fork-server's, which a child still in it
    would otherwise name)."""
    groups: set[int] = set()
    for pid in pids:
        try:
            groups.add(os.getpgid(pid))
        except ProcessLookupError:
            continue
    groups.discard(os.getpgrp())
    groups.difference_update(spare)
    for group in groups:
        _signal_group(group, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_group_alive(g) for g in groups):
        time.sleep(0.02)
    for group in groups:
        if _group_alive(group):
            _signal_group(group, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(_group_alive(g) for g in groups):
        time.sleep(0.02)


def _signal_group(group: int, sig: signal.Signals) -> None:
    try:
        os.killpg(group, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _group_alive(group: int) -> bool:
    """True while any non-zombie process of the group exists."""
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        if int(fields[2]) == group and fields[0] not in {"Z", "X"}:
            return True
    return False


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
