"""The fork-server: a long-lived parent that imports a blueprint's services once and forks one
child per demo service.

Why: a fresh interpreter takes ~0.5 s to import the reference stack and owns every page it
touches (~35 MB); a child forked from a parent that has already imported it answers in a fraction
of that and shares the parent's pages copy-on-write. For that the parent holds nothing alive: no
thread (a fork copies only the calling one, and a lock held by another stays held forever), no
event loop, connection or open database (two processes would share it). It checks this after the
blueprint's `preload` ran, freezes the garbage collector before every fork (so collections in a
child never write to the shared pages), and serves the JSON-lines protocol of
forkserver_protocol.py on `DEMO_HOME/forkservers/<key>/control.sock` (mode 0600; a peer of
another uid is refused). It runs in its own session, so it outlives a crash of the orchestrator
(the next one adopts it through the same socket); it reaps its children as they exit; after
`retire` (a newer code version took over), or when its socket is replaced or gone, it exits once
its last child has. Each child is made a demo by forkserver_child.py (and, as root, confined:
its cgroup, its own mount view, the demo's uid). On start it scrubs its own environment to an
allow-list, since every child begins as a copy of it.

Started by forkserver_client.py as `python -m demo_orchestrator.providers.forkserver --folder F
--key K --blueprint B --blueprint-dir D --entry E... [--preload P...] [--hook H]`. It imports
only the standard library and what the blueprint (and the hook) name, which every child inherits.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import importlib
import importlib.util
import json
import os
import random
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from demo_orchestrator.providers import forkserver_protocol as protocol
from demo_orchestrator.providers import processes
from demo_orchestrator.providers.forkserver_child import (
    Entry,
    ForkedChild,
    Hook,
    become,
    no_hook,
)

REQUEST_TIMEOUT_SECONDS = 10  # a request is a line of JSON from a process on this machine
LOOP_SECONDS = 1.0  # how often an idle server looks at its socket and its retirement


def resolve(spec: str, base: Path) -> Callable[..., Any]:
    """The callable `module:attr` or `file.py:attr` (relative to `base`) names, imported now."""
    where, _, attr = spec.partition(":")
    if where.endswith(".py"):
        path = (base / where).resolve()
        name = f"demo_entry_{path.stem}_{hashlib.sha256(str(path).encode()).hexdigest()[:8]}"
        module = sys.modules.get(name)
        if module is None:
            found = importlib.util.spec_from_file_location(name, path)
            if found is None or found.loader is None:
                raise ImportError(f"cannot load {path}")
            module = importlib.util.module_from_spec(found)
            sys.modules[name] = module
            found.loader.exec_module(module)
    else:
        module = importlib.import_module(where)
    target: Any = module
    for part in attr.split("."):
        target = getattr(target, part)
    if not callable(target):
        raise TypeError(f"{spec} is not callable")
    return target  # type: ignore[no-any-return]


class ForkServer:
    def __init__(
        self,
        folder: Path,
        *,
        key: str,
        blueprint: str,
        entries: dict[str, Entry],
        hook: Hook,
    ) -> None:
        self.folder = folder
        self.key = key
        self.blueprint = blueprint
        self.entries = entries
        self.hook = hook
        self.children: dict[int, ForkedChild] = {}
        self.notes: list[str] = []
        self.retiring = False
        self.randoms = [o for o in gc.get_objects() if isinstance(o, random.Random)]
        self.listener: socket.socket | None = None
        self.inode = 0

    def serve(self) -> int:
        signal.signal(signal.SIGCHLD, lambda *_: self.reap())
        path = self.folder / protocol.SOCKET
        self.listener = protocol.listen(path)
        self.listener.settimeout(LOOP_SECONDS)
        self.inode = path.stat().st_ino
        started = processes.start_time(os.getpid())
        info = {"pid": os.getpid(), "started": started, "key": self.key}
        tmp = self.folder / f".{protocol.INFO}.{os.getpid()}"
        tmp.write_text(json.dumps({**info, "blueprint": self.blueprint}))
        os.replace(tmp, self.folder / protocol.INFO)
        _say(f"ready: pid {os.getpid()}, entries {sorted(self.entries)}")
        while not (self.retiring and not self.children):
            self.reap()
            self._write_notes()
            self._look_at_socket(path)
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(REQUEST_TIMEOUT_SECONDS)
                try:
                    self._handle(conn)
                except OSError as exc:
                    _say(f"request failed: {exc}")
        self._write_notes()
        _say("retired: no child left")
        if self._socket_is_ours(path):
            path.unlink(missing_ok=True)
        return 0

    def reap(self) -> None:
        """Collect every child that exited (also run as the SIGCHLD handler, which may interrupt
        a print: so it only notes what happened, and the loop writes the notes)."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            child = self.children.pop(pid, None)
            what = f"{child.instance_id}/{child.service}" if child else "unknown"
            self.notes.append(f"child {pid} ({what}) exited: {_status(status)}")

    def _write_notes(self) -> None:
        notes, self.notes = self.notes, []
        for note in notes:
            _say(note)

    def _look_at_socket(self, path: Path) -> None:
        if not self.retiring and not self._socket_is_ours(path):
            _say("socket replaced or removed: retiring")
            self.retiring = True

    def _socket_is_ours(self, path: Path) -> bool:
        try:
            return path.stat().st_ino == self.inode
        except OSError:
            return False

    def _handle(self, conn: socket.socket) -> None:
        if protocol.peer_uid(conn) != os.getuid():
            protocol.send(conn, {"ok": False, "error": "refused: another user"})
            return
        try:
            message = protocol.receive(conn)
        except protocol.ProtocolError as exc:
            protocol.send(conn, {"ok": False, "error": str(exc)})
            return
        op = message.get("op")
        if op == "hello":
            answer = {
                "ok": True,
                "pid": os.getpid(),
                "started": processes.start_time(os.getpid()),
                "key": self.key,
                "blueprint": self.blueprint,
                "children": len(self.children),
                "retiring": self.retiring,
            }
        elif op == "spawn":
            answer = self._spawn(message, conn)
        elif op == "retire":
            self.retiring = True
            answer = {"ok": True, "children": len(self.children)}
        else:
            answer = {"ok": False, "error": f"unknown op {op!r}"}
        protocol.send(conn, answer)

    def _spawn(self, message: dict[str, Any], conn: socket.socket) -> dict[str, Any]:
        entry = self.entries.get(str(message.get("entry")))
        if entry is None:
            return {"ok": False, "error": f"no entry {message.get('entry')!r} preloaded here"}
        try:
            child = ForkedChild(
                instance_id=str(message["instance"]),
                service=str(message["service"]),
                port=int(message["port"]),
                folder=Path(message["folder"]),
                log=Path(message["log"]),
                env={str(k): str(v) for k, v in dict(message["env"]).items()},
                uid=int(message["uid"]) if message.get("uid") is not None else None,
                cgroup=Path(message["cgroup"]) if message.get("cgroup") else None,
                workdir=Path(message["workdir"]) if message.get("workdir") else None,
                reach=tuple(str(p) for p in message.get("reach") or ()),
                cover=tuple(str(p) for p in message.get("cover") or ()),
            )
        except (KeyError, TypeError, ValueError) as exc:
            return {"ok": False, "error": f"bad spawn request: {exc!r}"}
        if self.retiring:
            return {"ok": False, "error": "retiring: a newer fork-server took over"}
        try:
            pid = self._fork(child, entry, conn)
        except OSError as exc:
            return {"ok": False, "error": f"cannot fork: {exc}"}
        _say(f"child {pid} ({child.instance_id}/{child.service}) on port {child.port}")
        return {"ok": True, "pid": pid, "started": processes.start_time(pid)}

    def _fork(self, child: ForkedChild, entry: Entry, conn: socket.socket) -> int:
        """Fork `child`, in a process group of its own before anyone learns its pid."""
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        gc.freeze()  # what the parent made since the last fork joins the shared, unscanned set
        # SIGCHLD waits until the child is registered: a child that dies at once is then reaped
        # and forgotten, rather than reaped first and registered forever after.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
        try:
            pid = os.fork()
        except OSError:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
            raise
        if pid == 0:
            try:
                conn.close()
                if self.listener is not None:
                    self.listener.close()
                become(child, entry=entry, hook=self.hook, randoms=self.randoms)
            finally:
                os._exit(1)
        try:
            os.setpgid(pid, pid)  # the child does the same; whichever runs first wins the race
        except OSError:
            pass  # it did already and moved on (EACCES), or it is gone (ESRCH)
        self.children[pid] = child
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        return pid


