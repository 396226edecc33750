"""The file-system view of a sandboxed demo: what it must read, what it must not see. Stdlib only:
the fork-server's children use it after the fork (sandbox.py uses it to build bwrap's mounts).

A demo's uid must reach the interpreter, the venv and its code, though a folder on the way may be
closed to others (a pyenv Python under `/root`, 0700): such a folder is covered by an empty
tmpfs and only the paths needed are bound back, read-only. `DEMO_HOME` is covered too: what the
demo needs of it (its log) is already open when it starts; and `/tmp` is a tmpfs of its own
(1777, charged to its memory cgroup), so demos never see each other's temporary files.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Sequence
from pathlib import Path

CLONE_NEWNS = 0x00020000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
TMP = "/tmp"


def reach_plan(reach: list[str], covered: Sequence[str] = ()) -> tuple[list[str], list[str]]:
    """(folders to cover with an empty tmpfs: `covered` and those in the way, outermost only;
    paths to bind back read-only) so that every path of `reach` can be read by any uid."""
    paths = sorted({os.path.realpath(p) for p in reach if os.path.exists(p)})
    paths = [p for p in paths if not any(q != p and p.startswith(q + "/") for q in paths)]
    hidden = {os.path.realpath(c) for c in covered if os.path.isdir(c)}
    hidden = {h for h in hidden if not any(h.startswith(o + "/") for o in hidden)}
    for path in paths:
        for folder in reversed(Path(path).parents):
            name = str(folder)
            if name in hidden:
                break
            if name != "/" and not os.stat(name).st_mode & 0o001:
                hidden.add(name)
                break
    binds = [p for p in paths if any(p.startswith(h + "/") for h in hidden)]
    return sorted(hidden), binds


def missing_folders(path: str, hidden: list[str], made: set[str]) -> list[str]:
    """The folders strictly between the covered folder holding `path` and `path`, outermost
    first, not yet in `made` (which they join): what must be made on the tmpfs, mode 0755."""
    cover = next(h for h in hidden if path.startswith(h + "/"))
    found = []
    for folder in reversed(Path(path).parents):
        name = str(folder)
        if len(name) > len(cover) and name not in made:
            made.add(name)
            found.append(name)
    return found


def private_view(reach: list[str], cover: list[str]) -> None:
    """In a new mount namespace of this (single-threaded, still privileged) process: cover
    `cover` and the folders in the way of `reach` with empty tmpfs, and bind the paths of
    `reach` back read-only. Raises OSError when the kernel refuses."""
    hidden, binds = reach_plan(reach, cover)
    _check(_libc().unshare(CLONE_NEWNS), "unshare")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    # Held open before the covering (which hides them), after the unshare (a bind's source
    # must be in this namespace).
    keep = {path: os.open(path, os.O_PATH | os.O_CLOEXEC) for path in binds}
    try:
        for folder in hidden:
            options = "mode=1777" if folder == TMP else "mode=0755,size=64k"
            _mount("tmpfs", folder, "tmpfs", MS_NOSUID | MS_NODEV, options)
        made: set[str] = set()
        for path, fd in keep.items():
            for folder in [*missing_folders(path, hidden, made), path]:
                os.makedirs(folder, exist_ok=True)
                os.chmod(folder, 0o755)  # whatever the umask: the demo must pass
            _mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
            _mount(None, path, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID)
    finally:
        for fd in keep.values():
            os.close(fd)


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    result = _libc().mount(
        source.encode() if source else None,
        target.encode(),
        fstype.encode() if fstype else None,
        ctypes.c_ulong(flags),
        data.encode() if data else None,
    )
    _check(result, f"mount {target}")


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")
