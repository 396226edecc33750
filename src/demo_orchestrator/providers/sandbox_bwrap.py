"""How a sandboxed service started with its command is run: bubblewrap, then setpriv (see
sandbox.py for the sandbox itself and sandbox_mounts.py for the file-system view)."""

from __future__ import annotations

import sys
from pathlib import Path

from demo_orchestrator.providers.sandbox import Lease, bwrap
from demo_orchestrator.providers.sandbox_mounts import TMP, missing_folders, reach_plan


def bwrap_command(
    command: list[str], lease: Lease, cgroup: Path | None, *, reach: list[Path], cover: list[Path]
) -> list[str]:
    """`command` run as the demo's uid under bubblewrap: the system and the venv read-only, its
    private folder writable, its own /tmp and /proc (its own processes only), the network kept
    (it binds a loopback port). A root shell joins the cgroup first and execs bwrap, which sets
    up the mounts as root; inside, setpriv drops to the demo's uid, all capabilities and
    groups, with no_new_privs, before the service runs. Without bwrap: setpriv alone (the uid
    is dropped, the file system is not narrowed)."""
    drop = [
        "setpriv",
        f"--reuid={lease.uid}",
        f"--regid={lease.gid}",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--no-new-privs",
        "--",
    ]
    found = bwrap()
    if found is None:
        inner = [*drop, *command]
    else:
        inner = [
            found,
            "--ro-bind", "/", "/",
            "--dev", "/dev",
            "--proc", "/proc",
            *_reach_mounts(reach, [*cover, Path(TMP)]),
            "--bind", str(lease.folder), str(lease.folder),
            "--chdir", str(lease.home),
            "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--setenv", "TMPDIR", "/tmp",
            "--",
            *drop,
            *command,
        ]  # fmt: skip
    procs = str(cgroup / "cgroup.procs") if cgroup else ""
    join = 'if [ -n "$0" ]; then echo $$ > "$0" || exit 111; fi; exec "$@"'
    return ["/bin/sh", "-c", join, procs, *inner]


def _reach_mounts(reach: list[Path], cover: list[Path]) -> list[str]:
    """bwrap's arguments for sandbox_mounts.reach_plan, and `cover` (DEMO_HOME) made empty."""
    hidden, binds = reach_plan([str(p) for p in reach], [str(c) for c in cover])
    mounts: list[str] = []
    for folder in hidden:
        mounts += ["--perms", "1777" if folder == TMP else "0755", "--tmpfs", folder]
    made: set[str] = set()
    for path in binds:
        # The folders between the cover and the path, made on the tmpfs as 0755 (bwrap would
        # make them 0700 and the demo could not pass).
        for folder in missing_folders(path, hidden, made):
            mounts += ["--perms", "0755", "--dir", folder]
        mounts += ["--ro-bind", path, path]
    return mounts


def reach_of(base: Path) -> list[Path]:
    """What a sandboxed service started by command must read: the interpreter, the venv, the
    import path (the editable source) and its blueprint's folder."""
    found = [Path(sys.base_prefix), Path(sys.prefix), base]
    found += [Path(p) for p in sys.path if p and Path(p).is_dir()]
    return [p for p in found if p.is_dir()]
