"""The `local` runtime: each demo's services run as process groups on free loopback ports.

A service whose blueprint names an `entry` is a child forked by the blueprint's fork-server
(forkserver.py: a parent that has imported the stack once, so a demo answers in a fraction of a
second and shares most of its memory); any other service, or every one when the fork-server is
off (`DEMO_LOCAL_FORK_SERVER=false`) or cannot start, is started with its `command`.

Each instance has a folder `DEMO_HOME/runtime/<id>/` with `runtime.json` (pid, start time and port
of each service, written right after each spawn), `logs/<service>.log`, and `procs/<pid>.json`,
the pidfile a forked child writes as its first act. A process started with its
command carries `DEMO_ORCHESTRATOR_HOME` and `DEMO_INSTANCE_ID` in its environment instead. So
after a kill -9 of the orchestrator its processes are found again even when `runtime.json` was
never written: `ensure` adopts live ones, `owned` and `destroy` find stray ones; the fork-servers
run in sessions of their own and are adopted through their sockets. Demo processes get a minimal
environment, never the orchestrator's own (which may hold its tokens and store URL).

Sandbox (sandbox.py, when the orchestrator runs as root): each demo runs under a uid of its own,
in a private folder outside DEMO_HOME (its HOME and working directory), each service in a memory
cgroup limited to its `memory_mb`; a forked child joins the cgroup and drops to the uid after
the fork, a service started with its command runs under bubblewrap. Logs, pidfiles and
`runtime.json` stay in the runtime folder, which the demo cannot reach.

Reload in place (a service whose blueprint names a `reload_path`, see local_reload.py): new
per-demo settings (a warm-pool claim's prospect, a reset's restored data) reach the running
service without a restart; one that does not confirm within `DEMO_LOCAL_RELOAD_TIMEOUT_SECONDS`
is restarted. A reset keeps such services running and marks them for a reload (their data is
restored underneath, and the files they wrote in their folder removed); every other service is
stopped, then started again by `ensure`, as before.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any, Self

import httpx
from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from demo_orchestrator.domain.errors import NotFound, PermanentError, TemporaryError
from demo_orchestrator.providers import processes
from demo_orchestrator.providers.base import (
    Endpoint,
    Health,
    InstanceSpec,
    Outputs,
    ProviderSettings,
    RuntimeProvider,
    own_settings,
)
from demo_orchestrator.providers.forkserver_client import ForkServers, ForkServerUnavailable
from demo_orchestrator.providers.local_reload import SETTINGS_FOLDER, Reloads
from demo_orchestrator.providers.sandbox import (
    Lease,
    Sandbox,
    SandboxSettings,
    mount_namespaces,
)
from demo_orchestrator.providers.sandbox_bwrap import bwrap_command, reach_of
from demo_orchestrator.providers.sandbox_mounts import TMP
from demo_orchestrator.settings import Settings

log = logging.getLogger(__name__)

MARKER = "DEMO_ORCHESTRATOR_HOME"
# In a demo's folder, what is the runtime's own (a reset removes everything else).
OURS = {"runtime.json", "logs", processes.PIDFILES, SETTINGS_FOLDER}


class LocalSettings(SandboxSettings):
    """The runtime's settings, the sandbox's (`DEMO_SANDBOX_*`) among them."""

    model_config = SettingsConfigDict(env_prefix="DEMO_LOCAL_")

    stop_grace_seconds: float = Field(
        default=3.0,
        ge=0,
        # Documented before providers had their own settings; documented names never change.
        validation_alias=AliasChoices("DEMO_STOP_GRACE_SECONDS"),
        description="SIGTERM to SIGKILL grace when stopping a demo's processes (s); a few "
        "seconds lets services flush and close their connections.",
    )
    fork_server: bool = Field(
        default=True,
        description="Start services whose blueprint names an `entry` as children forked from a "
        "parent that has imported them (fast, shared memory); false starts every service with "
        "its `command`.",
    )
    post_fork_hook: str = Field(
        default="",
        pattern=r"^([\w./-]+:[A-Za-z_]\w*)?$",
        description="`module:callable` (or `/path/file.py:callable`) run in each forked child "
        "before it serves, given the child (instance, service, port, folder, env): the place to "
        "drop to a demo's own uid or join its cgroup without an exec; none by default.",
    )
    reload_timeout_seconds: float = Field(
        default=2.0,
        gt=0,
        description="How long a service that opted in to reloads (`reload_path`) has to confirm "
        "new settings in place before it is restarted instead (s); a reload takes milliseconds, "
        "a restart about a second.",
    )


class LocalRuntime(RuntimeProvider):
    name = "local"
    settings_model = LocalSettings

    def __init__(
        self,
        *,
        home: Path,
        stop_grace: float = 3.0,
        fork_server: bool = True,
        post_fork_hook: str = "",
        reload_timeout: float = 2.0,
        sandbox: SandboxSettings | None = None,
    ) -> None:
        self.home = home.resolve()
        self.root = self.home / "runtime"
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        self.sandbox = Sandbox(self.home, sandbox)
        self.sandbox.sweep_cgroups()  # those of demos nobody destroyed
        note = self.sandbox.describe()
        log.log(logging.INFO if note.startswith("sandbox on") else logging.WARNING, "%s", note)
        self.stop_grace = stop_grace
        self.fork_server = fork_server
        self.reload_timeout = reload_timeout
        self.forks = ForkServers(self.home, hook=post_fork_hook, marker=(MARKER, str(self.home)))
        self._children: dict[int, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()
        self._http = httpx.Client(timeout=httpx.Timeout(2.0, connect=0.5), trust_env=False)
        self.reloads = Reloads(self.root, self._http, reload_timeout, private=self._private)

    @classmethod
    def from_settings(cls, settings: Settings, own: ProviderSettings | None = None) -> Self:
        local = own_settings(cls.name, LocalSettings, own)
        runtime = cls(
            home=settings.home,
            stop_grace=local.stop_grace_seconds,
            fork_server=local.fork_server,
            post_fork_hook=local.post_fork_hook,
            reload_timeout=local.reload_timeout_seconds,
            sandbox=local,
        )
        runtime.probe_timeout = settings.probe_timeout_seconds
        return runtime

    # -- protocol ------------------------------------------------------------------------------

    def ensure(self, *, spec: InstanceSpec) -> Outputs:
        folder = self.root / spec.instance_id
        new = not folder.exists()  # then no process of it can exist: each is made after this
        (folder / "logs").mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
        lease = self.sandbox.lease(spec.instance_id)
        state = self._read_state(spec.instance_id)
        wanted = [s.name for s in spec.blueprint.services]
        # Processes started with another environment (a warm-pool demo given its prospect), or
        # marked by a reset, reload in place when they opted in and start again otherwise; the
        # same environment after a crash is adopted as it runs.
        digest = hashlib.sha256(json.dumps(sorted(spec.env.items())).encode()).hexdigest()[:16]
        if (
            state
            and set(state) == set(wanted)
            and all(
                self._alive(s) and s.get("env") == digest and not s.get("reset")
                for s in state.values()
            )
        ):
            return Outputs(state={"services": state}, message="adopted running processes")
        kept, reloaded = self._keep_or_reload(spec, folder, state, digest)
        if len(kept) == len(wanted):
            kept = {name: kept[name] for name in wanted}
            self._write_state(spec.instance_id, kept)
            return Outputs(
                state={"services": kept},
                message=f"reloaded {reloaded} service(s) in place" if reloaded else "adopted",
            )
        forked_by, why_not = self._fork_server_for(spec)  # NotReady while it starts
        private_views = mount_namespaces()  # else forked demos keep the machine's view
        if not new:
            keep = {int(s["pid"]) for s in kept.values()}
            self._stop(spec.instance_id, {n: s for n, s in state.items() if n not in kept}, keep)
        services: dict[str, dict[str, Any]] = dict(kept)
        for service in spec.blueprint.services:
            if service.name in kept:
                continue
            port = processes.free_port()
            env = self._env(spec, port, folder, service.env)
            cgroup = (
                self.sandbox.cgroup(
                    lease,
                    service.name,
                    service.memory_mb,
                    sum(s.memory_mb for s in spec.blueprint.services),
                )
                if lease
                else None
            )
            version = None
            if service.reload_path:
                env = self.reloads.environment(spec.instance_id, service.name, env)
                version = self.reloads.write(spec.instance_id, service.name, env, digest)
            log_path = folder / "logs" / f"{service.name}.log"
            if service.entry and forked_by:
                spawned = self.forks.spawn(
                    forked_by,
                    entry=service.entry,
                    instance_id=spec.instance_id,
                    service=service.name,
                    port=port,
                    env=env,
                    folder=folder,
                    log=log_path,
                    uid=lease.uid if lease else None,
                    cgroup=cgroup,
                    workdir=lease.home if lease else None,
                    reach=self._reach(spec) if lease and private_views else None,
                    cover=[self.home, Path(TMP)] if lease and private_views else None,
                )
                pid, started, via = spawned.pid, spawned.started, "fork"
            else:
                if service.entry and why_not:
                    with log_path.open("a") as log:
                        log.write(f"fork-server unavailable ({why_not}): started by command\n")
                command = spec.fill(service.command, port=port)
                if lease is not None:
                    reach, cover = self._reach(spec), [self.home]
                    command = bwrap_command(command, lease, cgroup, reach=reach, cover=cover)
                cwd = lease.home if lease else folder  # bwrap moves there itself too
                pid = self._start(service.name, command, env, log_path, cwd)
                started, via = processes.start_time(pid), "command"
            services[service.name] = {
                "pid": pid,
                "started": started,
                "port": port,
                "routes": list(service.routes),
                "health_path": service.health_path,
                "via": via,
                "env": digest,
                "reload_path": service.reload_path,
                "settings": version,
                "uid": lease.uid if lease else None,
                "cgroup": str(cgroup) if cgroup else None,
            }
            self._write_state(spec.instance_id, services)
        services = {name: services[name] for name in wanted}
        self._write_state(spec.instance_id, services)
        forked = sum(1 for n, s in services.items() if s["via"] == "fork" and n not in kept)
        note = f" ({forked} forked)" if forked else ""
        note += f", {reloaded} reloaded in place" if reloaded else ""
        note += f", {len(kept) - reloaded} kept running" if len(kept) > reloaded else ""
        note += f"; fork-server unavailable: {why_not}" if why_not else ""
        return Outputs(
            state={"services": services},
            message=f"started {len(wanted) - len(kept)} process(es){note}",
        )

    def reset(self, *, instance_id: str) -> None:
        """Back to pristine without a restart where the services allow it: those that opted in
        to reloads keep running, marked so that the `ensure` after the data services' reset
        reloads them (their data is restored underneath by then); the others stop, as on
        destroy, and `ensure` starts them again."""
        state = self._read_state(instance_id)
        marked = {
            name: {**service, "reset": True}
            for name, service in state.items()
            if service.get("reload_path") and self._alive(service)
        }
        if not marked:
            self.destroy(instance_id=instance_id)
            return
        keep = {int(s["pid"]) for s in marked.values()}
        self._stop(instance_id, {n: s for n, s in state.items() if n not in marked}, keep)
        self._write_state(instance_id, marked)
        # What the demo wrote in its folder (its HOME and working directory) is data: gone too.
        # Sandboxed, that is its private home; the runtime folder was its home before (a demo
        # still running from then), so both are cleared.
        lease = self.sandbox.find(instance_id)
        folder = self.root / instance_id
        for written in [folder, *([lease.home] if lease else [])]:
            for path in written.iterdir():
                if written == folder and path.name in OURS:
                    continue
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)

    def _keep_or_reload(
        self,
        spec: InstanceSpec,
        folder: Path,
        state: dict[str, dict[str, Any]],
        digest: str,
    ) -> tuple[dict[str, dict[str, Any]], int]:
        """The running services that stay (as they are, or reloaded with the new settings),
        and how many were reloaded; any other service is (re)started by the caller."""
        kept: dict[str, dict[str, Any]] = {}
        reloaded = 0
        for service in spec.blueprint.services:
            current = state.get(service.name)
            if current is None or not self._alive(current):
                continue
            if current.get("env") == digest and not current.get("reset"):
                kept[service.name] = current
                continue
            if not service.reload_path or current.get("reload_path") != service.reload_path:
                continue
            version, why_not = self._reload(spec, service.name, service.env, current, digest)
            if version is None:
                with (folder / "logs" / f"{service.name}.log").open("a") as log:
                    log.write(f"reload not confirmed ({why_not}): restarting\n")
                continue
            entry = {k: v for k, v in current.items() if k != "reset"}
            kept[service.name] = {**entry, "env": digest, "settings": version}
            reloaded += 1
        return kept, reloaded

    def _reload(
        self,
        spec: InstanceSpec,
        name: str,
        extra: dict[str, str],
        current: dict[str, Any],
        digest: str,
    ) -> tuple[str | None, str]:
        """Rewrite the service's settings and ask it to apply them: (the version it confirmed,
        or None; why not)."""
        port = int(current["port"])
        env = self._env(spec, port, self.root / spec.instance_id, extra)
        env = self.reloads.environment(spec.instance_id, name, env)
        version = self.reloads.write(spec.instance_id, name, env, digest)
        why_not = self.reloads.ask(
            port=port,
            path=str(current["reload_path"]),
            token=env["DEMO_RELOAD_TOKEN"],
            version=version,
        )
        return (None, why_not) if why_not else (version, "")

    def _fork_server_for(self, spec: InstanceSpec) -> tuple[str | None, str]:
        """(key of the blueprint's ready fork-server, or None; why there is none, if it failed)."""
        if not self.fork_server or not any(s.entry for s in spec.blueprint.services):
            return None, ""
        try:
            return self.forks.prepare(spec.blueprint), ""
        except ForkServerUnavailable as exc:
            return None, exc.detail

    def _start(
        self, name: str, command: list[str], env: dict[str, str], log_path: Path, cwd: Path
    ) -> int:
        """Start a service with its (filled, perhaps sandboxed) command; its pid."""
        try:
            with log_path.open("ab") as log:
                child = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=cwd,
                    start_new_session=True,
                    close_fds=True,
                )
        except OSError as exc:
            raise PermanentError(
                f"service {name}: cannot start {command[0]!r}: {exc.strerror}"
            ) from exc
        with self._lock:
            self._children[child.pid] = child
        return child.pid

    def destroy(self, *, instance_id: str) -> None:
        self._stop(instance_id, self._read_state(instance_id))
        self.sandbox.remove_cgroups(instance_id)
        lease = self.sandbox.find(instance_id)
        if lease is not None:
            shutil.rmtree(lease.home, ignore_errors=True)
            shutil.rmtree(lease.folder / SETTINGS_FOLDER, ignore_errors=True)
            self.sandbox.release_if_unused(instance_id)  # kept while its database lives
        shutil.rmtree(self.root / instance_id, ignore_errors=True)

    # How long a probe waits for a health path (s); `from_settings` sets DEMO_PROBE_TIMEOUT_SECONDS.
    probe_timeout = 2.0

    def probe(self, *, instance_id: str) -> Health:
        """Health over HTTP, not a pid: every process runs and answers its health path within
        `probe_timeout` (a process that is alive but hung fails this)."""
        state = self._read_state(instance_id)
        dead = self._not_running(state)
        if dead is not None:
            return dead
        for name, service in state.items():
            if not self._probe_answers(service):
                return Health(
                    False,
                    f"service {name} does not answer {service['health_path']} "
                    f"within {self.probe_timeout:g} s",
                )
        return Health(True, "all services answer")

    def stop_unanswering(self, *, instance_id: str) -> list[str]:
        """Stop (TERM, then KILL after the grace; a stopped process too) each service that runs
        but does not answer its health path; `ensure` starts them again."""
        state = self._read_state(instance_id)
        hung = {
            name: service
            for name, service in state.items()
            if self._alive(service) and not self._probe_answers(service)
        }
        if hung:
            keep = {int(s["pid"]) for n, s in state.items() if n not in hung}
            self._stop(instance_id, hung, keep)
        return sorted(hung)

    def _probe_answers(self, service: dict[str, Any]) -> bool:
        url = f"http://127.0.0.1:{service['port']}{service['health_path']}"
        timeout = httpx.Timeout(self.probe_timeout, connect=min(0.5, self.probe_timeout))
        try:
            return self._http.get(url, timeout=timeout).status_code == 200
        except httpx.HTTPError:
            return False

    def alive(self, *, instance_id: str) -> Health:
        return self._not_running(self._read_state(instance_id)) or Health(True, "all processes run")

    def _not_running(self, state: dict[str, dict[str, Any]]) -> Health | None:
        """Why the recorded processes are not all running, or None when they are."""
        if not state:
            return Health(False, "no processes are recorded")
        for name, service in state.items():
            if not self._alive(service):
                return Health(False, f"service {name} is not running")
        return None

    def check_ready(self, *, instance_id: str) -> Health:
        state = self._read_state(instance_id)
        if not state:
            raise TemporaryError("no processes are recorded for this demo; deploying again")
        waiting = []
        for name, service in state.items():
            if not self._alive(service):
                tail = self.logs(instance_id=instance_id, service=name, tail=3).strip()
                last = tail.splitlines()[-1][:300] if tail else "no output"
                raise TemporaryError(f"service {name} exited during start-up ({last})")
            if not self._answers(service):
                waiting.append(name)
        if waiting:
            return Health(False, f"waiting for {', '.join(sorted(waiting))} to answer")
        return Health(True, "all services answer")

    def owned(self) -> set[str]:
        ids = {p.name for p in self.root.iterdir() if p.is_dir()}
        ids.update(processes.marked_processes(MARKER, str(self.home)).values())
        ids.update(processes.pidfile_processes(self.root).values())
        ids.update(self.sandbox.runtime_held())  # a lease whose demo the store forgot
        return ids

    def endpoint(self, *, instance_id: str, state: dict[str, Any], route: str) -> Endpoint | None:
        for service in state.get("services", {}).values():
            if route in service.get("routes", []):
                return Endpoint(host="127.0.0.1", port=int(service["port"]))
        return None

    def logs(self, *, instance_id: str, service: str, tail: int) -> str:
        folder = self.root / instance_id / "logs"
        path = folder / f"{service}.log"
        if not path.is_file():
            known = sorted(p.stem for p in folder.glob("*.log")) if folder.is_dir() else []
            raise NotFound(
                f"no logs for service {service!r} of {instance_id}; services with logs: "
                f"{', '.join(known) or 'none (is the demo running?)'}"
            )
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 256 * 1024))
            lines = handle.read().decode("utf-8", "replace").splitlines()
        return "\n".join(lines[-tail:]) + ("\n" if lines else "")

    def close(self) -> None:
        self._http.close()
        self.forks.close()

    # -- internals -----------------------------------------------------------------------------

    def _env(
        self, spec: InstanceSpec, port: int, folder: Path, extra: dict[str, str]
    ) -> dict[str, str]:
        env = processes.minimal_env()
        env.update(extra)
        env.update(spec.env)
        lease = self.sandbox.find(spec.instance_id)
        env.update(
            {
                "HOME": str(lease.home if lease else folder),
                "PORT": str(port),
                "PYTHONUNBUFFERED": "1",
                "DEMO_INSTANCE_ID": spec.instance_id,
                MARKER: str(self.home),
            }
        )
        return env

    @staticmethod
    def _reach(spec: InstanceSpec) -> list[Path]:
        return reach_of(Path(spec.blueprint.source or ".").resolve().parent)

    def _private(self, instance_id: str) -> Lease | None:
        return self.sandbox.find(instance_id)

    def _alive(self, service: dict[str, Any]) -> bool:
        pid = int(service["pid"])
        with self._lock:
            child = self._children.get(pid)
        if child is not None and child.poll() is not None:
            return False
        return processes.is_alive(pid, service.get("started"))

    def _answers(self, service: dict[str, Any]) -> bool:
        url = f"http://127.0.0.1:{service['port']}{service['health_path']}"
        try:
            return self._http.get(url).status_code == 200
        except httpx.HTTPError:
            return False

    def _stop(
        self, instance_id: str, state: dict[str, dict[str, Any]], keep: set[int] | None = None
    ) -> None:
        """Stop the processes of `state` and any stray of the instance, except those in `keep`."""
        pids = {int(s["pid"]) for s in state.values() if self._alive(s)}
        strays = processes.marked_processes(MARKER, str(self.home))
        pids.update(pid for pid, owner in strays.items() if owner == instance_id)
        pids.update(processes.pidfile_processes(self.root, instance_id))
        # A kept service is its whole process group (bwrap and the service inside it).
        pids = processes.outside_groups(pids, keep or set())
        if pids:
            processes.stop_groups(pids, grace=self.stop_grace, spare=self.forks.server_pids())
        if (self.root / instance_id).is_dir():
            processes.prune_pidfiles(self.root / instance_id)
        with self._lock:
            for pid in list(self._children):
                if self._children[pid].poll() is not None:
                    del self._children[pid]

    def _state_path(self, instance_id: str) -> Path:
        return self.root / instance_id / "runtime.json"

    def _read_state(self, instance_id: str) -> dict[str, dict[str, Any]]:
        try:
            data: dict[str, dict[str, Any]] = json.loads(self._state_path(instance_id).read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}
        return data

    def _write_state(self, instance_id: str, state: dict[str, dict[str, Any]]) -> None:
        path = self._state_path(instance_id)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        os.replace(tmp, path)
