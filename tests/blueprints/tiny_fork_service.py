"""The tiny fork blueprint's forked service: `serve(port, environ)` is its entry point, run in a
child of the local runtime's fork-server; run as a script (`--port`), it is its own fallback.

Besides the seeded items it shows what the fork-server tests look at: its pid and parent, where
`preload` ran, whether the post-fork hook ran before `serve` was called, its environment's names,
two random draws (the `random` module and a `random.Random` made at import, in the parent), and a
value kept in its memory (`POST /state`); `POST /crash` aborts it (SIGABRT).

It reloads in place (the blueprint's `reload_path`): `POST /__demo/reload` with its token re-reads
the settings file and answers the version it now serves from (`GET /settings` shows them), unless
the new settings carry `DEMO_TEST_REFUSE_RELOAD` (it answers 500) or `DEMO_TEST_HANG_RELOAD` (it
never answers): the runtime restarts it.
"""

from __future__ import annotations

import argparse
import hmac
import json
import os
import random
import sqlite3
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RNG = random.Random()  # made in the parent: the same state in every child unless re-seeded
PRELOADED_IN: list[int] = []
STATE: dict[str, str] = {}
KEPT: list[object] = []


def preload() -> None:
    PRELOADED_IN.append(os.getpid())


def preload_leaving_a_thread() -> None:
    """A preload the fork-server must refuse: a fork copies only the calling thread."""
    threading.Thread(target=threading.Event().wait, name="left-running", daemon=True).start()


def preload_leaving_a_file_open() -> None:
    """A preload the fork-server must refuse: every child would share the open file."""
    KEPT.append(open(os.devnull, "rb"))  # noqa: SIM115 - kept open on purpose


def serve(port: int, environ: dict[str, str]) -> None:
    hooked = os.environ.get("DEMO_TEST_HOOKED_PID")  # set by the test hook, if it ran first
    if environ.get("DEMO_SCENARIO") == "broken":
        print("broken scenario: refusing to start", flush=True)
        sys.exit(3)
    current = dict(environ)  # what it serves from; a reload replaces it
    version = [""]
    path = environ.get("DEMO_SETTINGS_FILE")
    if path and os.path.exists(path):
        with open(path) as handle:
            loaded = json.load(handle)
        current, version[0] = dict(loaded["env"]), loaded["version"]

    def reload(authorization: str) -> tuple[int, dict[str, object]]:
        token = current.get("DEMO_RELOAD_TOKEN", "")
        if not token or not hmac.compare_digest(authorization, f"Bearer {token}"):
            return 403, {"detail": "wrong token"}
        with open(current["DEMO_SETTINGS_FILE"]) as handle:
            loaded = json.load(handle)
        if "DEMO_TEST_REFUSE_RELOAD" in loaded["env"]:
            return 500, {"detail": "refused, as the test asked"}
        if "DEMO_TEST_HANG_RELOAD" in loaded["env"]:
            time.sleep(60)  # never answers in time
        current.clear()
        current.update(loaded["env"])
        version[0] = loaded["version"]
        return 200, {"version": version[0], "pid": os.getpid()}

    def items() -> list[dict[str, object]]:
        db = sqlite3.connect(current["DATABASE_URL"].removeprefix("sqlite:///"))
        try:
            rows = db.execute("SELECT id, name FROM items ORDER BY id")
            return [{"id": r[0], "name": r[1]} for r in rows]
        finally:
            db.close()

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
            if self.path.startswith("/api/items"):
                rows = items()
                instance = current.get("DEMO_INSTANCE_ID")
                return self._send(200, {"items": rows, "total": len(rows), "instance": instance})
            if self.path == "/whoami":
                return self._send(
                    200,
                    {
                        "pid": os.getpid(),
                        "ppid": os.getppid(),
                        "preloaded_in": PRELOADED_IN,
                        "hooked_before_serve": hooked,
                        "environ": sorted(os.environ),
                        "random": random.random(),
                        "rng": RNG.random(),
                        "state": STATE,
                    },
                )
            if self.path == "/settings":
                keys = ("DEMO_PROSPECT_COMPANY", "DEMO_LOGIN_SECRET", "DEMO_URL_PORTAL")
                shown = {k: current.get(k) for k in keys}
                return self._send(200, {"version": version[0], "pid": os.getpid(), **shown})
            self._send(404, {})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length) or b"{}")
            if self.path == "/__demo/reload":
                return self._send(*reload(self.headers.get("Authorization", "")))
            if self.path == "/state":
                STATE.update(body)
                return self._send(200, STATE)
            if self.path == "/items":
                db = sqlite3.connect(current["DATABASE_URL"].removeprefix("sqlite:///"))
                db.execute("INSERT INTO items (name) VALUES (?)", (body.get("name", "new"),))
                db.commit()
                db.close()
                return self._send(201, body)
            if self.path == "/crash":
                os.abort()  # SIGABRT in this very thread: the process is gone before any reply
            self._send(404, {})

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    serve(parser.parse_args().port, dict(os.environ))
