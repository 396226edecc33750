"""Linux process facts the local runtime needs: liveness that survives pid reuse, the marker
environment that lets the orchestrator find its own processes after a crash, the little of our
own environment a child may see, and stopping a process group with SIGTERM then SIGKILL."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterable
from pathlib import Path

# What a demo's processes (and seed commands) inherit from the orchestrator's environment: enough
# to find Python and its packages, never the orchestrator's own secrets.
PASSED_THROUGH = ("PATH", "LANG", "LC_ALL", "TZ", "PYTHONPATH", "VIRTUAL_ENV")


def minimal_env() -> dict[str, str]:
    return {k: os.environ[k] for k in PASSED_THROUGH if k in os.environ}


PROC = Path("/proc")
# All a demo's process (or a seed command) sees of the orchestrator's environment, which may hold
# its tokens and store URL.
PASSED_THROUGH = ("PATH", "LANG", "LC_ALL", "TZ", "PYTHONPATH", "VIRTUAL_ENV")


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


def marked_processes(marker: str, value: str) -> dict[int, str]:
    """pid -> DEMO_INSTANCE_ID of every live process whose environment has `marker=value`."""
    wanted = f"{marker}={value}".encode()
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
        for item in items:
            if item.startswith(b"DEMO_INSTANCE_ID="):
                pid = int(entry.name)
                if start_time(pid) is not None:
                    found[pid] = item.split(b"=", 1)[1].decode()
                break
    return found


def stop_groups(pids: Iterable[int], *, grace: float) -> None:
    """SIGTERM each pid's process group, wait up to `grace` seconds, then SIGKILL what is left."""
    groups: set[int] = set()
    for pid in pids:
        try:
            groups.add(os.getpgid(pid))
        except ProcessLookupError:
            continue
    groups.discard(os.getpgrp())  # never our own group
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