def _open_files() -> list[str]:
    """What is open beyond stdin, stdout and stderr (a database, a socket): every child would
    share it with the parent and with every other child."""
    found = []
    for name in os.listdir("/proc/self/fd"):
        if int(name) > 2:
            try:
                found.append(f"{name} -> {os.readlink(f'/proc/self/fd/{name}')}")
            except OSError:
                pass  # the listing's own descriptor, closed by now
    return found


def _status(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"


def _say(line: str) -> None:
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} forkserver {os.getpid()}: {line}", flush=True)


def scrub_environment() -> None:
    """Keep only the allow-listed variables in our own environment: every child starts as a
    copy of this process, so nothing of the orchestrator's (tokens, store URL) may be in it,
    whoever started us. (`/proc/<pid>/environ` shows the environment at exec, which the client
    already narrows to the same list.)"""
    allowed = set(processes.PASSED_THROUGH) | {
        "PYTHONUNBUFFERED",
        "DEMO_FORKSERVER",
        "DEMO_ORCHESTRATOR_HOME",
    }
    for name in list(os.environ):
        if name not in allowed:
            del os.environ[name]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="forkserver", description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--blueprint", required=True)
    parser.add_argument("--blueprint-dir", type=Path, default=Path("."))
    parser.add_argument("--entry", action="append", default=[])
    parser.add_argument("--preload", action="append", default=[])
    parser.add_argument("--hook", default="")
    args = parser.parse_args(argv)
    scrub_environment()
    started = time.monotonic()
    entries = {spec: resolve(spec, args.blueprint_dir) for spec in args.entry}
    hook = resolve(args.hook, args.blueprint_dir) if args.hook else no_hook
    for spec in args.preload:
        resolve(spec, args.blueprint_dir)()
    alive = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
    if alive:
        _say(f"refusing to fork: preload left threads running: {alive}")
        return 3
    if left_open := _open_files():
        _say(f"refusing to fork: preload left files or connections open: {left_open}")
        return 3
    gc.collect()
    _say(f"imported {sorted(entries)} in {time.monotonic() - started:.2f} s")
    server = ForkServer(
        args.folder, key=args.key, blueprint=args.blueprint, entries=entries, hook=hook
    )
    return server.serve()


if __name__ == "__main__":
    sys.exit(main())
