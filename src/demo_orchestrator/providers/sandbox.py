"""The local runtime's sandbox: a uid of its own, a private folder and a memory cgroup per demo.

Why: without it every demo runs as the orchestrator's user and can read `DEMO_HOME` (the secret
key, the store, every other demo's database) and `/proc/<pid>/environ` of the orchestrator.

- **uid (and gid, the same number)** per demo, leased from `DEMO_SANDBOX_UID_BASE` ..
  `+ DEMO_SANDBOX_UID_COUNT`. The lease is machine-wide (`<DEMO_SANDBOX_ROOT>/leases/<uid>.json`,
  taken under a lock, naming the `DEMO_HOME` and instance holding it), because several
  orchestrators on one machine must never hand one uid to two demos; the instance's record
  (`DEMO_HOME/sandbox/<id>.json`) lets a restarted orchestrator re-adopt the same uid. A lease
  whose holder's record is gone is stale and taken over.
- **a private folder** `<DEMO_SANDBOX_ROOT>/<uid>/` (root's, 0711, like the root itself: a demo
  reaches its own folders and lists nothing, nor swaps them): `home/` (0700, the demo's uid) is
  its HOME and working directory, `data/` (the same) its SQLite file, `settings/` its reload
  settings (files 0600, the demo's uid). It lives outside `DEMO_HOME`, which stays 0700.
  The lease is given back (and the folder removed) once both the runtime and the database have
  let go of it (a sleeping demo keeps its data, so its uid).
- **a memory cgroup** per demo and service (`<uid>/<service>`, limited to the service's
  `memory_mb`, the demo to their sum), under `demo-sandboxes/` of the cgroup v2 root when its
  memory controller is available there, else of the v1 memory controller. Neither: limits are
  not enforced, which is logged and reported by `sandbox_capabilities()`.

Only root can do any of this. When the orchestrator is not root (or `DEMO_SANDBOX_ENABLED=false`)
demos run as its own uid, as before; run it as root, or as a dedicated user that holds nothing
else, and read the README's "Sandbox" section for what is then missing.
"""

from __future__ import annotations

import fcntl
import functools
import json
import logging
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from demo_orchestrator.domain.errors import PermanentError
from demo_orchestrator.providers.base import ProviderSettings

log = logging.getLogger(__name__)

CGROUP_FS = Path("/sys/fs/cgroup")
CGROUP_FOLDER = "demo-sandboxes"
RECORDS = "sandbox"  # under DEMO_HOME


class SandboxSettings(ProviderSettings):
    """The sandbox's settings: part of the `local` runtime's (LocalSettings inherits them), read
    by the `sqlite` provider too; documented under their own `DEMO_SANDBOX_` names."""

    model_config = SettingsConfigDict(env_prefix="DEMO_LOCAL_")

    sandbox_enabled: bool = Field(
        default=True,
        validation_alias=AliasChoices("DEMO_SANDBOX_ENABLED"),
        description="Run each local demo under a uid of its own, in a private folder, a memory "
        "cgroup and (services started by command) bubblewrap; needs root, a no-op otherwise; "
        "false only for development.",
    )
    sandbox_uid_base: int = Field(
        default=200000,
        ge=1000,
        validation_alias=AliasChoices("DEMO_SANDBOX_UID_BASE"),
        description="First uid (and gid) handed to sandboxed demos; pick a range no user or "
        "service of the machine has.",
    )
    sandbox_uid_count: int = Field(
        default=10000,
        ge=1,
        le=1_000_000,
        validation_alias=AliasChoices("DEMO_SANDBOX_UID_COUNT"),
        description="How many uids from DEMO_SANDBOX_UID_BASE demos may hold at once (every "
        "demo, sleeping ones too, holds one).",
    )
    sandbox_root: Path = Field(
        default=Path("/var/lib/demo-orchestrator/sandboxes"),
        validation_alias=AliasChoices("DEMO_SANDBOX_ROOT"),
        description="Machine-wide folder of the uid leases and the demos' private folders "
        "(outside DEMO_HOME, which demos must not reach).",
    )


