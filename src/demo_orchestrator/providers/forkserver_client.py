"""The local runtime's side of the fork-servers (forkserver.py): one per blueprint and code
version, under `DEMO_HOME/forkservers/<key>/`, started on first use, adopted when a previous
orchestrator left one running, started again when it died, and asked to spawn.

The key digests what the parent holds: the blueprint's entry points and preloads, the post-fork
hook, the interpreter and the files of the code they name (size and modification time, looked at
again every few seconds), so an edited stack gets a new fork-server and the one it replaces is
told to retire (it exits once its last demo has).

Nothing here waits: a fork-server still importing raises `NotReady` (the engine asks again); one
that could not start raises `ForkServerUnavailable`, and the runtime starts the service with its
command instead, trying the fork-server again `RETRY_START_SECONDS` later.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from demo_orchestrator.domain.blueprint import Blueprint
from demo_orchestrator.domain.errors import NotReady, TemporaryError
from demo_orchestrator.providers import forkserver_protocol as protocol
from demo_orchestrator.providers import processes

FOLDER = "forkservers"
MARK = "DEMO_FORKSERVER"  # in a fork-server's environment (and so in its children's /proc view)
START_TIMEOUT_SECONDS = 60.0  # importing the stack takes about a second; a hung import, not this
RETRY_START_SECONDS = 30.0
KEY_TTL_SECONDS = 5.0
HELLO_TIMEOUT_SECONDS = 2.0
SPAWN_TIMEOUT_SECONDS = 15.0
_OWN_CODE = [
    Path(__file__).with_name(n)
    for n in (
        "forkserver.py",
        "forkserver_child.py",
        "forkserver_protocol.py",
        "processes.py",
        "sandbox_mounts.py",
    )
]


class ForkServerUnavailable(Exception):
    """The fork-server of a blueprint could not start; `detail` says why (its log's last line)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class Spawned:
    pid: int
    started: int | None
    key: str


@dataclass
class _Started:
    """A fork-server this orchestrator started (kept to reap it and to time its start)."""

    proc: subprocess.Popen[bytes]
    since: float
    ready: bool = False
    silent_since: float | None = None


class ForkServers:
    def __init__(self, home: Path, *, hook: str = "", marker: tuple[str, str]) -> None:
        self.root = home / FOLDER
        self.hook = hook
        self.marker = marker
        self._lock = threading.Lock()
        self._started: dict[str, _Started] = {}
        self._failed: dict[str, tuple[float, str]] = {}
        self._keys: dict[str, tuple[float, str]] = {}

    def key(self, blueprint: Blueprint) -> str:
        now = time.monotonic()
        cached = self._keys.get(blueprint.name)
        if cached is not None and now - cached[0] < KEY_TTL_SECONDS:
            return cached[1]
        base = _base(blueprint)
        specs = [s for svc in blueprint.services for s in (svc.entry, svc.preload) if s]
        digest = hashlib.sha256(
            json.dumps(
                {
                    "blueprint": blueprint.name,
                    "services": [[s.name, s.entry, s.preload] for s in blueprint.services],
                    "hook": self.hook,
                    "python": sys.executable,
                    "path": os.environ.get("PYTHONPATH", ""),
                }
            ).encode()
        )
        for root in sorted({_code_root(spec, base) for spec in [*specs, self.hook] if spec}):
            digest.update(_stat_digest(root))
        for own in _OWN_CODE:
            digest.update(_stat_digest(own))
        key = digest.hexdigest()[:12]
        self._keys[blueprint.name] = (now, key)
        return key

    def prepare(self, blueprint: Blueprint) -> str:
        """The key of the blueprint's fork-server once it answers; `NotReady` while it starts."""
        key = self.key(blueprint)
        folder = self.root / key
        with self._lock:
            now = time.monotonic()
            started = self._started.get(key)
            hello = self._hello(folder)
            if hello is not None and hello.get("key") == key:
                if started is not None:
                    started.ready, started.silent_since = True, None
                return key
            if started is not None:
                self._still_starting(key, started, now)  # raises while it may still answer
                del self._started[key]
                if not started.ready:  # (a hung start was already noted as such)
                    detail = f"fork-server exited while starting: {_last_line(folder)}"
                    self._failed.setdefault(key, (now, detail))
            failed = self._failed.get(key)
            if failed is not None and now - failed[0] < RETRY_START_SECONDS:
                raise ForkServerUnavailable(failed[1])
            self._failed.pop(key, None)
            self._start(key, folder, blueprint)
        raise NotReady(f"starting the fork-server of {blueprint.name}", delay=0.05)

    def spawn(
        self,
        key: str,
        *,
        entry: str,
        instance_id: str,
        service: str,
        port: int,
        env: dict[str, str],
        folder: Path,
        log: Path,
        uid: int | None = None,
        cgroup: Path | None = None,
        workdir: Path | None = None,
        reach: list[Path] | None = None,
        cover: list[Path] | None = None,
    ) -> Spawned:
        message = {
            "op": "spawn",
            "entry": entry,
            "instance": instance_id,
            "service": service,
            "port": port,
            "env": env,
            "folder": str(folder),
            "log": str(log),
            "uid": uid,
            "cgroup": str(cgroup) if cgroup else None,
            "workdir": str(workdir) if workdir else None,
            "reach": [str(p) for p in reach or []],
            "cover": [str(p) for p in cover or []],
        }
        try:
            answer = protocol.request(
                self.root / key / protocol.SOCKET, message, timeout=SPAWN_TIMEOUT_SECONDS
            )
        except OSError as exc:
            raise NotReady(f"the fork-server did not answer ({exc}); starting it again") from exc
        if not answer.get("ok"):
            raise TemporaryError(f"fork-server: {answer.get('error', 'no answer')}")
        started = answer.get("started")
        return Spawned(int(answer["pid"]), int(started) if started else None, key)

    def server_pids(self) -> set[int]:
        """The live fork-servers of this DEMO_HOME, whoever started them."""
        self.reap()
        return set(self._infos())

    def reap(self) -> None:
        """Collect the fork-servers we started that exited (a retired one, say); forget those of
        other code versions (the current one's exit is looked at by `prepare`)."""
        with self._lock:
            current = set(self._keys_now())
            for key, started in list(self._started.items()):
                if started.proc.poll() is not None and key not in current:
                    del self._started[key]

    def close(self) -> None:
        """Fork-servers outlive the orchestrator (like its demos); only reap the exited ones."""
        self.reap()

    # -- internals -----------------------------------------------------------------------------

    def _keys_now(self) -> list[str]:
        return [key for _, key in self._keys.values()]

    def _hello(self, folder: Path) -> dict[str, Any] | None:
        try:
            answer = protocol.request(
                folder / protocol.SOCKET, {"op": "hello"}, timeout=HELLO_TIMEOUT_SECONDS
            )
        except OSError:
            return None
        return answer if answer.get("ok") else None

    def _still_starting(self, key: str, started: _Started, now: float) -> None:
        """Raise NotReady while a running fork-server may still answer; kill a hung one."""
        if started.proc.poll() is not None:
            return
        if started.ready:  # it answered before: busy, or hung
            started.silent_since = started.silent_since or now
            if now - started.silent_since < START_TIMEOUT_SECONDS:
                raise NotReady("the fork-server is busy", delay=0.05)
        elif now - started.since < START_TIMEOUT_SECONDS:
            raise NotReady("the fork-server is importing the stack", delay=0.05)
        started.proc.kill()
        started.proc.wait()
        if not started.ready:
            self._failed[key] = (now, f"fork-server did not answer in {START_TIMEOUT_SECONDS:g} s")

    def _start(self, key: str, folder: Path, blueprint: Blueprint) -> None:
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder.mkdir(mode=0o700, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            "demo_orchestrator.providers.forkserver",
            "--folder",
            str(folder),
            "--key",
            key,
            "--blueprint",
            blueprint.name,
            "--blueprint-dir",
            str(_base(blueprint)),
        ]
        for service in blueprint.services:
            command += ["--entry", service.entry] if service.entry else []
            command += ["--preload", service.preload] if service.preload else []
        command += ["--hook", self.hook] if self.hook else []
        env = processes.minimal_env()
        env.update({self.marker[0]: self.marker[1], MARK: key, "PYTHONUNBUFFERED": "1"})
        with (folder / protocol.LOG).open("ab") as log:
            proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=folder,
                start_new_session=True,
                close_fds=True,
            )
        self._started[key] = _Started(proc, time.monotonic())
        self._retire_others(blueprint.name, key)

    def _retire_others(self, blueprint: str, key: str) -> None:
        """Older code versions of the blueprint stop taking demos; they exit with their last."""
        for info in self._infos().values():
            if info.get("blueprint") == blueprint and info.get("key") != key:
                try:
                    protocol.request(
                        self.root / str(info["key"]) / protocol.SOCKET,
                        {"op": "retire"},
                        timeout=HELLO_TIMEOUT_SECONDS,
                    )
                except OSError:
                    pass  # gone already, or busy: it retires itself once its socket is replaced

    def _infos(self) -> dict[int, dict[str, Any]]:
        found: dict[int, dict[str, Any]] = {}
        for path in self.root.glob(f"*/{protocol.INFO}"):
            try:
                info = json.loads(path.read_text())
                pid, started = int(info["pid"]), info.get("started")
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if processes.is_alive(pid, int(started) if started else None):
                found[pid] = info
        return found


def _base(blueprint: Blueprint) -> Path:
    return Path(blueprint.source).resolve().parent if blueprint.source else Path.cwd()


def _code_root(spec: str, base: Path) -> Path:
    """The file, or the top-level package's folder, holding the code `spec` names."""
    where = spec.partition(":")[0]
    if where.endswith(".py"):
        return (base / where).resolve()
    found = importlib.util.find_spec(where.split(".")[0])  # a top-level name: imports nothing
    if found is not None and found.submodule_search_locations:
        return Path(next(iter(found.submodule_search_locations)))
    return Path(found.origin) if found is not None and found.origin else base / where


def _stat_digest(root: Path) -> bytes:
    """Names, sizes and modification times of a file or of every file under a folder."""
    digest = hashlib.sha256(str(root).encode())
    files = [root] if root.is_file() else sorted(root.rglob("*")) if root.is_dir() else []
    for path in files:
        if "__pycache__" in path.parts:
            continue
        try:
            stat = path.stat()
        except OSError:
            continue
        digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.digest()


def _last_line(folder: Path) -> str:
    try:
        lines = (folder / protocol.LOG).read_text(errors="replace").strip().splitlines()
    except OSError:
        return "no log"
    return lines[-1][:300] if lines else "no output"
