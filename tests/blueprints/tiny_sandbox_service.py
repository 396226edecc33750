"""The sandbox tests' probe: a demo service that tries, from inside a demo, what a sandboxed demo
must not do, and reports over HTTP. `serve(port, environ)` is its entry point (a child forked
by the fork-server); run as a script (`--port`) it is the same service started with its command
(under bubblewrap when sandboxed).

GET /whoami: uid, gid, groups, cwd, HOME, its cgroups. POST /try {"paths": [...]}: for each path,
whether reading (a file's first byte, a folder's listing) worked, what a folder held, and the
error if not.
POST /write {"path"}: whether a file could be made there. POST /hog {"mb"}: touch that much
memory, then answer (beyond its cgroup's limit it is killed first). POST /sqlite: a write to its
own database (DATABASE_URL), which must work.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KEPT: list[bytes] = []


def attempt(path: str) -> dict[str, object]:
    """Whether `path` could be read, and for a folder how many entries it showed (bwrap covers
    DEMO_HOME with an empty folder: listable, nothing in it)."""
    entries = None
    try:
        if os.path.isdir(path):
            entries = len(os.listdir(path))
        else:
            with open(path, "rb") as handle:
                handle.read(1)
    except OSError as exc:
        return {"read": False, "entries": None, "error": f"{type(exc).__name__}: {exc.strerror}"}
    return {"read": True, "entries": entries, "error": ""}


def write(path: str) -> dict[str, object]:
    try:
        with open(path, "w") as handle:
            handle.write("probe")
    except OSError as exc:
        return {"written": False, "error": f"{type(exc).__name__}: {exc.strerror}"}
    return {"written": True, "error": ""}


def serve(port: int, environ: dict[str, str]) -> None:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, fmt: str, *args: object) -> None:
            print(fmt % args, flush=True)

        def _send(self, code: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/healthz":
                return self._send(200, {"status": "ok"})
            if self.path == "/whoami":
                with open("/proc/self/cgroup") as handle:
                    cgroups = handle.read().splitlines()
                return self._send(
                    200,
                    {
                        "pid": os.getpid(),
                        "python": sys.version,
                        "uid": os.getuid(),
                        "euid": os.geteuid(),
                        "gid": os.getgid(),
                        "groups": os.getgroups(),
                        "cwd": os.getcwd(),
                        "home": os.environ.get("HOME"),
                        "database": environ.get("DATABASE_URL", ""),
                        "environ": sorted(os.environ),
                        "cgroups": cgroups,
                    },
                )
            self._send(404, {})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length) or b"{}")
            if self.path == "/try":
                return self._send(200, {p: attempt(p) for p in body["paths"]})
            if self.path == "/write":
                return self._send(200, write(body["path"]))
            if self.path == "/hog":
                for _ in range(int(body["mb"])):
                    KEPT.append(b"\x01" * (1024 * 1024))  # touched, so really charged
                return self._send(200, {"held_mb": len(KEPT)})
            if self.path == "/sqlite":
                db = sqlite3.connect(environ["DATABASE_URL"].removeprefix("sqlite:///"))
                try:
                    db.execute("INSERT INTO items (name) VALUES ('from the sandbox')")
                    db.commit()
                    count = db.execute("SELECT count(*) FROM items").fetchone()[0]
                finally:
                    db.close()
                return self._send(200, {"items": count})
            self._send(404, {})

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    serve(parser.parse_args().port, dict(os.environ))