@dataclass(frozen=True)
class Lease:
    """A demo's sandbox identity: its uid and gid and its private folder."""

    instance_id: str
    uid: int
    folder: Path

    @property
    def gid(self) -> int:
        return self.uid

    @property
    def home(self) -> Path:
        return self.folder / "home"

    @property
    def data(self) -> Path:
        return self.folder / "data"


def is_root() -> bool:
    return os.geteuid() == 0


@functools.cache
def bwrap() -> str | None:
    """bwrap's path when it is installed and works here (a container without the right to make
    namespaces has it and cannot use it: then, as without it, setpriv alone)."""
    found = shutil.which("bwrap")
    if found is None:
        return None
    probe = [found, "--ro-bind", "/", "/", "--unshare-pid", "--proc", "/proc", "--", "true"]
    return found if _runs(probe) else None


@functools.cache
def mount_namespaces() -> bool:
    """Whether a process here may make a mount namespace of its own (a forked demo's view)."""
    return _runs(["unshare", "--mount", "--", "true"])


def _runs(command: list[str]) -> bool:
    try:
        done = subprocess.run(command, capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def memory_cgroup_root() -> tuple[str, Path] | None:
    """("v2" or "v1", the folder under which demo cgroups go), or None when neither cgroup
    version offers a usable memory controller here. v2 only where the memory controller can be
    handed down to our folder (not in a namespace root that holds processes, say)."""
    v2 = CGROUP_FS / "cgroup.controllers"
    if v2.is_file() and "memory" in v2.read_text().split() and is_root():
        try:
            _enable_memory(CGROUP_FS)
            (CGROUP_FS / CGROUP_FOLDER).mkdir(exist_ok=True)
            _enable_memory(CGROUP_FS / CGROUP_FOLDER)
            return "v2", CGROUP_FS / CGROUP_FOLDER
        except OSError:
            pass
    v1 = CGROUP_FS / "memory"
    if (v1 / "memory.limit_in_bytes").is_file() and os.access(v1, os.W_OK):
        return "v1", v1 / CGROUP_FOLDER
    return None


def sandbox_capabilities() -> dict[str, Any]:
    """What the sandbox can do on this machine, for `democtl doctor` and the start-up log."""
    root = is_root()
    cgroup = memory_cgroup_root()
    found = bwrap()
    missing = []
    if not root:
        missing.append("not root: demos run as the orchestrator's uid, unconfined")
    if cgroup is None:
        missing.append("no writable memory cgroup (v2 or v1): memory limits are not enforced")
    if found is None:
        missing.append("bwrap missing or unusable: services started by command are not confined")
    namespaces = root and mount_namespaces()
    if root and not namespaces:
        missing.append("no mount namespaces: forked demos see the file system as their uid may")
    return {
        "root": root,
        "uids": root,
        "cgroup": cgroup[0] if cgroup else None,
        "cgroup_folder": str(cgroup[1]) if cgroup else None,
        "bwrap": found,
        "mount_namespaces": namespaces,
        "missing": missing,
    }


class Sandbox:
    """Leases, private folders and cgroups of the demos of one DEMO_HOME."""

    def __init__(self, home: Path, settings: SandboxSettings | None = None) -> None:
        self.settings = settings or SandboxSettings()
        self.home = home.resolve()
        self.records = self.home / RECORDS
        self.root = self.settings.sandbox_root
        self.active = self.settings.sandbox_enabled and is_root()
        self.cgroups = memory_cgroup_root() if self.active else None

    def describe(self) -> str:
        """One line for the start-up log: what confines the demos here, and what is missing."""
        if not self.settings.sandbox_enabled:
            return "sandbox off (DEMO_SANDBOX_ENABLED=false): demos run as the orchestrator's uid"
        caps = sandbox_capabilities()
        closed = [str(f) for f in self.root.parents if f.exists() and not f.stat().st_mode & 1]
        if closed:
            caps["missing"].append(
                f"DEMO_SANDBOX_ROOT is under {closed[0]}, which other users may not traverse: "
                "forked demos cannot reach their folders"
            )
        if not caps["missing"]:
            return f"sandbox on: own uid, private folder, {caps['cgroup']} memory cgroup, bwrap"
        return "sandbox partial: " + "; ".join(caps["missing"])

    # -- leases --------------------------------------------------------------------------------

    def lease(self, instance_id: str) -> Lease | None:
        """The demo's lease, re-found or taken now (with its private folder); None when off."""
        if not self.active:
            return None
        with self._locked():
            uid = self._recorded_uid(instance_id)
            if uid is None or not self._holds(uid, instance_id):
                uid = self._take(instance_id)
            lease = Lease(instance_id, uid, self.root / str(uid))
            self._make_folders(lease)
            return lease

    def release_if_unused(self, instance_id: str) -> None:
        """Give the lease back once the demo's private folder holds neither a working folder
        (its processes are gone) nor a database (it was destroyed, not put to sleep)."""
        if not self.active:
            return
        with self._locked():
            uid = self._recorded_uid(instance_id)
            if uid is None:
                return
            lease = Lease(instance_id, uid, self.root / str(uid))
            if lease.home.exists() or any(lease.data.glob("*.db")):
                return
            if self._holds(uid, instance_id):
                shutil.rmtree(lease.folder, ignore_errors=True)
                (self.root / "leases" / f"{uid}.json").unlink(missing_ok=True)
            (self.records / f"{instance_id}.json").unlink(missing_ok=True)

    def runtime_held(self) -> set[str]:
        """The instances of this DEMO_HOME whose lease the runtime holds (their home folder
        exists) or nobody does (no database either: a leak), for the orphan sweep; a lease
        held only by a database is the database's (a sleeping demo)."""
        if not self.records.is_dir():
            return set()
        found = set()
        for path in self.records.glob("demo-*.json"):
            lease = self.find(path.stem)
            if lease is not None and (lease.home.exists() or not any(lease.data.glob("*.db"))):
                found.add(path.stem)
        return found

    def _recorded_uid(self, instance_id: str) -> int | None:
        try:
            return int(json.loads((self.records / f"{instance_id}.json").read_text())["uid"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _holds(self, uid: int, instance_id: str) -> bool:
        try:
            held = json.loads((self.root / "leases" / f"{uid}.json").read_text())
        except (OSError, ValueError):
            return False
        return bool(held.get("home") == str(self.home) and held.get("instance") == instance_id)

    def _take(self, instance_id: str) -> int:
        leases = self.root / "leases"
        base, count = self.settings.sandbox_uid_base, self.settings.sandbox_uid_count
        start = int.from_bytes(instance_id.encode()[-4:], "big") % count
        for step in range(count):
            uid = base + (start + step) % count
            path = leases / f"{uid}.json"
            if path.exists() and (not self._stale(path) or _uid_in_use(uid)):
                continue  # held, or its holder forgot it while its processes still run
            tmp = leases / f".{uid}.{os.getpid()}"
            tmp.write_text(json.dumps({"home": str(self.home), "instance": instance_id}))
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
            shutil.rmtree(self.root / str(uid), ignore_errors=True)  # a stale holder's folder
            record = self.records / f"{instance_id}.json"
            record.write_text(json.dumps({"uid": uid}))
            os.chmod(record, 0o600)
            return uid
        raise PermanentError(
            f"no free sandbox uid: all {count} from {base} are leased; raise "
            "DEMO_SANDBOX_UID_COUNT or destroy demos"
        )

    @staticmethod
    def _stale(path: Path) -> bool:
        """A lease whose holder (a DEMO_HOME's record) no longer names its uid."""
        try:
            held = json.loads(path.read_text())
            record = Path(held["home"]) / RECORDS / f"{held['instance']}.json"
            return int(json.loads(record.read_text())["uid"]) != int(path.stem)
        except (OSError, ValueError, KeyError, TypeError):
            return True

    def _make_folders(self, lease: Lease) -> None:
        # The demo's folder is root's (0711) so that the demo cannot swap what is in it (a
        # symlink for `data` would send the runtime's writes elsewhere); what is in it is the
        # demo's (0700).
        own_folder(lease.folder, 0, 0o711)
        for folder in (lease.home, lease.data):
            own_folder(folder, lease.uid)

    def find(self, instance_id: str) -> Lease | None:
        """The demo's lease when it holds one; never takes one."""
        if not self.active:
            return None
        uid = self._recorded_uid(instance_id)
        if uid is None or not self._holds(uid, instance_id):
            return None
        return Lease(instance_id, uid, self.root / str(uid))

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(mode=0o711, parents=True, exist_ok=True)
        os.chmod(self.root, 0o711)
        (self.root / "leases").mkdir(mode=0o700, exist_ok=True)
        self.records.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.root / "leases" / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    # -- cgroups -------------------------------------------------------------------------------

    def cgroup(self, lease: Lease, service: str, memory_mb: int, demo_mb: int) -> Path | None:
        """The service's memory cgroup (made and limited now); None where none is usable. Named
        by the demo's uid, unique on the machine while leased (instance ids are unique only
        within one DEMO_HOME)."""
        if self.cgroups is None:
            return None
        version, root = self.cgroups
        demo = root / str(lease.uid)
        leaf = demo / service
        try:
            if version == "v2":
                _enable_memory(CGROUP_FS)
                root.mkdir(exist_ok=True)
                _enable_memory(root)
                demo.mkdir(exist_ok=True)
                _enable_memory(demo)
            else:
                demo.mkdir(parents=True, exist_ok=True)
            _limit(version, demo, demo_mb)
            leaf.mkdir(exist_ok=True)
            _limit(version, leaf, memory_mb)
        except OSError as exc:
            log.warning("memory cgroup %s not usable (%s): limit not enforced", leaf, exc)
            return None
        return leaf

    def remove_cgroups(self, instance_id: str) -> None:
        """Remove the demo's cgroups (its processes are stopped by then)."""
        lease = self.find(instance_id)
        if self.cgroups is not None and lease is not None:
            _remove_tree(self.cgroups[1] / str(lease.uid), quiet=False)

    def sweep_cgroups(self) -> None:
        """Remove the cgroups no live lease holds: those of demos whose orchestrator never
        destroyed them (a DEMO_HOME deleted, a test's). A cgroup with a process in it stays
        (the kernel refuses), so this never touches a running demo."""
        if self.cgroups is None or not self.cgroups[1].is_dir():
            return
        leases = self.root / "leases"
        for demo in self.cgroups[1].iterdir():
            if not demo.is_dir():
                continue
            held = leases / f"{demo.name}.json"
            if demo.name.isdigit() and held.exists() and not self._stale(held):
                continue
            _remove_tree(demo, quiet=True)


def _enable_memory(folder: Path) -> None:
    control = folder / "cgroup.subtree_control"
    if "memory" not in control.read_text().split():
        control.write_text("+memory")


def _limit(version: str, folder: Path, mb: int) -> None:
    limit = str(mb * 1024 * 1024)
    if version == "v2":
        (folder / "memory.max").write_text(limit)
        swap = folder / "memory.swap.max"
        if swap.exists():
            swap.write_text("0")
    else:
        (folder / "memory.limit_in_bytes").write_text(limit)
        swappiness = folder / "memory.swappiness"
        if swappiness.exists():
            try:
                swappiness.write_text("0")
            except OSError:
                pass  # not allowed on some kernels; the limit still holds


def _uid_in_use(uid: int) -> bool:
    """Whether any process runs as `uid` (real, effective or saved)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("Uid:"):
                if str(uid) in line.split()[1:4]:
                    return True
                break
    return False


def _remove_tree(demo: Path, *, quiet: bool) -> None:
    """rmdir a demo's cgroup and its leaves (a cgroup folder goes with rmdir, its files too)."""
    if not demo.is_dir():
        return
    for folder in [*(p for p in demo.iterdir() if p.is_dir()), demo]:
        try:
            folder.rmdir()
        except FileNotFoundError:
            pass
        except OSError as exc:
            if not quiet:
                log.warning("cannot remove cgroup %s: %s", folder, exc)


def own_folder(path: Path, uid: int, mode: int = 0o700) -> None:
    """Make `path` a folder owned by `uid` with `mode`, never following a symlink a demo may
    have put in its place (a chown that followed one would hand it any file)."""
    try:
        path.mkdir(mode=mode)
    except FileExistsError:
        pass
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        os.fchown(fd, uid, uid)
        os.fchmod(fd, mode)
    finally:
        os.close(fd)
